"""The compiled common chat answer (llmsim.core.chat) says byte for byte what the general
path (llmsim.api.openai_chat.ChatCompletions.answer) says for the same request and seed."""

import json
import re

import pytest

from llmsim.sim.timing import Planner
from openai_fakes import FakePlanner, FakeReq, handlers

CHAT = "openai.chat_completions"
PARTS = [{"type": "text", "text": "Hello "}, {"type": "text", "text": "wörld \"quoted\"\n"}]
REQUESTS = [
    {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]},
    {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}],
     "max_tokens": 16},
    {"model": "gpt-4o", "max_completion_tokens": 3, "service_tier": "flex",
     "messages": [{"role": "system", "content": "Be brief.", "name": "rules"},
                  {"role": "user", "content": PARTS}]},
    {"model": "gpt-4.1", "max_tokens": 1, "temperature": 0.2, "user": "u1",
     "messages": [{"role": "user", "content": "Hi"},
                  {"role": "assistant", "content": "Hello! How can I help?"},
                  {"role": "user", "content": "Tell me a story about \u2603 and \"tabs\"\t."}]},
    {"model": "gpt-3.5-turbo", "service_tier": "priority", "max_tokens": 4096,
     "messages": [{"role": "developer", "content": "x"}, {"role": "user", "content": PARTS}]},
]
# Each of these sends an otherwise common request down the general path.
GENERAL = [{"n": 1}, {"stop": []}, {"top_logprobs": 0}, {"response_format": {"type": "text"}}]
HEADERS = [{}, {b"x-llmsim-generator": b"echo"}, {b"x-llmsim-generator": b"lorem"},
           {b"x-llmsim-latency": b"ttft=30ms, itl=1ms"}]
_IDS = re.compile(rb'chatcmpl-[A-Za-z0-9]{29}|req_[0-9a-f]{32}')


def answer(handler, body, headers, received_ns):
    req = FakeReq(b"POST", b"/v1/chat/completions", body, dict(headers))
    req.received_ns = received_ns
    status, head, out = handler(req)
    assert status == 200
    return _IDS.sub(b"ID", head), _IDS.sub(b"ID", out.body), out.delay_ns


@pytest.mark.parametrize("planner", [lambda: Planner({}, global_seed=7), FakePlanner],
                         ids=["planner", "fake-planner"])
@pytest.mark.parametrize("headers", HEADERS, ids=["plain", "echo", "lorem", "latency"])
def test_common_answer_is_the_general_answer_byte_for_byte(planner, headers):
    handler = handlers(planner=planner())[CHAT][2]
    general = handler.answer
    taken = []
    handler.answer = lambda *args: taken.append(1) or general(*args)
    for seed in range(12):
        for base in REQUESTS:
            body = dict(base, seed=seed)
            fast = answer(handler, body, headers, 10**12 + seed)
            assert not taken
            for extra in GENERAL:
                assert answer(handler, dict(body, **extra), headers, 10**12 + seed) == fast
                assert taken.pop()
            doc = json.loads(fast[1])
            assert doc["choices"][0]["message"]["content"] or doc["usage"]["completion_tokens"] == 0
