"""POST /v1/responses, non-streamed and streamed, called as a handler with a fake request."""

import json

import jsonschema
import pytest

from llmsim.errors import ApiError
from llmsim.sim.tokens import count
from openai_fakes import FakePlanner, FakeReq, call, handlers, sse_events

NAME = "openai.responses"
TOOL = {"type": "function", "name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
    "additionalProperties": False}}


@pytest.fixture
def hs():
    return handlers(planner=FakePlanner(length=10))


def respond(hs, **body):
    body.setdefault("model", "gpt-4o-mini")
    body.setdefault("input", "Hello there")
    return json.loads(call(hs, NAME, body)[2])


def events(hs, **body):
    body.setdefault("model", "gpt-4o-mini")
    body.setdefault("input", "Hello there")
    body["stream"] = True
    method, pattern, h = hs[NAME]
    _, _, s = h(FakeReq(method, pattern.encode(), body))
    wire = s.render(0, s.n_events)
    s.close()
    out = []
    for block in wire.split(b"\n\n")[:-1]:
        head, data = block.split(b"\n")
        doc = json.loads(data[6:])
        assert head == b"event: " + doc["type"].encode()
        out.append(doc)
    return out


def test_text_response(hs):
    doc = respond(hs, instructions="Be brief.", metadata={"k": "v"})
    assert doc["object"] == "response" and doc["id"].startswith("resp_")
    assert doc["status"] == "completed" and doc["error"] is None
    assert doc["instructions"] == "Be brief." and doc["metadata"] == {"k": "v"}
    (item,) = doc["output"]
    assert item["type"] == "message" and item["role"] == "assistant"
    assert item["status"] == "completed" and item["id"].startswith("msg_")
    text = item["content"][0]["text"]
    u = doc["usage"]
    assert u["output_tokens"] == count(text) == 10
    assert u["input_tokens"] == 3 + count("Hello there") + 3 + 3 + count("Be brief.")
    assert u["total_tokens"] == u["input_tokens"] + u["output_tokens"]


def test_max_output_tokens_makes_it_incomplete(hs):
    doc = respond(hs, max_output_tokens=16, input="x")
    assert doc["status"] == "completed"
    doc = respond(handlers(planner=FakePlanner(length=50)), max_output_tokens=16)
    assert doc["status"] == "incomplete"
    assert doc["incomplete_details"] == {"reason": "max_output_tokens"}
    assert doc["usage"]["output_tokens"] == 16


def test_items_input_and_function_calls(hs):
    doc = respond(hs, input=[{"role": "user", "content": [{"type": "input_text",
                                                          "text": "Weather in Oslo?"}]}],
                  tools=[TOOL])
    (call_item,) = doc["output"]
    assert call_item["type"] == "function_call" and call_item["name"] == "get_weather"
    assert call_item["call_id"].startswith("call_") and call_item["id"].startswith("fc_")
    jsonschema.validate(json.loads(call_item["arguments"]), TOOL["parameters"])
    follow = [{"role": "user", "content": "Weather in Oslo?"}, call_item,
              {"type": "function_call_output", "call_id": call_item["call_id"],
               "output": "sunny"}]
    doc = respond(hs, input=follow, tools=[TOOL])
    assert doc["output"][0]["type"] == "message"


def test_json_schema_format(hs):
    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 3}},
              "required": ["n"], "additionalProperties": False}
    doc = respond(hs, text={"format": {"type": "json_schema", "name": "x", "schema": schema,
                                       "strict": True}})
    jsonschema.validate(json.loads(doc["output"][0]["content"][0]["text"]), schema)
    assert doc["text"]["format"]["type"] == "json_schema"


def test_reasoning_model_has_a_reasoning_item(hs):
    doc = respond(hs, model="o4-mini", reasoning={"effort": "low"})
    assert [i["type"] for i in doc["output"]] == ["reasoning", "message"]
    assert doc["usage"]["output_tokens_details"]["reasoning_tokens"] > 0


def test_stream_event_sequence(hs):
    evs = events(hs)
    types = [e["type"] for e in evs]
    assert types[:4] == ["response.created", "response.in_progress",
                         "response.output_item.added", "response.content_part.added"]
    assert types[4:14] == ["response.output_text.delta"] * 10
    assert types[14:] == ["response.output_text.done", "response.content_part.done",
                          "response.output_item.done", "response.completed"]
    assert [e["sequence_number"] for e in evs] == list(range(len(evs)))
    text = "".join(e["delta"] for e in evs if e["type"] == "response.output_text.delta")
    assert evs[14]["text"] == text
    final = evs[-1]["response"]
    assert final["status"] == "completed" and final["output"][0]["content"][0]["text"] == text
    assert evs[0]["response"]["status"] == "in_progress" and evs[0]["response"]["output"] == []
    assert len({e["response"]["id"] for e in (evs[0], evs[1], evs[-1])}) == 1


def test_streamed_function_call_arguments(hs):
    evs = events(hs, tools=[TOOL], tool_choice="required")
    deltas = "".join(e["delta"] for e in evs
                     if e["type"] == "response.function_call_arguments.delta")
    done = next(e for e in evs if e["type"] == "response.function_call_arguments.done")
    assert done["arguments"] == deltas and done["name"] == "get_weather"
    jsonschema.validate(json.loads(deltas), TOOL["parameters"])
    assert evs[-1]["response"]["output"][0]["arguments"] == deltas


def test_streamed_incomplete(hs):
    evs = events(handlers(planner=FakePlanner(length=40)), max_output_tokens=16)
    assert evs[-1]["type"] == "response.incomplete"
    assert evs[-1]["response"]["status"] == "incomplete"


@pytest.mark.parametrize("body,param", [
    ({"input": None}, "input"),
    ({"input": 5}, "input"),
    ({"input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
    ({"input": [{"role": "user"}]}, "input[0].content"),
    ({"max_output_tokens": 5}, "max_output_tokens"),
    ({"tools": [TOOL], "tool_choice": {"type": "function", "name": "nope"}}, "tool_choice.name"),
    ({"model": "text-embedding-3-small"}, "model"),
])
def test_errors(hs, body, param):
    base = {"model": "gpt-4o-mini", "input": "hi"}
    with pytest.raises(ApiError) as e:
        call(hs, NAME, {**base, **body})
    assert e.value.status == 400 and e.value.param == param
