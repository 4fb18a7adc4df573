"""POST /v1/completions (legacy), called as a handler with a fake request."""

import json

import pytest

from llmsim.errors import ApiError
from llmsim.sim.tokens import count
from openai_fakes import FakePlanner, FakeReq, call, handlers, sse_events

NAME = "openai.completions"
MODEL = "gpt-3.5-turbo-instruct"


@pytest.fixture
def hs():
    return handlers(planner=FakePlanner(length=40))


def complete(hs, **body):
    body.setdefault("model", MODEL)
    body.setdefault("prompt", "Once upon a time")
    return json.loads(call(hs, NAME, body)[2])


def test_default_max_tokens_is_16_and_cuts_for_length(hs):
    doc = complete(hs)
    assert doc["object"] == "text_completion" and doc["id"].startswith("cmpl-")
    (c,) = doc["choices"]
    assert c["finish_reason"] == "length" and c["logprobs"] is None
    assert doc["usage"] == {"prompt_tokens": count("Once upon a time"), "completion_tokens": 16,
                            "total_tokens": count("Once upon a time") + 16}
    assert count(c["text"]) == 16


def test_prompt_forms_and_choice_order(hs):
    doc = complete(hs, prompt=["First", "Second one"], n=2, max_tokens=5)
    assert [c["index"] for c in doc["choices"]] == [0, 1, 2, 3]
    assert doc["usage"]["prompt_tokens"] == count("First") + count("Second one")
    doc = complete(hs, prompt=[1, 2, 3], max_tokens=5)
    assert doc["usage"]["prompt_tokens"] == 3
    doc = complete(hs, prompt=[[1, 2], [3, 4, 5]], max_tokens=5)
    assert doc["usage"]["prompt_tokens"] == 5 and len(doc["choices"]) == 2


def test_echo_prefixes_the_prompt(hs):
    doc = complete(hs, prompt="Tell me", echo=True, max_tokens=3)
    text = doc["choices"][0]["text"]
    assert text.startswith("Tell me") and count(text[len("Tell me"):]) == 3


def test_echo_with_max_tokens_zero_returns_the_prompt(hs):
    doc = complete(hs, prompt="Only this", echo=True, max_tokens=0)
    assert doc["choices"][0]["text"] == "Only this"
    assert doc["usage"]["completion_tokens"] == 0


def test_stop_and_logprobs(hs):
    doc = complete(hs, stop=["."], logprobs=3, max_tokens=40, seed=2)
    c = doc["choices"][0]
    assert "." not in c["text"] and c["finish_reason"] == "stop"
    lp = c["logprobs"]
    assert "".join(lp["tokens"]) == c["text"]
    assert len(lp["token_logprobs"]) == len(lp["top_logprobs"]) == len(lp["text_offset"])
    assert all(len(t) <= 3 for t in lp["top_logprobs"])
    assert lp["text_offset"][1] == len(lp["tokens"][0])


def test_stream(hs):
    method, pattern, h = hs[NAME]
    _, _, s = h(FakeReq(method, pattern.encode(), {
        "model": MODEL, "prompt": "Hi", "max_tokens": 7, "stream": True, "echo": True,
        "stream_options": {"include_usage": True}}))
    frames, _ = sse_events(s)
    assert frames[-1] == "[DONE]"
    usage = frames[-2]
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] == 7
    chunks = frames[:-2]
    assert all(f["object"] == "text_completion" and f["usage"] is None for f in chunks)
    assert chunks[0]["choices"][0]["text"] == "Hi"
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    text = "".join(f["choices"][0]["text"] for f in chunks[1:])
    assert count(text) == 7


def test_streamed_logprobs_are_per_token(hs):
    method, pattern, h = hs[NAME]
    _, _, s = h(FakeReq(method, pattern.encode(), {
        "model": MODEL, "prompt": "Hi", "max_tokens": 5, "stream": True, "logprobs": 1,
        "seed": 3}))
    frames, _ = sse_events(s)
    streamed = [f["choices"][0]["logprobs"]["tokens"][0] for f in frames[:-2]]
    whole = complete(hs, prompt="Hi", max_tokens=5, logprobs=1, seed=3)["choices"][0]
    assert "".join(streamed) == whole["text"]


@pytest.mark.parametrize("body,status,param", [
    ({"model": "gpt-4o-mini", "prompt": "x"}, 404, "model"),
    ({"model": MODEL, "prompt": {"a": 1}}, 400, None),
    ({"model": MODEL, "prompt": []}, 400, None),
    ({"model": MODEL}, 400, "prompt"),
    ({"model": MODEL, "prompt": "x", "logprobs": 6}, 400, "logprobs"),
    ({"model": MODEL, "prompt": "x", "n": 3, "best_of": 2}, 400, "best_of"),
    ({"model": MODEL, "prompt": "x", "max_tokens": 10**6}, 400, "max_tokens"),
])
def test_errors(hs, body, status, param):
    with pytest.raises(ApiError) as e:
        call(hs, NAME, body)
    assert (e.value.status, e.value.param) == (status, param)


@pytest.mark.parametrize("body,message,param,code", [
    ({"prompt": "x"}, "Missing required parameter: 'model'.", "model",
     "missing_required_parameter"),
    ({"n": 0}, "Invalid 'n': integer below minimum value. Expected a value >= 1, but got 0 "
     "instead.", "n", "integer_below_min_value"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "Invalid 'stop': array too long. Expected an array "
     "with maximum length 4, but got an array with length 5 instead.", "stop",
     "array_above_max_length"),
    # msgspec does not name a mapping's key: the param keeps its [...], the value shown is
    # the mapping's
    ({"logit_bias": {"50256": 101}}, "Invalid 'logit_bias[...]': integer above maximum value. "
     'Expected a value <= 100, but got {"50256":101} instead.', "logit_bias[...]",
     "integer_above_max_value"),
    ({"bogus": 1}, "Unrecognized request argument supplied: bogus", None, None),
    ({"temperature": "hot"}, "Invalid type for 'temperature': expected a number, but got a "
     "string instead.", "temperature", "invalid_type"),
])
def test_body_errors_in_openai_words(hs, body, message, param, code):
    full = {"model": MODEL, "prompt": "x", **body} if "prompt" not in body else body
    with pytest.raises(ApiError) as e:
        call(hs, NAME, full)
    assert (e.value.status, e.value.message, e.value.param, e.value.code) == \
        (400, message, param, code)
