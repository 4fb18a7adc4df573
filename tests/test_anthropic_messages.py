"""POST /v1/messages and /v1/messages/count_tokens called as handlers with fake requests:
shapes, accounting, stop reasons, tools, thinking, structured output, stream event order,
and Anthropic's error wording."""

import json
import zlib

import jsonschema
import pytest

from llmsim.errors import ApiError, render
from llmsim.sim.tokens import count
from openai_fakes import FakePlanner as Planner
from provider_fakes import call, drain, handlers

MESSAGES = "anthropic.messages"
MODEL = "claude-haiku-4-5"
USER = [{"role": "user", "content": "Tell me something."}]
WEATHER = {"name": "get_weather", "description": "Weather in a city",
           "input_schema": {"type": "object",
                            "properties": {"city": {"type": "string"},
                                           "unit": {"enum": ["c", "f"]},
                                           "days": {"type": "integer", "minimum": 1,
                                                    "maximum": 7}},
                            "required": ["city", "days"], "additionalProperties": False}}
CLOCK = {"name": "get_time", "input_schema": {"type": "object", "properties": {}}}


@pytest.fixture
def planner():
    return Planner(length=20)


@pytest.fixture
def hs(planner):
    return handlers(planner=planner)


def body(**kw):
    out = {"model": MODEL, "max_tokens": 100, "messages": USER}
    out.update(kw)
    return out


def create(hs, **kw):
    status, head, out = call(hs, MESSAGES, body(**kw))
    assert status == 200
    return json.loads(out.body), head, out.delay_ns


def events(hs, **kw):
    status, head, out = call(hs, MESSAGES, body(stream=True, **kw))
    assert status == 200 and head["content-type"] == "text/event-stream; charset=utf-8"
    raw, dues = drain(out)
    frames = raw.decode().split("\n\n")
    assert frames.pop() == ""
    parsed = []
    for f in frames:
        name, data = f.split("\n")
        assert name.startswith("event: ") and data.startswith("data: ")
        doc = json.loads(data[6:])
        assert doc["type"] == name[7:]
        parsed.append(doc)
    return parsed, dues, head


def error(hs, b, name=MESSAGES):
    with pytest.raises(ApiError) as e:
        call(hs, name, b)
    return e.value


def streamed_text(evs, index=0, kind="text_delta", field="text"):
    return "".join(e["delta"][field] for e in evs if e["type"] == "content_block_delta"
                   and e["index"] == index and e["delta"]["type"] == kind)


def test_message_shape_and_accounting(hs, planner):
    doc, head, delay = create(hs)
    assert doc["type"] == "message" and doc["role"] == "assistant" and doc["model"] == MODEL
    assert doc["id"].startswith("msg_01") and len(doc["id"]) == 28
    (block,) = doc["content"]
    assert block["type"] == "text"
    assert doc["stop_reason"] == "end_turn" and doc["stop_sequence"] is None
    u = doc["usage"]
    assert u["output_tokens"] == count(block["text"]) == 20
    assert u["input_tokens"] == count("Tell me something.") + 3 + 3
    assert u["cache_read_input_tokens"] == 0 and u["service_tier"] == "standard"
    assert head["content-type"] == "application/json"
    assert head["request-id"].startswith("req_011C") and len(head["request-id"]) == 28
    assert delay == 2_000_000 + 19 * 100_000
    assert len(planner.admitted) == 1


def test_system_and_block_content_count_as_input(hs):
    plain = create(hs)[0]["usage"]["input_tokens"]
    blocks = [{"role": "user", "content": [{"type": "text", "text": "Tell me something."},
                                           {"type": "image", "source": {
                                               "type": "base64", "media_type": "image/png",
                                               "data": "iVBORw0KGgo="}}]}]
    doc = create(hs, system=[{"type": "text", "text": "Be brief."}], messages=blocks,
                 metadata={"user_id": "u-1"}, temperature=0.2)[0]
    assert doc["usage"]["input_tokens"] == plain + 3 + count("Be brief.") + 1600
    assert create(hs, system="Be brief.")[0]["usage"]["input_tokens"] == \
        plain + 3 + count("Be brief.")


