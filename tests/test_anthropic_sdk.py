"""The official `anthropic` SDK against a real llmsim server: messages streamed and not,
tools, thinking, structured output, token counting, models, and errors as SDK exceptions."""

import json
import time

import anthropic
import httpx
import jsonschema
import openai
import pytest

from llmsim.sim.tokens import count

MODEL = "claude-haiku-4-5"
HELLO = [{"role": "user", "content": "Hello there"}]
WEATHER = {"name": "get_weather", "description": "Weather in a city",
           "input_schema": {"type": "object",
                            "properties": {"city": {"type": "string"},
                                           "days": {"type": "integer", "minimum": 1,
                                                    "maximum": 7}},
                            "required": ["city", "days"]}}


def client(srv, **kw):
    return anthropic.Anthropic(base_url=srv.base_url, api_key=kw.pop("api_key", "x"),
                               max_retries=0, **kw)


@pytest.fixture
def claude(server):
    return client(server("--workers", "1", "--no-latency"))


def test_create_and_stream_text(claude):
    m = claude.messages.create(model=MODEL, max_tokens=40, messages=HELLO, system="Be brief.",
                               metadata={"user_id": "u-1"}, extra_body={"temperature": 0.3})
    assert m.type == "message" and m.role == "assistant" and m.model == MODEL
    assert m.id.startswith("msg_01") and m._request_id.startswith("req_011C")
    (block,) = m.content
    assert block.type == "text" and block.text
    assert m.stop_reason in ("end_turn", "max_tokens") and m.stop_sequence is None
    assert m.usage.output_tokens == count(block.text) <= 40
    assert m.usage.input_tokens == count("Hello there") + count("Be brief.") + 3 + 3 + 3

    with claude.messages.stream(model=MODEL, max_tokens=40, messages=HELLO) as s:
        pieces = list(s.text_stream)
        final = s.get_final_message()
    assert len(pieces) == final.usage.output_tokens == count("".join(pieces))
    assert final.content[0].text == "".join(pieces)
    assert final.stop_reason in ("end_turn", "max_tokens")

    raw = claude.messages.create(model=MODEL, max_tokens=40, messages=HELLO, stream=True)
    kinds = [e.type for e in raw]
    assert kinds[:2] == ["message_start", "content_block_start"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]


def test_max_tokens_and_stop_sequences(claude):
    m = claude.messages.create(model=MODEL, max_tokens=3, messages=HELLO)
    assert m.stop_reason == "max_tokens" and m.usage.output_tokens == 3
    text = "The quick brown fox jumps over the lazy dog near the river bank."
    echo = {"messages": [{"role": "user", "content": text}],
            "extra_headers": {"x-llmsim-generator": "echo"}}
    stop = "lazy"
    for stream in (False, True):
        if stream:
            with claude.messages.stream(model=MODEL, max_tokens=200, stop_sequences=[stop],
                                        **echo) as s:
                m = s.get_final_message()
        else:
            m = claude.messages.create(model=MODEL, max_tokens=200, stop_sequences=[stop],
                                       **echo)
        assert m.stop_reason == "stop_sequence" and m.stop_sequence == stop
        out = m.content[0].text
        assert stop not in out and text.startswith(out + stop)
        assert m.usage.output_tokens == count(out)


def test_tools_streamed_and_not(claude):
    for choice in ({"type": "auto"}, {"type": "any"}, {"type": "tool", "name": "get_weather"}):
        m = claude.messages.create(model=MODEL, max_tokens=200, messages=HELLO,
                                   tools=[WEATHER], tool_choice=choice)
        assert m.stop_reason == "tool_use"
        (use,) = m.content
        assert use.type == "tool_use" and use.name == "get_weather"
        assert use.id.startswith("toolu_")
        jsonschema.validate(use.input, WEATHER["input_schema"])
    with claude.messages.stream(model=MODEL, max_tokens=200, messages=HELLO, tools=[WEATHER],
                                tool_choice={"type": "any"}) as s:
        partial = [e.partial_json for e in s if e.type == "input_json"]
        final = s.get_final_message()
    (use,) = final.content
    assert json.loads("".join(partial)) == use.input
    jsonschema.validate(use.input, WEATHER["input_schema"])
    assert final.stop_reason == "tool_use"

    follow_up = HELLO + [{"role": "assistant", "content": [use.model_dump(
        include={"type", "id", "name", "input"})]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                      "content": "sunny"}]}]
    m = claude.messages.create(model=MODEL, max_tokens=50, messages=follow_up,
                               tools=[WEATHER])
    assert m.stop_reason in ("end_turn", "max_tokens") and m.content[0].type == "text"
    m = claude.messages.create(model=MODEL, max_tokens=50, messages=HELLO, tools=[WEATHER],
                               tool_choice={"type": "none"})
    assert m.content[0].type == "text"


