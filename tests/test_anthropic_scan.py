"""Anthropic Messages bodies in the common subset llmsim_anthropic_scan reads itself
(csrc/llmsim_anthropic_scan.h) answer byte for byte, streamed or not, as the same JSON
spelled so that only the full decoder reads it; every other body goes to the decoder, with
the errors it always had."""

import json
import random
import re

import pytest

from llmsim.errors import ApiError
from llmsim.sim.timing import Planner
from openai_fakes import (FakePlanner, FakeReq, decoded_spelling, decoder_calls,
                          outcome as answered)
from provider_fakes import handlers

_IDS = re.compile(rb'msg_01[A-Za-z0-9]{22}|req_011C[A-Za-z0-9]{20}')
HEADERS = [{}, {b"x-llmsim-generator": b"echo"}, {b"x-llmsim-generator": b"lorem"},
           {b"x-llmsim-latency": b"ttft=30ms, itl=1ms"}]
MESSAGE = b'{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"Hello"}],'
# Bodies the scanner reads, written in several ways.
SCANNED = [
    MESSAGE + b'"max_tokens":16}',
    MESSAGE + b'"max_tokens":50,"stream":true}',
    b' {\n "messages" : [ {"content": "Be brief.", "role": "user"},\t{"role": "assistant",'
    b' "content": ""}, {"role": "user", "content": "Hi there 12345 abcdefghijklmnop"} ] ,'
    b' "max_tokens" : 7, "system" : "You are   terse.", "model": "claude-sonnet-4-5",'
    b' "stream": false }\r\n',
    b'{"system":"","stream":true,"model":"claude-opus-4-1","max_tokens":4000,'
    b'"messages":[{"role":"user","content":"' + b"Summarise this paragraph for me. " * 40 +
    b'"}]}',
    b'{"model":"claude-haiku-4-5","max_tokens":1,"messages":[{"role":"assistant",'
    b'"content":"no user message"}]}',
] + [MESSAGE + b'"max_tokens":16,"temperature":' + t + b'}'
     for t in (b"0", b"1", b"0.5", b"1.000", b"0.0", b"0.99999999999999999999999")]
# Bodies the scanner reads whose model or length the common answer does not take: they are
# decoded, to the same answer or error.
SCANNED_THEN_DECODED = [
    b'{"model":"no-such-model","messages":[{"role":"user","content":"Hi"}],"max_tokens":5}',
    MESSAGE + b'"max_tokens":100000000}',
    b'{"model":"text-embedding-3-small","messages":[{"role":"user","content":"Hi"}],'
    b'"max_tokens":5}',
]
# Bodies it leaves to the decoder: different values, errors, or just unusual spellings.
UNSCANNED = [
    MESSAGE.replace(b"Hello", b"tab\\there") + b'"max_tokens":16}',
    MESSAGE.replace(b"Hello", b"w\xc3\xb6rld") + b'"max_tokens":16}',
    MESSAGE.replace(b'"Hello"', b'[{"type":"text","text":"Hello"}]') + b'"max_tokens":16}',
    MESSAGE.replace(b'"Hello"', b'null') + b'"max_tokens":16}',
    MESSAGE.replace(b'"user"', b'"system"') + b'"max_tokens":16}',
    MESSAGE.replace(b'"user"', b'"developer"') + b'"max_tokens":16}',
    MESSAGE.replace(b'"user"', b'"users"') + b'"max_tokens":16}',
    MESSAGE.replace(b'"Hello"}', b'"Hello","name":"n"}') + b'"max_tokens":16}',
    MESSAGE.replace(b'"Hello"}', b'"Hello","role":"user"}') + b'"max_tokens":16}',
    MESSAGE + b'"max_tokens":16,"model":"claude-sonnet-4-5"}',
    MESSAGE + b'"max_tokens":16,"max_tokens":16}',
    MESSAGE + b'"max_tokens":16,"temperature":1.5}',
    MESSAGE + b'"max_tokens":16,"temperature":1.01}',
    MESSAGE + b'"max_tokens":16,"temperature":2}',
    MESSAGE + b'"max_tokens":16,"temperature":-0.5}',
    MESSAGE + b'"max_tokens":16,"temperature":-0}',
    MESSAGE + b'"max_tokens":16,"temperature":0.5e0}',
    MESSAGE + b'"max_tokens":16,"temperature":1e0}',
    MESSAGE + b'"max_tokens":16,"temperature":.5}',
    MESSAGE + b'"max_tokens":16,"temperature":00.5}',
    MESSAGE + b'"max_tokens":16,"temperature":0.}',
    MESSAGE + b'"max_tokens":16,"temperature":1.}',
    MESSAGE + b'"max_tokens":16,"temperature":null}',
    MESSAGE + b'"max_tokens":16,"temperature":"0.5"}',
    MESSAGE + b'"max_tokens":16,"metadata":{"user_id":"u"}}',
    MESSAGE + b'"max_tokens":16,"tools":[]}',
    MESSAGE + b'"max_tokens":16,"stop_sequences":[]}',
    MESSAGE + b'"max_tokens":16,"system":[{"type":"text","text":"Be brief."}]}',
    MESSAGE + b'"max_tokens":16,"system":null}',
    MESSAGE + b'"max_tokens":16,"system":"\\u0042e brief."}',
    MESSAGE + b'"max_tokens":16,"stream":null}',
    MESSAGE + b'"max_tokens":16,"stream":1}',
    MESSAGE + b'"max_tokens":16,"systems":"x"}',
    MESSAGE + b'"max_tokens":0}',
    MESSAGE + b'"max_tokens":-3}',
    MESSAGE + b'"max_tokens":16.0}',
    MESSAGE + b'"max_tokens":1e2}',
    MESSAGE + b'"max_tokens":016}',
    MESSAGE + b'"max_tokens":null}',
    MESSAGE + b'"max_tokens":"16"}',
    MESSAGE + b'"max_tokens":1234567890123456789}',
    MESSAGE + b'"max_token":16}',
    MESSAGE + b'"max_tokens":16,}',
    MESSAGE + b'"max_tokens":16} x',
    MESSAGE + b'"max_tokens":16',
    MESSAGE[:-1] + b'}',
    b'{"model":"claude-haiku-4-5","messages":[],"max_tokens":16}',
    b'{"messages":[{"role":"user","content":"Hi"}],"max_tokens":16}',
    b'{"model":"claude-haiku-4-5","messages":[{"role":"user"}],"max_tokens":16}',
    b'{"model":"claude-haiku-4-5","messages":{},"max_tokens":16}',
    b'{}',
    b'',
    b'[]',
]


