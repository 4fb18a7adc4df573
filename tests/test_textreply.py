"""The compiled common answers and streams of Anthropic Messages and Gemini
generateContent / streamGenerateContent (llmsim.core.textreply) say byte for byte what the
handlers' general paths say for the same request, and the requests they do not answer go to
the general path."""

import json
import re
import zlib

import httpx
import pytest
import yaml

from llmsim.core.heads import alt_sse
from llmsim.core.sse import TokenStream
from llmsim.core.textstream import TextStream
from llmsim.sim.timing import Planner
from openai_fakes import FakePlanner, FakeReq, run_stream
from provider_fakes import handlers

_IDS = re.compile(rb'msg_01[A-Za-z0-9]{22}|req_011C[A-Za-z0-9]{20}|'
                  rb'(?<="responseId":")[A-Za-z0-9]{23}')
TEXT = "Tell me about \u2603, \"quotes\" and\ttabs."
CLAUDE = [
    {"model": "claude-haiku-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "Hi"}]},
    {"model": "claude-sonnet-4-5", "max_tokens": 3, "system": "Be brief.", "temperature": 0.5,
     "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
                  {"role": "user", "content": TEXT}]},
    {"model": "claude-opus-4-1", "max_tokens": 4000, "stop_sequences": [], "stream": False,
     "output_config": {"effort": "low"}, "metadata": {"user_id": "u"},
     "messages": [{"role": "user", "content": [{"type": "text", "text": TEXT}]}]},
]
# Each of these sends an otherwise common Messages request down the general path.
CLAUDE_GENERAL = [{"thinking": {"type": "disabled"}}, {"tool_choice": {"type": "none"}},
                  {"stop_sequences": ["\u0000never"]}]
GEMINI = [
    {"contents": [{"parts": [{"text": "Hi"}]}]},
    {"contents": [{"role": "user", "parts": [{"text": TEXT}]}],
     "systemInstruction": {"parts": [{"text": "Be brief."}]},
     "generationConfig": {"maxOutputTokens": 3, "temperature": 0.5, "seed": 4}},
    {"contents": [{"role": "user", "parts": [{"text": "Hi"}]},
                  {"role": "model", "parts": [{"text": "Hello"}]},
                  {"role": "user", "parts": [{"text": TEXT}]}],
     "generationConfig": {"maxOutputTokens": 4000, "candidateCount": 1, "stopSequences": [],
                          "responseMimeType": "text/plain"}},
]
GEMINI_GENERAL = [{"toolConfig": {"functionCallingConfig": {"mode": "NONE"}}},
                  {"generationConfig": {"maxOutputTokens": 16,
                                        "thinkingConfig": {"thinkingBudget": 0}}},
                  {"generationConfig": {"maxOutputTokens": 16, "stopSequences": ["\u0000"]}}]
HEADERS = [{}, {b"x-llmsim-generator": b"echo"}, {b"x-llmsim-generator": b"lorem"},
           {b"x-llmsim-latency": b"ttft=30ms, itl=1ms"}]
CASES = [("anthropic.messages", b"/v1/messages", (), CLAUDE, CLAUDE_GENERAL),
         ("gemini.generate_content", b"/v1beta/models/{model}:generateContent",
          (b"gemini-2.5-flash",), GEMINI, GEMINI_GENERAL)]


def answer(call, body, headers, params):
    req = FakeReq(b"POST", b"/", body, dict(headers), params)
    req.received_ns = 10**12
    status, head, out = call(req)
    assert status == 200
    return _IDS.sub(b"ID", head), _IDS.sub(b"ID", out.body), out.delay_ns


@pytest.mark.parametrize("planner", [lambda: Planner({}, global_seed=7),
                                     lambda: FakePlanner(length=8)], ids=["planner", "fake"])
@pytest.mark.parametrize("headers", HEADERS, ids=["plain", "echo", "lorem", "latency"])
@pytest.mark.parametrize("name, path, params, requests, general", CASES,
                         ids=["anthropic", "gemini"])
def test_common_answer_is_the_general_answer_byte_for_byte(planner, headers, name, path,
                                                           params, requests, general):
    handler = handlers(planner=planner())[name][2]
    slow = handler.general
    taken = []
    handler.general = lambda req, r: taken.append(1) or slow(req, r)
    for base in requests:
        if isinstance(handler.env.planner, FakePlanner) and "seed" not in json.dumps(base):
            continue   # the fake planner draws a fresh key for a request without a seed
        fast = answer(handler, base, headers, params)
        assert not taken
        assert answer(lambda req: slow(req, None), base, headers, params) == fast
        for extra in general:   # a different body: under a global seed, a different plan
            answer(handler, dict(base, **extra), headers, params)
            assert taken.pop()


