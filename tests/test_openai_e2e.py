"""The official `openai` SDK against the real prefork server, every OpenAI endpoint.

One server per module (one worker, latency off, a config with aliases, a scripted
generator and a named one) keeps the run short on a small shared machine.
"""

import json
import math
import subprocess
import sys

import httpx
import jsonschema
import openai
import pytest
from pydantic import BaseModel

from conftest import Server, free_port
from llmsim.sim.tokens import count

CONFIG = {
    "no_latency": True,
    "models": {"aliases": {"my-model": "gpt-4o-mini"},
               "add": {"acme-embed": {"kind": "embedding", "dimensions": 32}}},
    "generators": {
        "models": {"scripted-model": "script"},
        "named": {
            "script": {"type": "script", "fallback": "corpus", "rules": [
                {"match": "weather", "tool_call": {"name": "get_weather",
                                                   "arguments": {"city": "Oslo"}}},
                {"match": "boom", "error": {"status": 503, "message": "Scripted outage"}},
                {"match": "hello", "reply": "Hello from the script."}]},
        },
    },
}
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"},
                                     "unit": {"type": "string", "enum": ["c", "f"]}},
    "required": ["city", "unit"], "additionalProperties": False}}}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    import yaml
    tmp = tmp_path_factory.mktemp("openai-e2e")
    cfg = tmp / "llmsim.yaml"
    cfg.write_text(yaml.safe_dump({**CONFIG, "models": {
        **CONFIG["models"], "accept_any": False}}))
    port = free_port()
    log_path = tmp / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-m", "llmsim", "serve", "--port", str(port),
             "--workers", "1", "--config", str(cfg)],
            cwd=tmp, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    s = Server(proc, port, "127.0.0.1", log_path)
    try:
        s.wait_healthy()
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def client(srv):
    return openai.OpenAI(base_url=srv.base_url + "/v1", api_key="sk-test", max_retries=0)


USER = [{"role": "user", "content": "Tell me about rivers."}]


def test_models(client):
    ids = {m.id for m in client.models.list()}
    assert {"gpt-4o-mini", "o3", "text-embedding-3-small", "my-model", "acme-embed"} <= ids
    assert client.models.retrieve("gpt-4o").owned_by == "system"
    with pytest.raises(openai.NotFoundError) as e:
        client.models.retrieve("gpt-nope")
    assert e.value.code == "model_not_found"


def test_chat_non_streamed_with_headers(client):
    raw = client.chat.completions.with_raw_response.create(
        model="my-model", messages=USER, max_tokens=7, seed=1, n=2)
    assert raw.headers["openai-version"] == "2020-10-01"
    assert raw.headers["x-request-id"].startswith("req_")
    assert int(raw.headers["openai-processing-ms"]) >= 0
    c = raw.parse()
    assert c.model == "my-model" and len(c.choices) == 2
    assert all(ch.finish_reason == "length" for ch in c.choices)
    assert c.usage.completion_tokens == 14
    assert c.usage.completion_tokens == sum(count(ch.message.content) for ch in c.choices)


def test_chat_streamed_with_usage(client):
    text, usage, finish, ids = "", None, None, set()
    for chunk in client.chat.completions.create(
            model="gpt-4o-mini", messages=USER, max_tokens=20, stream=True,
            stream_options={"include_usage": True}):
        ids.add(chunk.id)
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage:
            usage = chunk.usage
    assert len(ids) == 1 and finish in ("stop", "length")
    assert usage.completion_tokens == count(text)


def test_chat_stop_and_logprobs(client):
    c = client.chat.completions.create(model="gpt-4o-mini", messages=USER, stop=["."],
                                       logprobs=True, top_logprobs=2, max_tokens=200)
    ch = c.choices[0]
    assert "." not in ch.message.content and ch.finish_reason == "stop"
    assert "".join(t.token for t in ch.logprobs.content) == ch.message.content


def test_chat_tools_streamed_and_not(client):
    c = client.chat.completions.create(model="gpt-4o-mini", messages=USER, tools=[WEATHER],
                                       tool_choice="required")
    (tc,) = c.choices[0].message.tool_calls
    jsonschema.validate(json.loads(tc.function.arguments),
                        WEATHER["function"]["parameters"])
    args = ""
    for chunk in client.chat.completions.create(model="gpt-4o-mini", messages=USER,
                                                tools=[WEATHER], stream=True):
        for d in chunk.choices[0].delta.tool_calls or () if chunk.choices else ():
            args += d.function.arguments or ""
    jsonschema.validate(json.loads(args), WEATHER["function"]["parameters"])


