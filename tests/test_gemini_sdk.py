"""The official `google-genai` SDK against a real llmsim server, on its default API version
(v1) and on v1beta: generate and stream, function calling (manual and automatic), JSON mode,
thinking, token counting, embeddings, models, and errors as SDK exceptions."""

import json
import time

import httpx
import jsonschema
import pydantic
import pytest
from google import genai
from google.genai import errors, types

from llmsim.sim.tokens import count

MODEL = "gemini-2.5-flash"


def client(srv, version=None, key="x"):
    opts = types.HttpOptions(base_url=srv.base_url)
    if version:
        opts.api_version = version
    return genai.Client(api_key=key, http_options=opts)


@pytest.fixture
def srv(server):
    return server("--workers", "1", "--no-latency")


@pytest.fixture(params=[None, "v1beta"], ids=["default-v1", "v1beta"])
def gemini(srv, request):
    return client(srv, request.param)


def get_weather(city: str, days: int) -> str:
    """The weather forecast for a city."""
    return f"sunny in {city} for {days} days"


def test_generate_and_stream(gemini):
    cfg = types.GenerateContentConfig(max_output_tokens=30, system_instruction="Be brief.",
                                      temperature=0.5)
    r = gemini.models.generate_content(model=MODEL, contents="Hello there", config=cfg)
    assert r.text and r.model_version == MODEL and r.response_id
    u = r.usage_metadata
    assert u.candidates_token_count == count(r.text) <= 30
    assert u.prompt_token_count == count("Hello there") + count("Be brief.")
    assert u.total_token_count == u.prompt_token_count + u.candidates_token_count
    assert r.candidates[0].finish_reason in (types.FinishReason.STOP,
                                             types.FinishReason.MAX_TOKENS)

    chunks = list(gemini.models.generate_content_stream(model=MODEL, contents="Hello there",
                                                        config=cfg))
    text = "".join(c.text or "" for c in chunks)
    last = chunks[-1]
    assert last.candidates[0].finish_reason is not None
    assert all(c.candidates[0].finish_reason is None for c in chunks[:-1])
    assert last.usage_metadata.candidates_token_count == count(text) == len(chunks) - 1

    r = gemini.models.generate_content(
        model=MODEL, contents="Hello there",
        config=types.GenerateContentConfig(max_output_tokens=3))
    assert r.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert r.usage_metadata.candidates_token_count == 3


def test_stream_with_several_candidates(gemini, srv):
    cfg = types.GenerateContentConfig(candidate_count=3, max_output_tokens=6, seed=11)
    chunks = list(gemini.models.generate_content_stream(model=MODEL, contents="Hi",
                                                        config=cfg))
    texts = ["", "", ""]
    for chunk in chunks[:-1]:
        (cand,) = chunk.candidates
        assert cand.finish_reason is None
        texts[cand.index] += cand.content.parts[0].text
    last = chunks[-1]
    assert [c.index for c in last.candidates] == [0, 1, 2]
    assert all(c.finish_reason == types.FinishReason.MAX_TOKENS for c in last.candidates)
    u = last.usage_metadata
    assert u.candidates_token_count == sum(count(t) for t in texts) == 18
    r = gemini.models.generate_content(model=MODEL, contents="Hi", config=cfg)
    assert [c.content.parts[0].text for c in r.candidates] == texts
    assert r.usage_metadata.candidates_token_count == 18
    # the same stream as one JSON array (no alt=sse)
    body = {"contents": [{"parts": [{"text": "Hi"}], "role": "user"}],
            "generationConfig": {"candidateCount": 3, "maxOutputTokens": 6, "seed": 11}}
    array = httpx.post(f"{srv.base_url}/v1beta/models/{MODEL}:streamGenerateContent?key=x",
                       json=body).json()
    assert len(array) == len(chunks) == 19
    assert [c["candidates"][0]["index"] for c in array[:-1]] == [0, 1, 2] * 6
    assert array[-1]["usageMetadata"]["candidatesTokenCount"] == 18


def test_stop_sequences_and_chat(gemini):
    text = "The quick brown fox jumps over the lazy dog near the river bank."
    cfg = types.GenerateContentConfig(stop_sequences=["lazy"], http_options=types.HttpOptions(
        headers={"x-llmsim-generator": "echo"}))
    r = gemini.models.generate_content(model=MODEL, contents=text, config=cfg)
    assert text.startswith(r.text + "lazy") and "lazy" not in r.text
    assert r.candidates[0].finish_reason == types.FinishReason.STOP
    chat = gemini.chats.create(model=MODEL)
    first = chat.send_message("Hi")
    second = chat.send_message("And then?")
    assert first.text and second.text
    assert second.usage_metadata.prompt_token_count > first.usage_metadata.prompt_token_count


