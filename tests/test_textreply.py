"""The compiled common answers of Anthropic Messages and Gemini generateContent
(llmsim.core.textreply) say byte for byte what the handlers' general paths say for the same
request, and the requests they do not answer go to the general path."""

import json
import re

import pytest

from llmsim.sim.timing import Planner
from openai_fakes import FakePlanner, FakeReq
from provider_fakes import handlers

_IDS = re.compile(rb'msg_01[A-Za-z0-9]{22}|req_011C[A-Za-z0-9]{20}|'
                  rb'"responseId":"[A-Za-z0-9]{23}"')
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


def test_streams_and_errors_go_to_the_general_path():
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
    gemini(FakeReq(b"POST", b"/", GEMINI[0], {}, (b"gemini-2.5-flash",)))
    assert len(seen) == 3 and seen[2] is None