def test_thinking_and_structured_output(claude):
    thinking = {"type": "enabled", "budget_tokens": 1024}
    with claude.messages.stream(model=MODEL, max_tokens=2000, messages=HELLO,
                                thinking=thinking) as s:
        kinds = [e.type for e in s]
        final = s.get_final_message()
    think, text = final.content
    assert think.type == "thinking" and think.thinking and think.signature
    assert "thinking" in kinds and "signature" in kinds and "text" in kinds
    assert final.usage.output_tokens == count(think.thinking) + count(text.text)
    m = claude.messages.create(model=MODEL, max_tokens=2000, messages=HELLO, thinking=thinking)
    assert [b.type for b in m.content] == ["thinking", "text"]

    schema = {"type": "object", "properties": {"title": {"type": "string"},
                                               "year": {"type": "integer"}},
              "required": ["title", "year"], "additionalProperties": False}
    m = claude.messages.create(model=MODEL, max_tokens=500, messages=HELLO,
                               output_config={"format": {"type": "json_schema",
                                                         "schema": schema}})
    jsonschema.validate(json.loads(m.content[0].text), schema)


def test_count_tokens_and_models(claude, server):
    n = claude.messages.count_tokens(model=MODEL, messages=HELLO, system="Be brief.")
    m = claude.messages.create(model=MODEL, max_tokens=5, messages=HELLO, system="Be brief.")
    assert n.input_tokens == m.usage.input_tokens

    page = claude.models.list(limit=3)
    assert len(page.data) == 3 and page.has_more
    ids = [model.id for model in claude.models.list(limit=3)]  # auto-paginates
    assert len(ids) == len(set(ids)) > 3 and MODEL + "-20251001" in ids
    assert all(model.type == "model" and model.display_name.startswith("Claude")
               for model in page.data)
    info = claude.models.retrieve(MODEL + "-20251001")
    assert info.id == MODEL + "-20251001" and info.display_name == "Claude Haiku 4.5"
    with pytest.raises(anthropic.NotFoundError):
        claude.models.retrieve("gpt-4o")

    # the same paths without anthropic-version stay OpenAI's
    oai = openai.OpenAI(base_url=str(claude.base_url).rstrip("/") + "/v1", api_key="x")
    listed = [model.id for model in oai.models.list()]
    assert "gpt-4o" in listed and not any(i.startswith("claude") for i in listed)
    assert oai.models.retrieve("gpt-4o").owned_by == "system"


def test_errors_are_sdk_exceptions(claude):
    with pytest.raises(anthropic.BadRequestError) as e:
        claude.messages.create(model=MODEL, max_tokens=anthropic.NOT_GIVEN, messages=HELLO,
                               timeout=30)
    assert e.value.body["error"] == {"type": "invalid_request_error",
                                     "message": "max_tokens: Field required"}
    assert e.value.request_id == e.value.body["request_id"]
    assert e.value.request_id.startswith("req_")
    with pytest.raises(anthropic.NotFoundError) as e:
        claude.messages.create(model="claude-nope", max_tokens=5, messages=HELLO)
    assert e.value.body["error"] == {"type": "not_found_error", "message": "model: claude-nope"}
    with pytest.raises(anthropic.BadRequestError):
        claude.messages.create(model=MODEL, max_tokens=5, messages=HELLO,
                               extra_body={"temperature": 5})
    with pytest.raises(anthropic.NotFoundError) as e:
        claude.get("/v1/nothing-here", cast_to=object)
    assert e.value.body["type"] == "error"


