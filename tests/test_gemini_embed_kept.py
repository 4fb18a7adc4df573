"""Gemini :embedContent and :batchEmbedContents answer a repeated request from the kept
answer of llmsim.core.embeddings: keyed by the model in the path and the body, the same
bytes as a first answer, every request still planned and rate-limited; errors and
over-large answers are not kept."""

import json

import httpx
import pytest
import yaml

from llmsim.core.embeddings import ANSWER_MAX
from llmsim.errors import ApiError
from llmsim.sim.timing import Planner
from llmsim.sim.tokens import count
from openai_fakes import FakePlanner, FakeReq, sent
from provider_fakes import handlers

EMBED, BATCH = "gemini.embed_content", "gemini.batch_embed_contents"
SMALL, LARGE = b"text-embedding-004", b"gemini-embedding-001"


def content(text):
    return {"content": {"parts": [{"text": text}]}}


REQUESTS = [   # (route, model in the path, body)
    (EMBED, SMALL, content("The quick brown fox.")),
    (EMBED, LARGE, {**content("w\u00f6rld \"quoted\"\n\u2603"), "outputDimensionality": 16}),
    (EMBED, LARGE, content("The quick brown fox.")),
    (BATCH, SMALL, {"requests": [{"model": "models/text-embedding-004", **content(t)}
                                 for t in ("alpha", "beta", "alpha")]}),
    (BATCH, LARGE, {"requests": [{**content("x"), "outputDimensionality": 8}]}),
]


def handler(name, planner=FakePlanner):
    return handlers(planner=planner())[name][2]


def answer(handler, model, body, headers=None):
    """(status, header lines, body, delay) of one call."""
    body = body if isinstance(body, bytes) else json.dumps(body).encode()
    status, head, out = handler(FakeReq(b"POST", b"/v1beta/models/{model}:embedContent", body,
                                        headers, (model,)))
    return (status, head, *sent(out))


def counting(handler):
    """The (model, body) of each request `handler` sends down its general path."""
    general, seen = handler.general, []
    handler.general = lambda req: seen.append((req.params[0], req.body)) or general(req)
    return seen


@pytest.mark.parametrize("planner", [lambda: Planner({}, global_seed=7), FakePlanner],
                         ids=["planner", "fake-planner"])
def test_a_kept_answer_is_the_first_answer_byte_for_byte(planner):
    hs = handlers(planner=planner())
    general = {name: counting(hs[name][2]) for name in (EMBED, BATCH)}
    firsts = []
    for name, model, body in REQUESTS:
        h = hs[name][2]
        first = answer(h, model, body)
        assert first[0] == 200 and general[name].pop() == (model, json.dumps(body).encode())
        assert answer(h, model, body) == first and not general[name]   # kept: the same bytes
        # a fresh handler (nothing kept) says the same
        assert answer(handlers(planner=planner())[name][2], model, body) == first
        firsts.append(first)
    for (name, model, body), first in zip(REQUESTS, firsts):   # kept while others were asked
        assert answer(hs[name][2], model, body) == first
    assert not general[EMBED] and not general[BATCH]


def test_each_model_has_its_own_answer_to_the_same_body():
    h = handler(EMBED)
    general = counting(h)
    body = json.dumps(content("Hello")).encode()
    fresh = {m: answer(handler(EMBED), m, body)[2] for m in (SMALL, LARGE)}
    assert fresh[SMALL] != fresh[LARGE]
    for model in (SMALL, SMALL, LARGE, LARGE, SMALL, LARGE):
        assert answer(h, model, body)[2] == fresh[model]
    assert general == [(SMALL, body), (LARGE, body)]
    assert len(json.loads(fresh[LARGE])["embedding"]["values"]) == 3072


def test_every_request_is_planned_kept_or_not():
    planner = FakePlanner(length=1, ttft_ns=3_000_000)
    h = handlers(planner=planner)[EMBED][2]
    body = content("The quick brown fox.")
    latency = {b"x-llmsim-latency": b"ttft=30ms"}
    assert answer(h, SMALL, body)[3] == answer(h, SMALL, body, latency)[3] == 3_000_000
    n = count("The quick brown fox.")
    assert planner.calls == [("text-embedding-004", n, None, None, None),
                             ("text-embedding-004", n, None, None, b"ttft=30ms")]
    assert len(planner.admitted) == 2


@pytest.mark.parametrize("name,model,body", [
    (EMBED, SMALL, {"content": {"parts": []}}),                          # bad body
    (EMBED, SMALL, {**content("x"), "outputDimensionality": 5000}),
    (EMBED, b"embedding-nope", content("x")),                            # unknown model
    (EMBED, b"gemini-2.5-flash", content("x")),                          # not an embedder
    (BATCH, SMALL, {"requests": []}),
    (BATCH, SMALL, {"requests": [{"model": "models/gemini-embedding-001", **content("x")}]}),
])
def test_errors_are_not_kept(name, model, body):
    h = handler(name)
    general = counting(h)
    for _ in range(2):
        with pytest.raises(ApiError) as e:
            answer(h, model, body)
        assert e.value.status in (400, 404)
    assert len(general) == 2


def test_an_over_large_answer_is_answered_not_kept():
    h = handler(BATCH)
    general = counting(h)
    big = {"requests": [content(str(i)) for i in range(10)]}
    first = answer(h, LARGE, big)
    assert first[0] == 200 and len(first[2]) > ANSWER_MAX
    assert len(json.loads(first[2])["embeddings"]) == 10
    assert answer(h, LARGE, big) == first
    assert len(general) == 2          # too large to keep: made again, the same bytes


def test_kept_answers_on_the_wire_are_rate_limited(server, tmp_path):
    path = tmp_path / "limits.yaml"
    path.write_text(yaml.safe_dump({"no_latency": True,
                                    "rate_limits": {"requests_per_minute": 3}}))
    srv = server("--workers", "1", "--config", path)
    url = srv.base_url + "/v1beta/models/%s:embedContent"
    body = content("Hello")
    with httpx.Client() as client:
        got = [client.post(url % m.decode(), json=body) for m in (SMALL, LARGE, SMALL, SMALL)]
    assert [r.status_code for r in got] == [200, 200, 200, 429]
    small, large, again = (r.content for r in got[:3])
    assert again == small != large
    assert json.loads(got[3].content)["error"]["status"] == "RESOURCE_EXHAUSTED"