class Seeded(Planner):
    """The real planner with one request key for every body: its answers do not depend on
    how a body is spelled."""

    def request_key(self, seed, body):
        return 5


class SeededFake(FakePlanner):
    def request_key(self, seed, body):
        return 5


def outcome(handler, body, headers):
    return answered(handler, b"/v1/messages", body, headers, _IDS)


def input_tokens(outcome):
    """usage.input_tokens of a normalised answer (the message_start event of a stream)."""
    wire = outcome[2]
    if wire.startswith(b"event:"):
        start = json.loads(wire.split(b"\n\n")[0].split(b"data: ", 1)[1])
        return start["message"]["usage"]["input_tokens"]
    return json.loads(wire)["usage"]["input_tokens"]


@pytest.fixture
def decodes(monkeypatch):
    """Counts calls of the full decoder of llmsim.core.textreply."""
    import llmsim.core.textreply as core
    return decoder_calls(monkeypatch, core, "_decode_messages")


@pytest.mark.parametrize("headers", HEADERS, ids=["plain", "echo", "lorem", "latency"])
def test_scanned_bodies_answer_as_decoded_ones(decodes, headers):
    fake = SeededFake()
    for planner in (Seeded({}, global_seed=7), fake):
        handler = handlers(planner=planner)["anthropic.messages"][2]
        for body in SCANNED:
            fast = outcome(handler, body, headers)
            planned = fake.calls[-1:]
            assert not decodes, body
            assert fast[0] == 200
            slow = outcome(handler, decoded_spelling(body), headers)
            assert decodes.pop()
            assert slow == fast
            assert input_tokens(slow) == input_tokens(fast)
            assert fake.calls[-1:] == planned


def random_texts():
    """200 texts (the same each time) of words past 8 letters, numbers past 3 digits, runs of
    spaces and other bytes, empty ones too."""
    rnd = random.Random(3)
    pieces = ["a", "abcdefgh", "abcdefghijklmnopq", "1", "1234567", " ", "   ", ".", "-",
              "x1y", "'", "Summarise this paragraph for me. "]
    return ["".join(rnd.choice(pieces) for _ in range(rnd.randrange(12))) for _ in range(200)]


def test_scanned_prompts_count_as_decoded_ones(decodes):
    """The system prompt and every message's content, counted by the scanner, give the input
    tokens the decoder's count gives: words past 8 letters, numbers past 3 digits, runs of
    spaces, an empty system prompt counted as none."""
    handler = handlers(planner=Seeded({}, global_seed=7))["anthropic.messages"][2]
    for text in random_texts():
        body = json.dumps({"model": "claude-haiku-4-5", "max_tokens": 1, "system": text[::-1],
                           "messages": [{"role": "user", "content": text},
                                        {"role": "assistant", "content": text[:3]}]}).encode()
        fast = outcome(handler, body, {})
        assert not decodes
        assert outcome(handler, decoded_spelling(body), {}) == fast
        assert decodes.pop()


@pytest.mark.parametrize("body", SCANNED_THEN_DECODED)
def test_models_and_lengths_the_common_answer_does_not_take_are_decoded(decodes, body):
    handler = handlers(planner=Seeded({}, global_seed=7))["anthropic.messages"][2]
    fast = outcome(handler, body, {})
    assert decodes == [body]
    assert outcome(handler, decoded_spelling(body), {}) == fast


@pytest.mark.parametrize("body", UNSCANNED)
def test_bodies_out_of_the_scanned_subset_are_decoded(decodes, body):
    handler = handlers(planner=Seeded({}, global_seed=7))["anthropic.messages"][2]
    try:
        handler(FakeReq(b"POST", b"/v1/messages", body))
    except ApiError:
        pass
    assert decodes[:1] == [body]
