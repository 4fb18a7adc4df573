"""Gemini generateContent bodies in the common subset llmsim_gemini_scan reads itself
(csrc/llmsim_gemini_scan.h) answer byte for byte, streamed (server-sent events or one JSON
array) or not, as the same JSON spelled so that only the full decoder reads it; every other
body goes to the decoder, with the errors it always had."""

import json
import re

import pytest

from llmsim.errors import ApiError
from openai_fakes import FakeReq, decoded_spelling, decoder_calls, outcome as answered
from provider_fakes import handlers
from test_anthropic_scan import HEADERS, Seeded, SeededFake, random_texts

_IDS = re.compile(rb'(?<="responseId":")[^"]+')
MODEL = b"gemini-2.5-flash"
# (route, query) of the three forms of the answer.
FORMS = [("gemini.generate_content", b""), ("gemini.stream_generate_content", b"alt=sse"),
         ("gemini.stream_generate_content", b"")]
HELLO = b'{"contents":[{"role":"user","parts":[{"text":"Hello"}]}]'
# Bodies the scanner reads, written in several ways.
SCANNED = [
    HELLO + b'}',
    HELLO + b',"generationConfig":{"maxOutputTokens":16}}',
    b' {\n "contents" : [ {"parts": [ {"text": "Be brief."} ], "role": "user"},\t{"role":'
    b' "model", "parts": [{"text": ""}]}, {"role": "user", "parts": [{ "text" :'
    b' "Hi there 12345 abcdefghijklmnop"}]} ] , "systemInstruction" : { "parts" : [{"text":'
    b' "You are   terse."}] }, "generationConfig": { "temperature": 0.25,'
    b' "maxOutputTokens": 7 } }\r\n',
    b'{"generationConfig":{},"systemInstruction":{"parts":[{"text":""}]},"contents":[{"role":'
    b'"user","parts":[{"text":"' + b"Summarise this paragraph for me. " * 40 + b'"}]}]}',
    b'{"contents":[{"role":"model","parts":[{"text":"no user turn"}]}],'
    b'"generationConfig":{"maxOutputTokens":1}}',
] + [HELLO + b',"generationConfig":{"temperature":' + t + b'}}'
     for t in (b"0", b"1", b"0.5", b"1.000", b"0.99999999999999999999999")]
# Bodies the scanner reads whose length the common answer does not take: they are decoded,
# to the same error.
SCANNED_THEN_DECODED = [HELLO + b',"generationConfig":{"maxOutputTokens":100000000}}']
# Bodies it leaves to the decoder: different values, errors, or just unusual spellings.
UNSCANNED = [HELLO.replace(old, new) + b'}' for old, new in [
    (b"Hello", b"tab\\there"), (b"Hello", b"w\xc3\xb6rld"), (b'"user"', b'"function"'),
    (b'"user"', b'"system"'), (b'"role":"user",', b''),
    (b'{"text":"Hello"}', b'{"text":"Hello"},{"text":"again"}'), (b'{"text":"Hello"}', b''),
    (b'{"text":"Hello"}', b'{"text":"Hello","thought":true}'), (b'"Hello"', b'null'),
    (b'}]}]', b'}],"role":"user"}]'), (b'}]}]', b'}],"parts":[]}]'),
]] + [
    HELLO + b',"contents":[]}',
    HELLO + b',"generationConfig":{"maxOutputTokens":0}}',
    HELLO + b',"generationConfig":{"maxOutputTokens":-1}}',
    HELLO + b',"generationConfig":{"maxOutputTokens":16.0}}',
    HELLO + b',"generationConfig":{"maxOutputTokens":16,"maxOutputTokens":16}}',
    HELLO + b',"generationConfig":{"temperature":1.5}}',
    HELLO + b',"generationConfig":{"temperature":3}}',
    HELLO + b',"generationConfig":{"temperature":null}}',
    HELLO + b',"generationConfig":{"seed":3}}',
    HELLO + b',"generationConfig":{"candidateCount":2}}',
    HELLO + b',"generationConfig":{"stopSequences":["x"]}}',
    HELLO + b',"generationConfig":{"max_output_tokens":16}}',
    HELLO + b',"generationConfig":null}',
    HELLO + b',"generationConfig":{,}}',
    HELLO + b',"systemInstruction":{"parts":[{"text":"x"}],"role":"user"}}',
    HELLO + b',"systemInstruction":{"parts":[]}}',
    HELLO + b',"systemInstruction":{}}',
    HELLO + b',"system_instruction":{"parts":[{"text":"x"}]}}',
    HELLO + b',"tools":[]}',
    HELLO + b',"model":"gemini-2.5-flash"}',
    HELLO + b',}',
    HELLO + b'} x',
    HELLO,
    b'{"contents":[]}',
    b'{"contents":{}}',
    b'{}',
    b'',
    b'[]',
]


