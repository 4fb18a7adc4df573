"""Scripted rules and generator selection through the OpenAI handlers."""

import json

import httpx
import pytest
import yaml

from llmsim.errors import ApiError
from llmsim.sim.text import LOREM
from openai_fakes import FakeReq, call, handlers, sse_events

RULES = [
    {"match": "weather", "tool_call": {"name": "get_weather", "arguments": {"city": "Paris"}}},
    {"match": "flaky", "error": {"status": 429, "message": "Slow down", "code": "rate_limit"},
     "times": 1},
    {"match": "flaky", "reply": "Fine now."},
    {"regex": "(?i)^hello", "reply": "Hi! How can I help?"},
]
CONFIG = {"default": {"type": "script", "rules": RULES, "fallback": "echo"},
          "models": {"gpt-4.1-nano": "lorem"},
          "named": {"canned": {"type": "fixed", "text": "Canned answer."}}}


@pytest.fixture
def hs():
    return handlers(generators=CONFIG)


def chat(hs, text, model="gpt-4o-mini", headers=None, **extra):
    body = {"model": model, "messages": [{"role": "user", "content": text}], **extra}
    return json.loads(call(hs, "openai.chat_completions", body, headers)[2])


def content(doc):
    return doc["choices"][0]["message"]["content"]


def test_reply_rule_and_fallback(hs):
    assert content(chat(hs, "Hello there")) == "Hi! How can I help?"
    assert content(chat(hs, "Repeat me")) == "Repeat me"


def test_tool_call_rule_even_without_declared_tools(hs):
    doc = chat(hs, "What's the weather?")
    (tc,) = doc["choices"][0]["message"]["tool_calls"]
    assert tc["function"] == {"name": "get_weather", "arguments": '{"city":"Paris"}'}
    assert doc["choices"][0]["finish_reason"] == "tool_calls"


def test_streamed_tool_call_rule(hs):
    method, pattern, h = hs["openai.chat_completions"]
    _, _, s = h(FakeReq(method, pattern.encode(), {
        "model": "gpt-4o-mini", "stream": True,
        "messages": [{"role": "user", "content": "weather please"}]}))
    frames, _ = sse_events(s)
    args = "".join(d["function"].get("arguments", "") for f in frames[:-1]
                   for d in f["choices"][0]["delta"].get("tool_calls") or ())
    assert args == '{"city":"Paris"}'


def test_error_rule_then_sequence(hs):
    with pytest.raises(ApiError) as e:
        chat(hs, "flaky call")
    assert (e.value.status, e.value.code, e.value.message) == (429, "rate_limit", "Slow down")
    assert content(chat(hs, "flaky call")) == "Fine now."


def test_model_and_header_selection(hs):
    assert content(chat(hs, "Hello", model="gpt-4.1-nano")) in LOREM * 3
    assert content(chat(hs, "Hello", headers={b"x-llmsim-generator": b"canned"})) \
        == "Canned answer."
    assert content(chat(hs, "Hello", headers={b"x-llmsim-generator": b"corpus"})) \
        != "Hi! How can I help?"


def test_rules_apply_to_responses_and_completions(hs):
    doc = json.loads(call(hs, "openai.responses", {"model": "gpt-4o-mini",
                                                   "input": "weather in Paris"})[2])
    (item,) = doc["output"]
    assert item["type"] == "function_call" and item["arguments"] == '{"city":"Paris"}'
    doc = json.loads(call(hs, "openai.completions", {"model": "gpt-3.5-turbo-instruct",
                                                     "prompt": "hello world"})[2])
    assert doc["choices"][0]["text"] == "Hi! How can I help?"


# Against a real prefork server: a rule's `times` holds for the whole node.

FLAKY = [{"match": "flaky", "error": {"status": 503, "message": "Try later"}, "times": 3},
         {"match": "flaky", "reply": "Fine now."}]


def scripted(rules):
    return {"no_latency": True,
            "generators": {"default": {"type": "script", "rules": rules, "fallback": "echo"}}}


def ask(srv, i):
    """Request i: OpenAI chat when even, Anthropic messages when odd, each on a connection of
    its own so that SO_REUSEPORT spreads them over the workers."""
    if i % 2:
        path, body = "/v1/messages", {"model": "claude-haiku-4-5", "max_tokens": 20,
                                      "messages": [{"role": "user", "content": "flaky"}]}
    else:
        path, body = "/v1/chat/completions", {"model": "gpt-4o-mini",
                                              "messages": [{"role": "user", "content": "flaky"}]}
    return httpx.post(srv.base_url + path, json=body, headers={"connection": "close"}).status_code


def test_times_counts_uses_across_workers_and_providers(server, tmp_path):
    path = tmp_path / "script.yaml"
    path.write_text(yaml.safe_dump(scripted(FLAKY)))
    srv = server("--workers", 2, "--config", path)
    assert len(srv.workers()) == 2
    # Counted per worker (or per provider) the rule would answer up to 6 (12) of these.
    assert [ask(srv, i) for i in range(16)] == [503] * 3 + [200] * 13


def test_reload_keeps_counts_unless_the_generators_change(server, tmp_path):
    path = tmp_path / "script.yaml"
    path.write_text(yaml.safe_dump(scripted(FLAKY)))
    srv = server("--workers", 1, "--config", path)
    assert [ask(srv, 0) for _ in range(2)] == [503, 503]
    srv.reload(path, {**scripted(FLAKY), "seed": 5})   # another setting: the count stays
    assert [ask(srv, 0) for _ in range(2)] == [503, 200]
    srv.reload(path, scripted(FLAKY[:1] + [{"match": "flaky", "reply": "Again."}]))
    assert [ask(srv, 0) for _ in range(4)] == [503, 503, 503, 200]