def test_function_calling(gemini):
    manual = types.GenerateContentConfig(
        tools=[get_weather],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        tool_config=types.ToolConfig(function_calling_config=types.FunctionCallingConfig(
            mode="ANY")))
    r = gemini.models.generate_content(model=MODEL, contents="Weather in Oslo?", config=manual)
    (fc,) = r.function_calls
    assert fc.name == "get_weather" and isinstance(fc.args["city"], str)
    assert isinstance(fc.args["days"], int)
    chunks = list(gemini.models.generate_content_stream(model=MODEL, contents="Weather?",
                                                        config=manual))
    assert chunks[-1].function_calls[0].name == "get_weather"

    # automatic function calling: the SDK runs the tool and sends the result back
    auto = types.GenerateContentConfig(tools=[get_weather])
    r = gemini.models.generate_content(model=MODEL, contents="Weather in Oslo?", config=auto)
    assert r.text and not r.function_calls
    history = r.automatic_function_calling_history
    assert [p.function_call.name for c in history for p in c.parts if p.function_call] == \
        ["get_weather"]
    assert any(p.function_response for c in history for p in c.parts)

    none = types.GenerateContentConfig(tools=[get_weather], tool_config=types.ToolConfig(
        function_calling_config=types.FunctionCallingConfig(mode="NONE")))
    r = gemini.models.generate_content(model=MODEL, contents="Weather?", config=none)
    assert r.text and not r.function_calls


def test_json_mode_and_thinking(gemini):
    class Film(pydantic.BaseModel):
        title: str
        year: int
        tags: list[str]

    cfg = types.GenerateContentConfig(response_mime_type="application/json",
                                      response_schema=Film)
    r = gemini.models.generate_content(model=MODEL, contents="A film", config=cfg)
    assert isinstance(r.parsed, Film)
    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 3}},
              "required": ["n"], "additionalProperties": False}
    r = gemini.models.generate_content(model=MODEL, contents="A number", config=types.
                                       GenerateContentConfig(response_mime_type="application/json",
                                                             response_json_schema=schema))
    jsonschema.validate(json.loads(r.text), schema)

    think = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(
        include_thoughts=True, thinking_budget=512))
    r = gemini.models.generate_content(model=MODEL, contents="Think", config=think)
    parts = r.candidates[0].content.parts
    assert parts[0].thought and not parts[-1].thought
    assert r.usage_metadata.thoughts_token_count == count(parts[0].text)
    chunks = list(gemini.models.generate_content_stream(model=MODEL, contents="Think",
                                                        config=think))
    assert chunks[0].candidates[0].content.parts[0].thought
    assert chunks[-1].usage_metadata.thoughts_token_count > 0


def test_count_tokens_models_and_errors(gemini):
    n = gemini.models.count_tokens(model=MODEL, contents="Hello there").total_tokens
    assert n == count("Hello there")
    names = [m.name for m in gemini.models.list()]
    assert "models/gemini-2.5-flash" in names and "models/text-embedding-004" in names
    assert len(names) == len(set(names))
    small = gemini.models.list(config=types.ListModelsConfig(page_size=2))
    assert len(small.page) == 2 and small.config["page_token"] == "2"
    assert [m.name for m in small.next_page()] == names[2:4]
    m = gemini.models.get(model=MODEL)
    assert m.name == "models/gemini-2.5-flash" and m.output_token_limit == 65536
    assert m.display_name == "Gemini 2.5 Flash"

    with pytest.raises(errors.ClientError) as e:
        gemini.models.generate_content(model="gemini-nope", contents="x")
    assert (e.value.code, e.value.status) == (404, "NOT_FOUND")
    with pytest.raises(errors.ClientError) as e:
        gemini.models.generate_content(model=MODEL, contents="x",
                                       config=types.GenerateContentConfig(temperature=7))
    assert (e.value.code, e.value.status) == (400, "INVALID_ARGUMENT")
    assert "temperature" in e.value.message
    with pytest.raises(errors.ClientError) as e:
        gemini.models.get(model="gemini-nope")
    assert e.value.code == 404


def test_embeddings(gemini):
    r = gemini.models.embed_content(model="text-embedding-004",
                                    contents=["Hello there", "Goodbye", "Hello there"])
    a, b, c = (e.values for e in r.embeddings)
    assert len(a) == 768 and a == c and a != b
    assert abs(sum(x * x for x in a) - 1) < 1e-3
    r = gemini.models.embed_content(model="gemini-embedding-001", contents="Hi",
                                    config=types.EmbedContentConfig(output_dimensionality=256,
                                                                    task_type="RETRIEVAL_QUERY"))
    assert len(r.embeddings[0].values) == 256
    with pytest.raises(errors.ClientError) as e:
        gemini.models.embed_content(model=MODEL, contents="Hi")
    assert e.value.code == 404