def outcome(handler, body, headers, query):
    return answered(handler, b"/v1beta/models/x", body, headers, _IDS, (MODEL,), query)


def prompt_tokens(outcome):
    """usageMetadata.promptTokenCount of a normalised answer (its first event of a stream)."""
    wire = outcome[2]
    if wire.startswith(b"data: "):
        first = json.loads(wire.split(b"\n", 1)[0][6:])
    else:
        first = json.loads(wire)
        first = first[0] if type(first) is list else first
    return first["usageMetadata"]["promptTokenCount"]


@pytest.fixture
def decodes(monkeypatch):
    """Counts calls of the full decoder of llmsim.core.textreply."""
    import llmsim.core.textreply as core
    return decoder_calls(monkeypatch, core, "_decode_generate")


@pytest.mark.parametrize("form", FORMS, ids=["generate", "sse", "array"])
@pytest.mark.parametrize("headers", HEADERS, ids=["plain", "echo", "lorem", "latency"])
def test_scanned_bodies_answer_as_decoded_ones(decodes, headers, form):
    route, query = form
    fake = SeededFake()
    for planner in (Seeded({}, global_seed=7), fake):
        handler = handlers(planner=planner)[route][2]
        for body in SCANNED:
            fast = outcome(handler, body, headers, query)
            planned = fake.calls[-1:]
            assert not decodes, body
            assert fast[0] == 200
            slow = outcome(handler, decoded_spelling(body, b"contents"), headers, query)
            assert decodes.pop()
            assert slow == fast
            assert prompt_tokens(slow) == prompt_tokens(fast)
            assert fake.calls[-1:] == planned


def test_scanned_prompts_count_as_decoded_ones(decodes):
    """The system instruction and every part's text, counted by the scanner, give the prompt
    tokens the decoder's count gives."""
    handler = handlers(planner=Seeded({}, global_seed=7))["gemini.generate_content"][2]
    for text in random_texts():
        body = json.dumps({"systemInstruction": {"parts": [{"text": text[::-1]}]},
                           "contents": [{"role": "user", "parts": [{"text": text}]},
                                        {"role": "model", "parts": [{"text": text[:3]}]}],
                           "generationConfig": {"maxOutputTokens": 1}}).encode()
        fast = outcome(handler, body, {}, b"")
        assert not decodes
        assert outcome(handler, decoded_spelling(body, b"contents"), {}, b"") == fast
        assert decodes.pop()


@pytest.mark.parametrize("body", SCANNED_THEN_DECODED)
def test_lengths_the_common_answer_does_not_take_are_decoded(decodes, body):
    handler = handlers(planner=Seeded({}, global_seed=7))["gemini.generate_content"][2]
    fast = outcome(handler, body, {}, b"")
    assert decodes == [body]
    assert fast[0] == 400
    assert outcome(handler, decoded_spelling(body, b"contents"), {}, b"") == fast


@pytest.mark.parametrize("body", UNSCANNED)
def test_bodies_out_of_the_scanned_subset_are_decoded(decodes, body):
    handler = handlers(planner=Seeded({}, global_seed=7))["gemini.generate_content"][2]
    try:
        handler(FakeReq(b"POST", b"/v1beta/models/x", body, None, (MODEL,)))
    except ApiError:
        pass
    assert decodes[:1] == [body]