def test_max_tokens_cuts_the_answer(hs):
    doc = create(hs, max_tokens=5)[0]
    assert doc["stop_reason"] == "max_tokens"
    assert doc["usage"]["output_tokens"] == count(doc["content"][0]["text"]) == 5


def test_stop_sequence_ends_the_text_before_it(hs):
    full = create(hs, messages=[{"role": "user", "content": "x"}],
                  **{"stop_sequences": []})[0]["content"][0]["text"]
    stop = full[len(full) // 2:len(full) // 2 + 3]
    hs2 = handlers(planner=Planner(length=20), generators={"default": {
        "type": "fixed", "text": full}})
    doc = create(hs2, stop_sequences=["zzz-never", stop])[0]
    text = doc["content"][0]["text"]
    assert doc["stop_reason"] == "stop_sequence" and doc["stop_sequence"] == stop
    assert full.startswith(text) and full[len(text):].startswith(stop) and stop not in text
    assert doc["usage"]["output_tokens"] == count(text)
    evs, _, _ = events(hs2, stop_sequences=[stop])
    assert streamed_text(evs) == text
    assert evs[-2]["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": stop}
    assert evs[-2]["usage"]["output_tokens"] == count(text)


def test_stream_event_order_and_timing(hs, planner):
    evs, dues, head = events(hs)
    types = [e["type"] for e in evs]
    assert types[:3] == ["message_start", "content_block_start", "ping"]
    assert types[3:-3] == ["content_block_delta"] * 20
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    start = evs[0]["message"]
    assert start["content"] == [] and start["stop_reason"] is None
    assert start["usage"]["input_tokens"] == count("Tell me something.") + 6
    assert evs[1]["content_block"] == {"type": "text", "text": ""}
    text = streamed_text(evs)
    assert evs[-2]["usage"]["output_tokens"] == count(text) == 20
    assert evs[-2]["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert dues == sorted(dues) and dues[0] == 2_000_000
    assert dues[-1] == 2_000_000 + 19 * 100_000
    assert head["request-id"].startswith("req_")
    assert planner.released == []  # a finished stream holds its slot to its end


class SeededPlanner(Planner):
    """Keys requests by their body, as the real planner does under a global seed."""

    def request_key(self, seed, body):
        return zlib.crc32(body)


def test_same_request_same_text_under_a_global_seed():
    a, b = handlers(planner=SeededPlanner()), handlers(planner=SeededPlanner())
    assert create(a)[0]["content"] == create(b)[0]["content"]
    assert create(a, tools=[WEATHER])[0]["content"][0]["input"] == \
        create(b, tools=[WEATHER])[0]["content"][0]["input"]


@pytest.mark.parametrize("choice", [None, {"type": "auto"}, {"type": "any"},
                                    {"type": "tool", "name": "get_weather"}])
def test_tool_use_input_validates_against_the_schema(hs, choice):
    kw = {"tools": [WEATHER, CLOCK]} if choice is None else {"tools": [WEATHER, CLOCK],
                                                             "tool_choice": choice}
    for _ in range(8):
        doc = create(hs, **kw)[0]
        assert doc["stop_reason"] == "tool_use"
        (block,) = doc["content"]
        assert block["type"] == "tool_use" and block["id"].startswith("toolu_01")
        tool = {"get_weather": WEATHER, "get_time": CLOCK}[block["name"]]
        if choice and choice["type"] == "tool":
            assert block["name"] == "get_weather"
        jsonschema.validate(block["input"], tool["input_schema"])
        assert doc["usage"]["output_tokens"] == count(json.dumps(
            block["input"], separators=(",", ":")))


def test_auto_answers_in_text_after_a_tool_result_and_none_never_calls(hs):
    turns = USER + [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1",
                                           "name": "get_time", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                      "content": "12:00"}]}]
    doc = create(hs, tools=[CLOCK], messages=turns)[0]
    assert doc["stop_reason"] == "end_turn" and doc["content"][0]["type"] == "text"
    doc = create(hs, tools=[CLOCK], tool_choice={"type": "none"})[0]
    assert doc["content"][0]["type"] == "text"


