"""POST /v1/chat/completions, non-streamed, called as a handler with a fake request."""

import json

import pytest

from llmsim.errors import ApiError
from llmsim.sim.tokens import count
from openai_fakes import FakePlanner, call, handlers, header_map

CHAT = "openai.chat_completions"
USER = [{"role": "user", "content": "Tell me something."}]


@pytest.fixture
def hs():
    return handlers()


def chat(hs, headers=None, **body):
    body.setdefault("model", "gpt-4o-mini")
    body.setdefault("messages", USER)
    status, head, out, delay = call(hs, CHAT, body, headers)
    assert status == 200
    return json.loads(out), header_map(head), delay


def error(hs, body, headers=None):
    with pytest.raises(ApiError) as e:
        call(hs, CHAT, body, headers)
    return e.value


def test_answer_shape_and_accounting(hs):
    doc, head, delay = chat(hs)
    assert doc["object"] == "chat.completion" and doc["model"] == "gpt-4o-mini"
    assert doc["id"].startswith("chatcmpl-") and len(doc["id"]) == 9 + 29
    assert doc["id"][9:].isalnum()
    (choice,) = doc["choices"]
    msg = choice["message"]
    assert msg["role"] == "assistant" and msg["refusal"] is None
    assert choice["finish_reason"] == "stop" and choice["index"] == 0
    u = doc["usage"]
    assert u["completion_tokens"] == count(msg["content"]) == 20
    assert u["prompt_tokens"] == count("Tell me something.") + 3 + 3
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]
    assert doc["system_fingerprint"].startswith("fp_")
    assert head["content-type"] == "application/json"
    assert head["openai-version"] == "2020-10-01"
    assert head["x-request-id"].startswith("req_") and len(head["x-request-id"]) == 36
    assert int(head["openai-processing-ms"]) == delay // 1_000_000


def test_answer_arrives_after_the_planned_generation_time(hs):
    _, _, delay = chat(hs)
    assert delay == 2_000_000 + 19 * 100_000


def test_ids_differ_between_requests(hs):
    assert chat(hs)[0]["id"] != chat(hs)[0]["id"]


def test_max_tokens_cuts_with_finish_reason_length(hs):
    for field in ("max_tokens", "max_completion_tokens"):
        doc, _, _ = chat(hs, **{field: 5})
        assert doc["choices"][0]["finish_reason"] == "length"
        assert doc["usage"]["completion_tokens"] == 5 == count(doc["choices"][0]["message"]["content"])


def test_seed_makes_content_repeatable(hs):
    a = chat(hs, seed=7)[0]["choices"][0]["message"]["content"]
    b = chat(hs, seed=7)[0]["choices"][0]["message"]["content"]
    c = chat(hs, seed=8)[0]["choices"][0]["message"]["content"]
    assert a == b and a != c


def test_n_choices_are_distinct_and_all_counted(hs):
    doc, _, _ = chat(hs, n=3, seed=1)
    contents = [c["message"]["content"] for c in doc["choices"]]
    assert [c["index"] for c in doc["choices"]] == [0, 1, 2]
    assert len(set(contents)) == 3
    assert doc["usage"]["completion_tokens"] == sum(count(c) for c in contents)


@pytest.mark.parametrize("stop", [".", ["zzz", "."], [" the", ","]])
def test_stop_sequences_end_the_text_before_them(hs, stop):
    hs = handlers(planner=FakePlanner(length=200))
    doc, _, _ = chat(hs, stop=stop, seed=3)
    choice = doc["choices"][0]
    text = choice["message"]["content"]
    stops = [stop] if isinstance(stop, str) else stop
    assert choice["finish_reason"] == "stop"
    assert not any(s in text for s in stops)
    assert doc["usage"]["completion_tokens"] == count(text)


def test_content_parts_and_tool_messages_are_accepted_and_counted(hs):
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                     {"type": "image_url", "image_url": {"url": "data:x",
                                                                          "detail": "low"}}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "look", "arguments": "{\"x\": 1}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "a cat"},
        {"role": "developer", "content": [{"type": "text", "text": "ok"}], "name": "dev"},
    ]
    doc, _, _ = chat(hs, messages=messages, user="u1", metadata={"k": "v"}, temperature=0.2,
                     top_p=0.5, presence_penalty=1, frequency_penalty=-1)
    expected = (3 + 5 * 3 + count("Be brief.") + count("What is this?") + 85 + 3 + count("look")
                + count('{"x": 1}') + count("a cat") + count("ok") + 1 + count("dev"))
    assert doc["usage"]["prompt_tokens"] == expected


