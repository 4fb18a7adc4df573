"""POST /v1/embeddings, called as a handler with a fake request; the kept answers of
llmsim.core.embeddings against the general path; large answers on the wire."""

import base64
import json
import math
import re
import socket
import struct

import httpx
import pytest

from llmsim.core.embeddings import ANSWER_MAX, KEPT_MAX
from llmsim.errors import ApiError
from llmsim.sim.timing import Planner
from llmsim.sim.tokens import count
from openai_fakes import FakePlanner, FakeReq, call, handlers, sent
from test_http_server import read_responses

NAME = "openai.embeddings"


@pytest.fixture
def hs():
    return handlers()


def embed(hs, **body):
    body.setdefault("model", "text-embedding-3-small")
    return json.loads(call(hs, NAME, body)[2])


def vectors(doc):
    return [d["embedding"] for d in doc["data"]]


def test_unit_vectors_of_the_model_dimension(hs):
    doc = embed(hs, input=["hello", "world"])
    assert doc["object"] == "list" and doc["model"] == "text-embedding-3-small"
    assert [d["index"] for d in doc["data"]] == [0, 1]
    for v in vectors(doc):
        assert len(v) == 1536
        assert math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-5)
    assert doc["usage"] == {"prompt_tokens": 2, "total_tokens": 2}
    assert len(vectors(embed(hs, model="text-embedding-3-large", input="x"))[0]) == 3072


def test_same_input_same_vector_different_input_different_vector(hs):
    a, b = vectors(embed(hs, input=["alpha", "beta"]))
    assert vectors(embed(handlers(), input="alpha"))[0] == a
    assert a != b
    assert vectors(embed(hs, model="text-embedding-3-large", input="alpha",
                         dimensions=1536))[0] != a


def test_dimensions_shorten_and_renormalise(hs):
    full = vectors(embed(hs, input="alpha"))[0]
    short = vectors(embed(hs, input="alpha", dimensions=8))[0]
    assert len(short) == 8
    norm = math.sqrt(sum(x * x for x in full[:8]))
    assert all(math.isclose(s, f / norm, abs_tol=2e-6) for s, f in zip(short, full))


def test_base64_is_little_endian_float32_of_the_same_vector(hs):
    floats = vectors(embed(hs, input="alpha", dimensions=16))[0]
    b64 = vectors(embed(hs, input="alpha", dimensions=16, encoding_format="base64"))[0]
    decoded = struct.unpack("<16f", base64.b64decode(b64))
    assert all(math.isclose(a, b, abs_tol=1e-8) for a, b in zip(decoded, floats))


def test_token_array_inputs(hs):
    doc = embed(hs, input=[[1, 2, 3], [4]])
    assert len(doc["data"]) == 2 and doc["usage"]["prompt_tokens"] == 4
    assert vectors(embed(hs, input=[1, 2, 3]))[0] == vectors(doc)[0]


def test_prompt_tokens_count_text(hs):
    text = "The quick brown fox jumps over the lazy dog."
    assert embed(hs, input=text)["usage"]["prompt_tokens"] == count(text)


@pytest.mark.parametrize("body,param", [
    ({"model": "gpt-4o", "input": "x"}, "model"),
    ({"input": ""}, None),
    ({"input": ["a", 1]}, None),
    ({"input": "x", "dimensions": 5000}, "dimensions"),
    ({"model": "text-embedding-ada-002", "input": "x", "dimensions": 8}, "dimensions"),
    ({"input": "x", "encoding_format": "hex"}, "encoding_format"),
    ({"input": "word " * 9000}, None),
])
def test_errors(hs, body, param):
    body.setdefault("model", "text-embedding-3-small")
    with pytest.raises(ApiError) as e:
        call(hs, NAME, body)
    assert e.value.status == 400 and e.value.param == param


MODELS = {"add": {"acme-embed": {"kind": "embedding", "dimensions": 32}},
          "aliases": {"my-embed": "text-embedding-3-small"}}
REQUESTS = [
    {"model": "text-embedding-3-small", "input": "The quick brown fox."},
    {"model": "text-embedding-3-small", "input": "The quick brown fox.",
     "encoding_format": "base64"},
    {"model": "text-embedding-3-small", "input": ["alpha", "beta", "alpha"], "dimensions": 64},
    {"model": "text-embedding-3-large", "input": [1, 2, 3], "encoding_format": "float",
     "user": "u1"},
    {"model": "text-embedding-3-large", "input": [[1, 2], [3]], "encoding_format": "base64",
     "dimensions": 7},
    {"model": "my-embed", "input": "w\u00f6rld \"quoted\"\n\u2603"},
    {"model": "acme-embed", "input": ["x", "y"]},
    {"model": "text-embedding-ada-002", "input": "ada"},
]
_REQUEST_ID = re.compile(rb"req_[0-9a-f]{32}")