def test_streamed_tool_use_builds_the_input_json(hs):
    evs, dues, _ = events(hs, tools=[WEATHER], tool_choice={"type": "any"})
    assert evs[1]["content_block"]["type"] == "tool_use"
    assert evs[1]["content_block"]["input"] == {}
    deltas = [e["delta"] for e in evs if e["type"] == "content_block_delta"]
    assert all(d["type"] == "input_json_delta" for d in deltas) and deltas[0]["partial_json"] == ""
    args = json.loads("".join(d["partial_json"] for d in deltas))
    jsonschema.validate(args, WEATHER["input_schema"])
    assert evs[-2]["delta"]["stop_reason"] == "tool_use"
    assert evs[-2]["usage"]["output_tokens"] == len(deltas) - 1
    assert dues == sorted(dues)


def test_thinking_comes_first_and_counts_as_output(hs):
    kw = {"max_tokens": 2048, "thinking": {"type": "enabled", "budget_tokens": 1024}}
    doc = create(hs, **kw)[0]
    thinking, text = doc["content"]
    assert thinking["type"] == "thinking" and thinking["signature"]
    assert doc["usage"]["output_tokens"] == count(thinking["thinking"]) + count(text["text"])
    assert doc["usage"]["output_tokens"] == 20
    evs, _, _ = events(hs, **kw)
    assert [e["content_block"]["type"] for e in evs if e["type"] == "content_block_start"] \
        == ["thinking", "text"]
    assert evs[1]["content_block"] == {"type": "thinking", "thinking": "", "signature": ""}
    sig = [e for e in evs if e["type"] == "content_block_delta"
           and e["delta"]["type"] == "signature_delta"]
    assert len(sig) == 1 and sig[0]["index"] == 0
    assert count(streamed_text(evs, 0, "thinking_delta", "thinking")) + \
        count(streamed_text(evs, 1)) == evs[-2]["usage"]["output_tokens"] == 20


def test_output_format_gives_json_valid_against_the_schema(hs):
    schema = {"type": "object", "properties": {"name": {"type": "string"},
                                               "age": {"type": "integer", "minimum": 0}},
              "required": ["name", "age"], "additionalProperties": False}
    doc = create(hs, output_config={"format": {"type": "json_schema", "schema": schema}})[0]
    jsonschema.validate(json.loads(doc["content"][0]["text"]), schema)


def test_count_tokens_matches_usage(hs):
    kw = {"system": "Be brief.", "tools": [WEATHER]}
    doc = create(hs, tool_choice={"type": "none"}, **kw)[0]
    status, head, out = call(hs, "anthropic.count_tokens",
                             {"model": MODEL, "messages": USER, "tool_choice": {"type": "none"},
                              **kw})
    assert status == 200 and head["request-id"].startswith("req_")
    assert json.loads(out) == {"input_tokens": doc["usage"]["input_tokens"]}