def test_errors_go_to_the_general_path():
    hs = handlers(planner=Planner({}, global_seed=7))
    claude = hs["anthropic.messages"][2]
    gemini = hs["gemini.stream_generate_content"][2]
    seen = []
    for h in (claude, gemini):
        h.general = lambda req, r, slow=h.general: seen.append(r) or slow(req, r)
    for body in (b"{", b'{"model": "nope", "max_tokens": 1, "messages": []}'):
        with pytest.raises(Exception):
            claude(FakeReq(b"POST", b"/v1/messages", body))
    assert seen == [None, seen[1]] and seen[1] is not None
    for params, body in (((b"gemini-nope",), GEMINI[0]), ((b"gemini-2.5-flash",), b"[")):
        with pytest.raises(Exception):
            gemini(FakeReq(b"POST", b"/", body, {}, params))
    assert seen[2:] == [None, None]


class KeyedPlanner(FakePlanner):
    """The fake planner (which records releases) keyed by the body when there is no seed, as
    the real one is under a global seed."""

    def request_key(self, seed, body):
        return seed if seed is not None else zlib.crc32(body)


def streamed(handler, planner, body, headers, params, query, step):
    """(stream type, normalised head and wire, due times, release times) of one stream
    rendered `step` events at a time and closed."""
    req = FakeReq(b"POST", b"/", body, dict(headers), params)
    req.query = query
    req.received_ns = 10**12
    kind, head, wire, dues, freed = run_stream(handler, req, step, planner.released)
    return kind, _IDS.sub(b"ID", head), _IDS.sub(b"ID", wire), dues, freed


def anthropic_events(wire):
    """[(event name, data)] of an Anthropic stream."""
    out = []
    for frame in wire.split(b"\n\n")[:-1]:
        name, data = frame.split(b"\n")
        out.append((name.removeprefix(b"event: ").decode(),
                    json.loads(data.removeprefix(b"data: "))))
    return out


def check_anthropic(wire, generated):
    names = [name for name, _ in anthropic_events(wire)]
    opening = ["message_start", "content_block_start", "ping"]
    deltas = ["content_block_delta"] * generated
    assert names == opening + deltas + ["content_block_stop", "message_delta", "message_stop"]
    usage = anthropic_events(wire)[-2][1]["usage"]
    assert usage["output_tokens"] == generated


def check_gemini(wire, generated, query):
    if query:
        frames = wire.split(b"\r\n\r\n")
        assert frames[-1] == b"" and all(f.startswith(b"data: ") for f in frames[:-1])
        chunks = [json.loads(f.removeprefix(b"data: ")) for f in frames[:-1]]
    else:
        chunks = json.loads(wire)
    assert len(chunks) == generated + 1
    for c in chunks[:-1]:
        assert "finishReason" not in c["candidates"][0]
        assert "candidatesTokenCount" not in c["usageMetadata"]
    last = chunks[-1]
    assert last["candidates"][0]["finishReason"] in ("STOP", "MAX_TOKENS")
    assert last["usageMetadata"]["candidatesTokenCount"] == generated


STREAM_CASES = [
    ("anthropic.messages", (), b"", [dict(b, stream=True) for b in CLAUDE], CLAUDE_GENERAL),
    ("gemini.stream_generate_content", (b"gemini-2.5-flash",), b"alt=sse", GEMINI,
     GEMINI_GENERAL),
    ("gemini.stream_generate_content", (b"gemini-2.5-flash",), b"key=k&alt=sse", GEMINI, ()),
    ("gemini.stream_generate_content", (b"gemini-2.5-flash",), b"", GEMINI, ()),
]


@pytest.mark.parametrize("length", [20, 1, 0])
@pytest.mark.parametrize("headers", HEADERS, ids=["plain", "echo", "lorem", "latency"])
@pytest.mark.parametrize("name, params, query, requests, general", STREAM_CASES,
                         ids=["anthropic", "gemini-sse", "gemini-sse-key", "gemini-array"])