class Answer(BaseModel):
    title: str
    score: int
    tags: list[str]


def test_structured_output_parses(client):
    parsed = client.chat.completions.parse(model="gpt-4o-mini", messages=USER,
                                           response_format=Answer)
    assert isinstance(parsed.choices[0].message.parsed, Answer)


def test_chat_errors(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="gpt-4o-mini", messages=USER, temperature=5)
    assert e.value.param == "temperature" and e.value.code == "decimal_above_max_value"
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="nope", messages=USER)
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="gpt-4o-mini", messages=[])
    assert e.value.param == "messages"


def test_invalid_json_body(srv):
    r = httpx.post(srv.base_url + "/v1/chat/completions", content=b"{not json",
                   headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.headers["x-request-id"].startswith("req_")
    assert "could not parse the JSON body" in r.json()["error"]["message"]


def test_completions(client):
    c = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say hi",
                                  max_tokens=5, echo=True)
    assert c.choices[0].text.startswith("Say hi") and c.usage.completion_tokens == 5
    text = "".join(ch.choices[0].text for ch in client.completions.create(
        model="gpt-3.5-turbo-instruct", prompt=[1, 2, 3], max_tokens=6, stream=True))
    assert count(text) == 6


def test_embeddings_float_and_base64(client):
    a = client.embeddings.create(model="text-embedding-3-small", input=["alpha", "beta"])
    assert len(a.data) == 2 and len(a.data[0].embedding) == 1536
    assert math.isclose(sum(x * x for x in a.data[0].embedding), 1.0, rel_tol=1e-4)
    b = client.embeddings.create(model="text-embedding-3-small", input="alpha",
                                 encoding_format="float", dimensions=64)
    assert len(b.data[0].embedding) == 64
    c = client.embeddings.create(model="acme-embed", input="alpha")
    assert len(c.data[0].embedding) == 32


def test_responses(client):
    r = client.responses.create(model="gpt-4o-mini", input="Tell me a story",
                                instructions="Be brief.", max_output_tokens=40)
    assert r.status in ("completed", "incomplete") and r.output_text
    assert r.usage.output_tokens == count(r.output_text)
    events = list(client.responses.create(model="gpt-4o-mini", input="Hi", stream=True))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert events[-1].response.output_text == deltas
    tool = {"type": "function", "name": "get_weather", "parameters":
            WEATHER["function"]["parameters"], "strict": True}
    r = client.responses.create(model="gpt-4o-mini", input="Weather?", tools=[tool])
    (call,) = [o for o in r.output if o.type == "function_call"]
    jsonschema.validate(json.loads(call.arguments), tool["parameters"])


def test_scripted_generator_by_model_and_header(client):
    c = client.chat.completions.create(model="gpt-4o-mini", messages=[
        {"role": "user", "content": "hello there"}],
        extra_headers={"x-llmsim-generator": "script"})
    assert c.choices[0].message.content == "Hello from the script."
    with pytest.raises(openai.NotFoundError):  # a generator setting does not add a model
        client.chat.completions.create(model="scripted-model", messages=USER)
    c = client.chat.completions.create(model="gpt-4o-mini", messages=[
        {"role": "user", "content": "weather in Oslo"}],
        extra_headers={"x-llmsim-generator": "script"})
    assert c.choices[0].message.tool_calls[0].function.arguments == '{"city":"Oslo"}'
    with pytest.raises(openai.InternalServerError) as e:
        client.chat.completions.create(model="gpt-4o-mini", messages=[
            {"role": "user", "content": "boom"}], extra_headers={"x-llmsim-generator": "script"})
    assert e.value.status_code == 503 and "Scripted outage" in str(e.value)


def test_error_answers_carry_the_openai_headers_once(srv):
    r = httpx.post(srv.base_url + "/v1/chat/completions", json={"model": "nope",
                                                                 "messages": USER})
    assert r.status_code == 404
    assert r.headers.get_list("content-type") == ["application/json"]
    assert r.headers["x-request-id"].startswith("req_")
    assert r.headers["openai-version"] == "2020-10-01"