@pytest.mark.parametrize("b, status, message", [
    (b"{", 400, "There was an issue with the JSON body of your request: it is not valid JSON."),
    ({"model": MODEL, "messages": USER}, 400, "max_tokens: Field required"),
    (body(max_tokens="x"), 400, "max_tokens: Input should be a valid integer"),
    (body(max_tokens=0), 400, "max_tokens: Input should be greater than or equal to 1"),
    (body(temperature=1.5), 400, "temperature: Input should be less than or equal to 1"),
    (body(foo=1), 400, "foo: Extra inputs are not permitted"),
    (body(messages=[{"role": "bot", "content": "x"}]), 400,
     "messages.0.role: Input should be 'user' or 'assistant'"),
    (body(messages=[{"role": "user", "content": [{"type": "video"}]}]), 400,
     "messages.0.content.0: Input tag 'video' found using 'type' does not match any of the "
     "expected tags: 'text', 'image', 'document', 'search_result', 'tool_use', 'tool_result', "
     "'thinking', 'redacted_thinking'"),
    (body(messages=[{"role": "user", "content": [{"type": "text"}]}]), 400,
     "messages.0.content.0.text: Field required"),
    (body(messages=[]), 400, "messages: List should have at least 1 item after validation, "
                             "not 0"),
    (body(model="claude-nope"), 404, "model: claude-nope"),
    (body(model="text-embedding-3-small"), 404, "model: text-embedding-3-small"),
    (body(max_tokens=10 ** 6), 400, "max_tokens: 1000000 > 64000, which is the maximum "
                                    "allowed number of output tokens for claude-haiku-4-5"),
    (body(tools=[{"name": "t"}]), 400, "tools.0.custom.input_schema: Field required"),
    (body(tool_choice={"type": "any"}), 400,
     "tool_choice may only be specified while providing tools."),
    (body(tools=[CLOCK], tool_choice={"type": "tool", "name": "nope"}), 400,
     "tool_choice.name: Tool 'nope' not found in the provided tools"),
    (body(thinking={"type": "enabled", "budget_tokens": 100}), 400,
     "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"),
])
def test_errors_in_anthropic_words(hs, b, status, message):
    e = error(hs, b)
    assert (e.status, e.message) == (status, message)
    doc = json.loads(render("anthropic", e, "req_1"))
    assert doc["type"] == "error" and doc["request_id"] == "req_1"
    assert doc["error"]["type"] == ("not_found_error" if status == 404
                                    else "invalid_request_error")


def test_thinking_rules(hs):
    e = error(hs, body(max_tokens=1024, thinking={"type": "enabled", "budget_tokens": 1024}))
    assert e.message.startswith("`max_tokens` must be greater than `thinking.budget_tokens`.")
    e = error(hs, body(max_tokens=2000, temperature=0.5,
                       thinking={"type": "enabled", "budget_tokens": 1024}))
    assert e.message.startswith("`temperature` may only be set to 1 when thinking is enabled.")


def test_unknown_generator_header_is_an_anthropic_400(hs):
    with pytest.raises(ApiError) as e:
        call(hs, MESSAGES, body(), headers={b"x-llmsim-generator": b"nope"})
    assert e.value.status == 400
    assert json.loads(render("anthropic", e.value))["error"]["type"] == "invalid_request_error"


SCRIPT = {"default": {"type": "script", "fallback": "corpus", "rules": [
    {"match": "weather", "tool_call": {"name": "get_weather",
                                       "arguments": {"city": "Paris", "days": 2}}},
    {"match": "hello", "reply": "Hi! How can I help?"},
    {"match": "overload", "error": {"status": 529, "message": "Overloaded"}},
    {"match": "slow down", "error": {"status": 429, "message": "Rate limited",
                                     "type": "rate_limit_exceeded"}},
]}}


def test_scripted_replies_tool_calls_and_errors():
    hs = handlers(generators=SCRIPT)
    doc = create(hs, messages=[{"role": "user", "content": "Hello there"}])[0]
    assert doc["content"] == [{"type": "text", "text": "Hi! How can I help?"}]
    assert doc["usage"]["output_tokens"] == count("Hi! How can I help?")
    doc = create(hs, messages=[{"role": "user", "content": "What's the weather?"}])[0]
    assert doc["stop_reason"] == "tool_use"
    assert doc["content"][0]["input"] == {"city": "Paris", "days": 2}
    evs, _, _ = events(hs, messages=[{"role": "user", "content": "weather?"}])
    partial = "".join(e["delta"]["partial_json"] for e in evs
                      if e["type"] == "content_block_delta")
    assert json.loads(partial) == {"city": "Paris", "days": 2}
    for text, status, kind in (("overload", 529, "overloaded_error"),
                               ("slow down", 429, "rate_limit_error")):
        e = error(hs, body(messages=[{"role": "user", "content": text}]))
        assert e.status == status
        assert json.loads(render("anthropic", e))["error"]["type"] == kind