def test_common_stream_is_the_general_stream_byte_for_byte(length, headers, name, params,
                                                           query, requests, general):
    planner = KeyedPlanner(length=length)
    handler = handlers(planner=planner)[name][2]
    slow = handler.general
    taken = []
    handler.general = lambda req, r: taken.append(1) or slow(req, r)
    for base in requests:
        body = json.dumps(base).encode()
        fast = streamed(handler, planner, body, headers, params, query, 1)
        assert fast[0] is TextStream and not taken
        generated = len(fast[3]) - 2     # events: the lead, one per token, the last
        if name.startswith("anthropic"):
            check_anthropic(fast[2], generated)
        else:
            check_gemini(fast[2], generated, query)
        for step in (3, len(fast[3])):
            assert streamed(handler, planner, body, headers, params, query, step)[1:] == \
                fast[1:]
        in_full = streamed(lambda req: slow(req, None), planner, body, headers, params, query, 2)
        assert in_full[0] is TokenStream and in_full[1:] == fast[1:]
        for extra in general:
            got = streamed(handler, planner, json.dumps(dict(base, **extra)).encode(), headers,
                           params, query, 2)
            assert got[0] is TokenStream and taken.pop()


@pytest.mark.parametrize("name, params, query, requests, general", STREAM_CASES[:2],
                         ids=["anthropic", "gemini"])
def test_a_cancelled_common_stream_frees_its_slot_once(name, params, query, requests, general):
    planner = KeyedPlanner(length=20)
    handler = handlers(planner=planner)[name][2]
    req = FakeReq(b"POST", b"/", json.dumps(requests[0]).encode(), {}, params)
    req.query = query
    status, head, s = handler(req)
    assert type(s) is TextStream and planner.released == []
    s.render(0, 3)
    s.close()
    s.close()
    assert len(planner.released) == 1


@pytest.mark.parametrize("query, sse", [(b"", False), (b"alt=sse", True), (b"key=k&alt=sse", True),
                                        (b"alt=sse&", True), (b"alt=ssex", False),
                                        (b"xalt=sse", False), (b"alt=ss", False), (b"&", False)])
def test_a_stream_is_sse_when_its_query_has_the_item_alt_sse(query, sse):
    assert alt_sse(query) is sse


@pytest.mark.parametrize("query", ["?alt=sse", ""], ids=["sse", "array"])
def test_a_served_common_gemini_stream_is_the_general_one(server, query):
    """Through a real server (chunked, latency on): the same seeded request answered by the
    compiled stream and, with a tool config that changes nothing, by the general one."""
    srv = server("--workers", "1", "--itl", "1ms", "--ttft", "5ms")
    url = srv.base_url + "/v1beta/models/gemini-2.5-flash:streamGenerateContent" + query
    body = {"contents": [{"role": "user", "parts": [{"text": TEXT}]}],
            "generationConfig": {"maxOutputTokens": 30, "seed": 11}}
    got = []
    for extra in ({}, {"toolConfig": {"functionCallingConfig": {"mode": "NONE"}}}):
        r = httpx.post(url, json=dict(body, **extra), timeout=30)
        assert r.status_code == 200 and r.headers["transfer-encoding"] == "chunked"
        got.append((r.headers["content-type"], _IDS.sub(b"ID", r.content)))
    assert got[0] == got[1]
    assert got[0][1].count(b'"finishReason"') == 1


def test_common_streams_are_charged_as_used(server, tmp_path):
    """An Anthropic and a Gemini common stream, each allowed 2,000 tokens and using 50, give
    the unused rest back to a 5,000-token minute when they end: a third request allowed 2,000
    then fits (charged on admission only, it would get a 429)."""
    path = tmp_path / "limits.yaml"
    path.write_text(yaml.safe_dump({"no_latency": True,
                                    "rate_limits": {"tokens_per_minute": 5000}}))
    srv = server("--workers", "1", "--config", path)
    latency = {"x-llmsim-latency": "tokens=50"}
    claude = dict(latency, **{"anthropic-version": "2023-06-01"})
    message = {"model": "claude-haiku-4-5", "max_tokens": 2000,
               "messages": [{"role": "user", "content": "Hi"}]}
    gemini = {"contents": [{"parts": [{"text": "Hi"}]}],
              "generationConfig": {"maxOutputTokens": 2000}}
    r = httpx.post(srv.base_url + "/v1/messages", json=dict(message, stream=True),
                   headers=claude, timeout=30)
    assert r.status_code == 200 and r.content.count(b"event: content_block_delta") == 50
    r = httpx.post(srv.base_url + "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
                   "?alt=sse", json=gemini, headers=latency, timeout=30)
    assert r.status_code == 200 and r.content.count(b"data: ") == 51
    r = httpx.post(srv.base_url + "/v1/messages", json=message, headers=claude, timeout=30)
    assert r.status_code == 200, r.text