def test_echo_generator_by_header(hs):
    doc, _, _ = chat(hs, headers={b"x-llmsim-generator": b"echo"},
                     messages=[{"role": "user", "content": "Repeat \"this\"\nplease"}])
    assert doc["choices"][0]["message"]["content"] == "Repeat \"this\"\nplease"


def test_model_name_is_escaped_in_the_answer():
    hs = handlers(models={"accept_any": True})
    doc, _, _ = chat(hs, model='we"ird\\name')
    assert doc["model"] == 'we"ird\\name'


@pytest.mark.parametrize("body,status,param,code,words", [
    (b"{nope", 400, None, None, "could not parse the JSON body"),
    ({"model": "gpt-4o-mini"}, 400, "messages", "missing_required_parameter", "'messages'"),
    ({"messages": USER}, 400, "model", "missing_required_parameter", "'model'"),
    ({"model": "gpt-4o-mini", "messages": []}, 400, "messages", "empty_array", "empty array"),
    ({"model": "nope", "messages": USER}, 404, None, "model_not_found", "`nope` does not exist"),
    ({"model": "text-embedding-3-small", "messages": USER}, 404, "model", None, "not a chat model"),
    ({"model": "gpt-4o-mini", "messages": [{"role": "bot", "content": "x"}]}, 400,
     "messages[0].role", "invalid_value", "Supported values are"),
    ({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": 5}]}, 400,
     "messages[0].content", "invalid_type", "expected a string, but got an integer"),
    ({"model": "gpt-4o-mini", "messages": USER, "temperature": 2.5}, 400, "temperature",
     "decimal_above_max_value", "Expected a value <= 2, but got 2.5"),
    ({"model": "gpt-4o-mini", "messages": USER, "top_p": -1}, 400, "top_p",
     "decimal_below_min_value", ">= 0"),
    ({"model": "gpt-4o-mini", "messages": USER, "n": 0}, 400, "n", "integer_below_min_value",
     ">= 1"),
    ({"model": "gpt-4o-mini", "messages": USER, "max_tokens": "5"}, 400, "max_tokens",
     "invalid_type", "expected an integer, but got a string"),
    ({"model": "gpt-4o-mini", "messages": USER, "stop": ["a", "b", "c", "d", "e"]}, 400, "stop",
     "array_above_max_length", "maximum length 4"),
    ({"model": "gpt-4o-mini", "messages": USER, "bogus": 1}, 400, None, None,
     "Unrecognized request argument supplied: bogus"),
    ({"model": "o3", "messages": USER, "max_tokens": 5}, 400, "max_tokens",
     "unsupported_parameter", "Use 'max_completion_tokens' instead"),
    ({"model": "o3", "messages": USER, "temperature": 0.5}, 400, "temperature",
     "unsupported_value", "Only the default (1)"),
    ({"model": "gpt-4o-mini", "messages": USER, "max_tokens": 10**6}, 400, "max_tokens",
     "invalid_value", "at most 16384"),
    ({"model": "gpt-4o-mini", "messages": USER, "stream_options": {"include_usage": True}}, 400,
     "stream_options", "invalid_value", "only allowed when 'stream'"),
])
def test_client_errors_map_to_openai_errors(hs, body, status, param, code, words):
    e = error(hs, body)
    assert (e.status, e.param, e.code) == (status, param, code)
    assert words in e.message


def test_unknown_generator_header_is_a_400(hs):
    e = error(hs, {"model": "gpt-4o-mini", "messages": USER}, {b"x-llmsim-generator": b"zz"})
    assert e.status == 400 and e.param == "x-llmsim-generator"


def test_planner_gets_model_prompt_tokens_cap_and_seed():
    planner = FakePlanner()
    hs = handlers(planner=planner)
    chat(hs, max_tokens=9, seed=5, headers={b"x-llmsim-latency": b"ttft=1ms"})
    assert planner.calls[-1] == ("gpt-4o-mini", count("Tell me something.") + 6, 9, 5,
                                 b"ttft=1ms")
