"""Streamed chat completions and the per-choice features: tools, formats, logprobs."""

import json

import jsonschema
import pytest

from llmsim.errors import ApiError
from llmsim.sim.tokens import count
from openai_fakes import FakePlanner, FakeReq, call, handlers, header_map, sse_events

CHAT = "openai.chat_completions"
USER = [{"role": "user", "content": "Tell me something."}]
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 7}},
        "required": ["city", "unit"], "additionalProperties": False}}}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {
    "type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}}}


def stream(hs, step=1, headers=None, **body):
    body.setdefault("model", "gpt-4o-mini")
    body.setdefault("messages", USER)
    body["stream"] = True
    method, pattern, handler = hs[CHAT]
    status, head, s = handler(FakeReq(method, pattern.encode(), body, headers))
    assert status == 200
    assert header_map(head)["content-type"].startswith("text/event-stream")
    return sse_events(s, step)


def chat(hs, **body):
    body.setdefault("model", "gpt-4o-mini")
    body.setdefault("messages", USER)
    return json.loads(call(hs, CHAT, body)[2])


@pytest.fixture
def hs():
    return handlers(planner=FakePlanner(length=12))


def test_stream_shape(hs):
    frames, dues = stream(hs)
    *chunks, done = frames
    assert done == "[DONE]"
    assert len({c["id"] for c in chunks}) == 1 and len({c["created"] for c in chunks}) == 1
    assert all(c["object"] == "chat.completion.chunk" and "usage" not in c for c in chunks)
    first, *tokens, last = chunks
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert len(tokens) == 12
    assert all(set(t["choices"][0]["delta"]) == {"content"} for t in tokens)
    assert all(t["choices"][0]["finish_reason"] is None for t in tokens)
    assert last["choices"][0] == {"index": 0, "delta": {}, "logprobs": None,
                                  "finish_reason": "stop"}
    text = "".join(t["choices"][0]["delta"]["content"] for t in tokens)
    assert count(text) == 12 and text[0].isupper()


def test_events_fall_due_with_the_plan(hs):
    _, dues = stream(hs)
    ttft, itl = 2_000_000, 100_000
    assert dues[0] == dues[1] == ttft
    assert dues[1:13] == [ttft + i * itl for i in range(12)]
    assert dues[-1] == dues[-2] == ttft + 11 * itl


@pytest.mark.parametrize("step", [2, 5, 100])
def test_rendering_in_batches_gives_the_same_bytes(step):
    a = stream(handlers(planner=FakePlanner(length=12)), seed=4)[0]
    b = stream(handlers(planner=FakePlanner(length=12)), step=step, seed=4)[0]
    strip = [{k: v for k, v in f.items() if k != "id"} if isinstance(f, dict) else f for f in a]
    assert strip == [{k: v for k, v in f.items() if k != "id"} if isinstance(f, dict) else f
                     for f in b]


def test_include_usage_adds_a_usage_chunk_and_nulls_elsewhere(hs):
    frames, _ = stream(hs, stream_options={"include_usage": True})
    *chunks, usage_chunk, done = frames
    assert done == "[DONE]"
    assert all("usage" in c and c["usage"] is None for c in chunks)
    assert usage_chunk["choices"] == []
    u = usage_chunk["usage"]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert u["completion_tokens"] == count(text) == 12
    assert u["total_tokens"] == u["prompt_tokens"] + 12


def test_streamed_and_non_streamed_say_the_same_for_a_seed(hs):
    frames, _ = stream(hs, seed=11)
    text = "".join(f["choices"][0]["delta"].get("content") or "" for f in frames[:-1]
                   if f["choices"])
    assert chat(hs, seed=11)["choices"][0]["message"]["content"] == text


def test_n_choices_stream_interleaved(hs):
    frames, _ = stream(hs, n=2, stop=".", seed=2)
    texts, finishes = {0: "", 1: ""}, {}
    for f in frames[:-1]:
        (c,) = f["choices"]
        texts[c["index"]] += c["delta"].get("content") or ""
        if c["finish_reason"]:
            finishes[c["index"]] = c["finish_reason"]
    assert finishes == {0: "stop", 1: "stop"}
    assert "." not in texts[0] + texts[1] and texts[0] != texts[1]


def test_cancelled_stream_releases_the_plan():
    planner = FakePlanner(length=12)
    hs = handlers(planner=planner)
    method, pattern, handler = hs[CHAT]
    _, _, s = handler(FakeReq(method, pattern.encode(), {"model": "gpt-4o-mini",
                                                         "messages": USER, "stream": True}))
    s.render(0, 3)
    s.close()
    assert len(planner.released) == 1


def test_a_finished_stream_keeps_its_booking():
    planner = FakePlanner(length=12)
    stream(handlers(planner=planner))
    assert planner.released == []


# ---- tools ---------------------------------------------------------------------------------

def _args_valid(tool, arguments):
    jsonschema.validate(json.loads(arguments), tool["function"]["parameters"])


@pytest.mark.parametrize("seed", range(6))
def test_tool_call_arguments_follow_the_schema(hs, seed):
    doc = chat(hs, tools=[WEATHER], seed=seed)
    (choice,) = doc["choices"]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    (tc,) = choice["message"]["tool_calls"]
    assert tc["id"].startswith("call_") and tc["type"] == "function"
    assert tc["function"]["name"] == "get_weather"
    _args_valid(WEATHER, tc["function"]["arguments"])
    assert doc["usage"]["completion_tokens"] == 1 + count(tc["function"]["arguments"])


def test_tool_choice_none_answers_in_text(hs):
    doc = chat(hs, tools=[WEATHER], tool_choice="none")
    assert doc["choices"][0]["finish_reason"] == "stop"
    assert doc["choices"][0]["message"]["content"]


def test_auto_answers_in_text_after_a_tool_result_and_required_calls_again(hs):
    messages = USER + [
        {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {
            "name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]
    assert chat(hs, tools=[WEATHER], messages=messages)["choices"][0]["finish_reason"] == "stop"
    doc = chat(hs, tools=[WEATHER], messages=messages, tool_choice="required")
    assert doc["choices"][0]["finish_reason"] == "tool_calls"


def test_named_tool_choice_and_parallel_calls(hs):
    doc = chat(hs, tools=[WEATHER, TIME],
               tool_choice={"type": "function", "function": {"name": "get_time"}})
    calls = doc["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_time"]
    doc = chat(hs, tools=[WEATHER, TIME], parallel_tool_calls=True, seed=1)
    calls = doc["choices"][0]["message"]["tool_calls"]
    assert sorted(c["function"]["name"] for c in calls) == ["get_time", "get_weather"]
    assert len({c["id"] for c in calls}) == 2


def test_streamed_tool_calls_assemble_to_valid_arguments(hs):
    frames, _ = stream(hs, tools=[WEATHER, TIME], parallel_tool_calls=True,
                       stream_options={"include_usage": True}, seed=5)
    calls, finish = {}, None
    for f in frames[:-2]:
        (c,) = f["choices"]
        finish = c["finish_reason"] or finish
        for d in c["delta"].get("tool_calls") or ():
            entry = calls.setdefault(d["index"], {"name": "", "arguments": "", "id": None})
            entry["id"] = d.get("id") or entry["id"]
            fn = d.get("function") or {}
            entry["name"] += fn.get("name") or ""
            entry["arguments"] += fn.get("arguments") or ""
    assert finish == "tool_calls" and len(calls) == 2
    tools = {"get_weather": WEATHER, "get_time": TIME}
    for entry in calls.values():
        assert entry["id"].startswith("call_")
        _args_valid(tools[entry["name"]], entry["arguments"])
    usage = frames[-2]["usage"]
    assert usage["completion_tokens"] == sum(1 + count(e["arguments"]) for e in calls.values())


@pytest.mark.parametrize("body,param", [
    ({"tool_choice": "auto"}, "tool_choice"),
    ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}},
     "tool_choice.function.name"),
    ({"tools": [{"type": "function", "function": {"name": "bad name!"}}]},
     "tools[0].function.name"),
    ({"tools": [{"type": "function"}]}, "tools[0].function"),
    ({"parallel_tool_calls": True}, "parallel_tool_calls"),
])
def test_tool_errors(hs, body, param):
    with pytest.raises(ApiError) as e:
        call(hs, CHAT, {"model": "gpt-4o-mini", "messages": USER, **body})
    assert e.value.status == 400 and e.value.param == param


# ---- response formats --------------------------------------------------------------------

SCHEMA = {"type": "object", "properties": {
    "title": {"type": "string", "minLength": 3},
    "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 4},
    "score": {"type": "number", "minimum": 0, "maximum": 1},
    "kind": {"anyOf": [{"type": "string", "enum": ["a", "b"]}, {"type": "null"}]},
    "meta": {"$ref": "#/$defs/meta"}},
    "required": ["title", "tags", "score", "kind", "meta"], "additionalProperties": False,
    "$defs": {"meta": {"type": "object", "properties": {"at": {"type": "string",
                                                               "format": "date-time"}},
                       "required": ["at"], "additionalProperties": False}}}


@pytest.mark.parametrize("seed", range(5))
def test_json_schema_content_validates(hs, seed):
    doc = chat(hs, seed=seed, response_format={"type": "json_schema", "json_schema": {
        "name": "item", "strict": True, "schema": SCHEMA}})
    content = doc["choices"][0]["message"]["content"]
    jsonschema.validate(json.loads(content), SCHEMA)
    assert doc["usage"]["completion_tokens"] == count(content)


def test_json_object_content_parses_and_needs_the_word_json(hs):
    messages = [{"role": "user", "content": "Answer in JSON."}]
    doc = chat(hs, messages=messages, response_format={"type": "json_object"})
    assert isinstance(json.loads(doc["choices"][0]["message"]["content"]), dict)
    with pytest.raises(ApiError) as e:
        call(hs, CHAT, {"model": "gpt-4o-mini", "messages": USER,
                        "response_format": {"type": "json_object"}})
    assert e.value.status == 400 and "json" in e.value.message


def test_streamed_json_schema_content_validates(hs):
    frames, _ = stream(hs, seed=3, response_format={"type": "json_schema", "json_schema": {
        "name": "item", "schema": SCHEMA}})
    text = "".join(f["choices"][0]["delta"].get("content") or "" for f in frames[:-1])
    jsonschema.validate(json.loads(text), SCHEMA)


# ---- logprobs ---------------------------------------------------------------------------

def test_logprobs_cover_every_token(hs):
    doc = chat(hs, logprobs=True, top_logprobs=3, seed=1)
    choice = doc["choices"][0]
    entries = choice["logprobs"]["content"]
    assert choice["logprobs"]["refusal"] is None
    assert "".join(e["token"] for e in entries) == choice["message"]["content"]
    assert len(entries) == doc["usage"]["completion_tokens"]
    for e in entries:
        assert e["logprob"] <= 0 and bytes(e["bytes"]).decode() == e["token"]
        assert len(e["top_logprobs"]) == 3 and e["top_logprobs"][0]["token"] == e["token"]
        lps = [t["logprob"] for t in e["top_logprobs"]]
        assert lps == sorted(lps, reverse=True)


def test_streamed_logprobs_match_non_streamed(hs):
    body = {"logprobs": True, "top_logprobs": 2, "seed": 9}
    entries = chat(hs, **body)["choices"][0]["logprobs"]["content"]
    frames, _ = stream(hs, **body)
    streamed = [e for f in frames[1:-2] for e in f["choices"][0]["logprobs"]["content"]]
    assert streamed == entries


def test_top_logprobs_needs_logprobs(hs):
    with pytest.raises(ApiError) as e:
        call(hs, CHAT, {"model": "gpt-4o-mini", "messages": USER, "top_logprobs": 2})
    assert e.value.param == "top_logprobs"


def test_reasoning_models_report_reasoning_tokens(hs):
    doc = chat(hs, model="o4-mini", max_completion_tokens=2000)
    details = doc["usage"]["completion_tokens_details"]
    text = doc["choices"][0]["message"]["content"]
    assert details["reasoning_tokens"] > 0
    assert doc["usage"]["completion_tokens"] == count(text) + details["reasoning_tokens"]
    low = chat(hs, model="o4-mini", reasoning_effort="minimal")
    assert low["usage"]["completion_tokens_details"]["reasoning_tokens"] == 0