def test_api_key_checked_with_x_api_key(server):
    srv = server("--workers", "1", "--no-latency", "--api-keys", "sk-ant-good")
    with pytest.raises(anthropic.AuthenticationError) as e:
        client(srv, api_key="sk-ant-bad").messages.create(model=MODEL, max_tokens=5,
                                                          messages=HELLO)
    assert e.value.body["error"]["type"] == "authentication_error"
    assert e.value.request_id.startswith("req_")
    m = client(srv, api_key="sk-ant-good").messages.create(model=MODEL, max_tokens=5,
                                                           messages=HELLO)
    assert m.usage.output_tokens == 5
    with pytest.raises(anthropic.AuthenticationError):
        client(srv, api_key="sk-ant-bad").models.list()


def test_full_queue_is_a_rate_limit_error(server, tmp_path):
    path = tmp_path / "llmsim.yaml"
    path.write_text("latency:\n  models:\n    claude-haiku-4-5:\n      ttft: 20s\n"
                    "      load: {capacity: 1, queue_limit: 0}\n")
    srv = server("--workers", "1", "--config", path)
    c = client(srv)
    with c.messages.stream(model=MODEL, max_tokens=5, messages=HELLO):
        with pytest.raises(anthropic.RateLimitError) as e:
            c.messages.create(model=MODEL, max_tokens=5, messages=HELLO)
    assert e.value.body["error"]["type"] == "rate_limit_error"
    assert int(e.value.response.headers["retry-after"]) >= 1
    assert e.value.response.headers["request-id"] == e.value.request_id


def test_stream_timing_lower_bounds(server):
    srv = server("--workers", "1", "--ttft", "150ms", "--itl", "10ms")
    c = client(srv)
    start = time.monotonic()
    first = None
    with c.messages.stream(model=MODEL, max_tokens=12, messages=HELLO) as s:
        for _ in s.text_stream:
            if first is None:
                first = time.monotonic() - start
        final = s.get_final_message()
    total = time.monotonic() - start
    assert final.usage.output_tokens == 12
    assert first >= 0.150 and total >= 0.150 + 11 * 0.010
    start = time.monotonic()
    c.messages.create(model=MODEL, max_tokens=12, messages=HELLO)
    assert time.monotonic() - start >= 0.150 + 11 * 0.010


def test_body_too_large_is_request_too_large(server):
    srv = server("--workers", "1", "--no-latency", "--max-body-bytes", "1000")
    r = httpx.post(srv.base_url + "/v1/messages", headers={"anthropic-version": "2023-06-01"},
                   json={"model": MODEL, "max_tokens": 5, "messages": HELLO, "pad": "x" * 2000})
    assert r.status_code == 413
    assert r.json()["error"]["type"] == "request_too_large"
    assert r.headers["request-id"].startswith("req_")


def test_models_list_current_claude_ids_and_aliases(claude):
    # model ids as Anthropic's model pages give them; an alias of a dated id (claude-opus-4-5)
    # is served but not listed, as upstream
    names = {"claude-sonnet-4-6": "Claude Sonnet 4.6", "claude-opus-4-6": "Claude Opus 4.6",
             "claude-opus-4-5-20251101": "Claude Opus 4.5",
             "claude-haiku-4-5-20251001": "Claude Haiku 4.5",
             "claude-sonnet-4-5-20250929": "Claude Sonnet 4.5",
             "claude-opus-4-1-20250805": "Claude Opus 4.1",
             "claude-opus-4-20250514": "Claude Opus 4", "claude-sonnet-4-20250514": "Claude Sonnet 4",
             "claude-opus-4-8": "Claude Opus 4.8", "claude-opus-4-7": "Claude Opus 4.7",
             "claude-sonnet-5-5": "Claude Sonnet 5.5", "claude-mythos-preview": "Claude Mythos Preview"}
    listed = list(claude.models.list(limit=100))
    ids = [m.id for m in listed]
    assert set(names) <= set(ids)
    assert all(m.display_name == names[m.id] for m in listed if m.id in names)
    assert [m.created_at for m in listed] == sorted((m.created_at for m in listed), reverse=True)
    assert not any(i in ids for i in ("claude-opus-4-5", "claude-sonnet-4-5", "claude-haiku-4-5"))
    for name in ("claude-haiku-4-5", "claude-opus-4-1", "claude-sonnet-4-6"):
        assert claude.models.retrieve(name).id == name
        assert claude.messages.create(model=name, max_tokens=5, messages=HELLO).model == name