def test_raw_rest_paths(srv):
    """What REST users send: ?key=, snake_case fields, streams with and without alt=sse."""
    url = f"{srv.base_url}/v1beta/models/{MODEL}"
    body = {"system_instruction": {"parts": [{"text": "Be brief."}]},
            "contents": [{"parts": [{"text": "Hello"}]}],
            "generation_config": {"max_output_tokens": 5}}
    r = httpx.post(f"{url}:generateContent?key=x", json=body)
    assert r.status_code == 200 and r.json()["usageMetadata"]["candidatesTokenCount"] == 5
    r = httpx.post(f"{url}:streamGenerateContent?key=x", json=body)
    chunks = r.json()
    assert r.headers["content-type"].startswith("application/json") and len(chunks) == 6
    r = httpx.post(f"{url}:streamGenerateContent?alt=sse&key=x", json=body)
    assert r.headers["content-type"] == "text/event-stream"
    assert r.text.count("data: ") == 6 and r.text.endswith("\r\n\r\n")
    r = httpx.post(f"{url}:embedContent?key=x",
                   json={"content": {"parts": [{"text": "Hello"}]}})
    assert r.status_code == 404  # a chat model has no embedContent
    r = httpx.post(f"{srv.base_url}/v1beta/models/text-embedding-004:embedContent?key=x",
                   json={"content": {"parts": [{"text": "Hello"}]}})
    assert len(r.json()["embedding"]["values"]) == 768
    r = httpx.get(f"{srv.base_url}/v1/models?key=x")
    assert "models" in r.json()
    r = httpx.get(f"{srv.base_url}/v1beta/models/{MODEL}:generateContent?key=x")
    assert r.status_code == 405 and r.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_api_key_checked_with_header_or_query(server):
    srv = server("--workers", "1", "--no-latency", "--api-keys", "AIza-good")
    bad, good = client(srv, key="AIza-bad"), client(srv, key="AIza-good")
    with pytest.raises(errors.ClientError) as e:
        bad.models.generate_content(model=MODEL, contents="x")
    assert (e.value.code, e.value.status) == (400, "INVALID_ARGUMENT")
    assert "API key not valid" in e.value.message
    assert good.models.generate_content(model=MODEL, contents="x").text
    r = httpx.post(f"{srv.base_url}/v1beta/models/{MODEL}:generateContent?key=AIza-good",
                   json={"contents": [{"parts": [{"text": "x"}]}]})
    assert r.status_code == 200
    r = httpx.post(f"{srv.base_url}/v1beta/models/{MODEL}:generateContent",
                   json={"contents": [{"parts": [{"text": "x"}]}]})
    assert r.status_code == 403 and r.json()["error"]["status"] == "PERMISSION_DENIED"


def test_full_queue_is_resource_exhausted_with_retry_info(server, tmp_path):
    path = tmp_path / "llmsim.yaml"
    path.write_text(f"latency:\n  models:\n    {MODEL}:\n      ttft: 20s\n"
                    "      load: {capacity: 1, queue_limit: 0}\n")
    srv = server("--workers", "1", "--config", path)
    g = client(srv)
    with httpx.Client() as h:
        with h.stream("POST", f"{srv.base_url}/v1beta/models/{MODEL}:streamGenerateContent"
                      "?alt=sse&key=x", json={"contents": [{"parts": [{"text": "x"}]}]}):
            with pytest.raises(errors.ClientError) as e:
                g.models.generate_content(model=MODEL, contents="x")
    assert (e.value.code, e.value.status) == (429, "RESOURCE_EXHAUSTED")
    (info,) = e.value.details["error"]["details"]
    assert info["@type"] == "type.googleapis.com/google.rpc.RetryInfo"
    assert info["retryDelay"].endswith("s") and int(info["retryDelay"][:-1]) >= 1


def test_stream_timing_lower_bounds(server):
    srv = server("--workers", "1", "--ttft", "150ms", "--itl", "10ms")
    g = client(srv)
    cfg = types.GenerateContentConfig(max_output_tokens=12)
    start = time.monotonic()
    first = None
    for _ in g.models.generate_content_stream(model=MODEL, contents="x", config=cfg):
        if first is None:
            first = time.monotonic() - start
    total = time.monotonic() - start
    assert first >= 0.150 and total >= 0.150 + 11 * 0.010
    start = time.monotonic()
    g.models.generate_content(model=MODEL, contents="x", config=cfg)
    assert time.monotonic() - start >= 0.150 + 11 * 0.010


def test_models_list_current_gemini_models(gemini):
    models = {m.name: m for m in gemini.models.list(config=types.ListModelsConfig(page_size=100))}
    chat = ("gemini-3-pro-preview", "gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite",
            "gemini-2.5-flash-lite-preview-09-2025", "gemini-flash-lite-latest")
    for name in chat:
        m = models["models/" + name]
        assert "generateContent" in m.supported_actions and m.output_token_limit == 65536
    assert models["models/gemini-2.5-flash-lite"].display_name == "Gemini 2.5 Flash-Lite"
    for name in ("gemini-embedding-001", "text-embedding-004"):
        assert "embedContent" in models["models/" + name].supported_actions
    assert gemini.models.get(model="gemini-flash-lite-latest").name == \
        "models/gemini-flash-lite-latest"