def answer(handler, body, headers=None):
    """(status, header lines with the request id masked, body, delay) of one call."""
    status, head, out = handler(FakeReq(b"POST", b"/v1/embeddings", body, headers))
    return (status, _REQUEST_ID.sub(b"ID", head), *sent(out))


def counting(handler):
    """The request bodies `handler` sends down its general path, recorded from now on."""
    general, bodies = handler.general, []
    handler.general = lambda req: bodies.append(req.body) or general(req)
    return bodies


@pytest.mark.parametrize("planner", [lambda: Planner({}, global_seed=7), FakePlanner],
                         ids=["planner", "fake-planner"])
def test_a_kept_answer_is_the_general_answer_byte_for_byte(planner):
    handler = handlers(models=MODELS, planner=planner())[NAME][2]
    general = counting(handler)
    firsts = {}
    for doc in REQUESTS:
        body = json.dumps(doc).encode()
        first = firsts[body] = answer(handler, body)
        assert general.pop() == body
        assert answer(handler, body) == first and not general   # kept: the same bytes
        # a fresh handler (nothing kept) says the same; so does the request spelled otherwise
        # (its delay may differ: a global seed keys the plan by the body's bytes)
        assert answer(handlers(models=MODELS, planner=planner())[NAME][2], body) == first
        respelled = json.dumps(dict(reversed(doc.items())), indent=1).encode()
        assert answer(handler, respelled)[2] == first[2] and general.pop() == respelled
    for body, first in firsts.items():   # each kept while others were asked for
        assert answer(handler, body) == first
    assert not general and json.loads(first[2])["model"] == "text-embedding-ada-002"


def test_every_request_is_planned_kept_or_not():
    planner = FakePlanner(length=1, ttft_ns=3_000_000)
    handler = handlers(planner=planner)[NAME][2]
    body = json.dumps(REQUESTS[0]).encode()
    latency = {b"x-llmsim-latency": b"ttft=30ms"}
    assert answer(handler, body)[3] == answer(handler, body, latency)[3] == 3_000_000
    n = count(REQUESTS[0]["input"])
    assert planner.calls == [("text-embedding-3-small", n, None, None, None),
                             ("text-embedding-3-small", n, None, None, b"ttft=30ms")]
    assert len(planner.admitted) == 2


def test_errors_are_not_kept():
    handler = handlers()[NAME][2]
    general = counting(handler)
    body = json.dumps({"model": "text-embedding-3-small", "input": ""}).encode()
    for _ in range(2):
        with pytest.raises(ApiError):
            handler(FakeReq(b"POST", b"/v1/embeddings", body))
    assert general == [body, body]


def test_kept_answers_are_bounded():
    handler = handlers()[NAME][2]
    general = counting(handler)
    big = json.dumps({"model": "text-embedding-3-large", "input": ["x"] * 8}).encode()
    assert len(answer(handler, big)[2]) > ANSWER_MAX
    answer(handler, big)
    assert general == [big, big]          # too large to keep
    general.clear()
    first = json.dumps({"model": "text-embedding-3-small", "input": "0"}).encode()
    size = len(first) + len(answer(handler, first)[2])
    for i in range(1, KEPT_MAX // size + 1):
        answer(handler, json.dumps({"model": "text-embedding-3-small", "input": str(i)}).encode())
    answer(handler, first)
    assert len(general) == KEPT_MAX // size + 2 and general[-1] == first   # dropped, made again


def embeddings_request(doc):
    body = json.dumps(doc).encode()
    return (b"POST /v1/embeddings HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(body), body))


@pytest.mark.parametrize("latency", [("--no-latency",), ("--latency-multiplier", "0.05")],
                         ids=["at-once", "delayed"])
def test_large_answers_on_the_wire_in_order_and_intact(server, latency):
    """Bodies of 4 KB and more leave uncopied after their head, at once or when due:
    pipelined with small answers they keep their order and bytes, also when the client
    reads only after sending 70 requests."""
    srv = server("--workers", "1", *latency)
    docs = REQUESTS[:3]
    with httpx.Client(base_url=srv.base_url) as client:
        expected = [client.post("/v1/embeddings", json=doc).content for doc in docs]
    assert [len(b) >= 4096 for b in expected] == [True, True, False]   # sent uncopied or not
    health = b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n"
    order = [0, None, 1, 2, None, 0] + [i % 3 for i in range(64)]
    wire = b"".join(health if i is None else embeddings_request(docs[i]) for i in order)
    with socket.create_connection(("127.0.0.1", srv.port)) as s:
        s.sendall(wire)
        got, rest = read_responses(s, len(order), timeout=30.0)
    assert rest == b""
    for i, (status, head, body) in zip(order, got):
        assert status == 200
        assert body == (b'{"status":"ok"}' if i is None else expected[i])
