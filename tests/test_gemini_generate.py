"""Gemini generateContent, streamGenerateContent, countTokens and models called as handlers
with fake requests: shapes, accounting, finish reasons, streams in both framings, thinking,
function calls, JSON mode, proto-JSON names, and Gemini's error wording."""

import json

import jsonschema
import pytest

from llmsim.errors import ApiError, render
from llmsim.sim.tokens import count
from llmsim import api
from openai_fakes import FakePlanner as Planner, FakeReq
from provider_fakes import call, context, drain, handlers

GEN, STREAM = "gemini.generate_content", "gemini.stream_generate_content"
MODEL = b"gemini-2.5-flash"
HELLO = [{"role": "user", "parts": [{"text": "Tell me something."}]}]
WEATHER = {"name": "get_weather", "description": "Weather in a city",
           "parameters": {"type": "OBJECT",
                          "properties": {"city": {"type": "STRING"},
                                         "unit": {"type": "STRING", "format": "enum",
                                                  "enum": ["c", "f"]},
                                         "days": {"type": "INTEGER", "minimum": 1,
                                                  "maximum": 7, "nullable": True}},
                          "required": ["city", "days"]}}
CLOCK = {"name": "get_time", "parametersJsonSchema": {"type": "object", "properties": {}}}


def json_schema(s):
    """Gemini's OpenAPI-style schema as JSON Schema, for validating with jsonschema."""
    if not isinstance(s, dict):
        return s
    out = {k: json_schema(v) if k in ("items",) else v for k, v in s.items()
           if k not in ("nullable", "format", "propertyOrdering")}
    if "type" in s:
        out["type"] = [s["type"].lower(), "null"] if s.get("nullable") else s["type"].lower()
    if "properties" in s:
        out["properties"] = {k: json_schema(v) for k, v in s["properties"].items()}
    return out


@pytest.fixture
def hs():
    return handlers(planner=Planner(length=20))


def generate(hs, model=MODEL, headers=None, **kw):
    body = {"contents": HELLO}
    body.update(kw)
    status, head, out = call(hs, GEN, body, headers, params=(model,))
    assert status == 200 and head["content-type"] == "application/json; charset=UTF-8"
    return json.loads(out.body), out.delay_ns


def stream(hs, sse=True, **kw):
    body = {"contents": HELLO}
    body.update(kw)
    status, head, out = call(hs, STREAM, body, params=(MODEL,),
                             query=b"alt=sse" if sse else b"")
    assert status == 200
    raw, dues = drain(out)
    if sse:
        assert head["content-type"] == "text/event-stream"
        frames = raw.split(b"\r\n\r\n")
        assert frames.pop() == b"" and all(f.startswith(b"data: ") for f in frames)
        chunks = [json.loads(f[6:]) for f in frames]
    else:
        assert head["content-type"] == "application/json; charset=UTF-8"
        chunks = json.loads(raw)
    return chunks, dues


def error(hs, body, name=GEN, model=MODEL, query=b""):
    with pytest.raises(ApiError) as e:
        call(hs, name, body, params=(model,), query=query)
    doc = json.loads(render("gemini", e.value))["error"]
    assert doc["code"] == e.value.status
    return e.value.status, doc["status"], doc["message"]


def text_of(doc, i=0):
    return "".join(p.get("text", "") for p in doc["candidates"][i]["content"]["parts"]
                   if not p.get("thought"))


def test_response_shape_and_accounting(hs):
    doc, delay = generate(hs)
    (cand,) = doc["candidates"]
    assert cand["content"]["role"] == "model" and cand["index"] == 0
    assert cand["finishReason"] == "STOP"
    u = doc["usageMetadata"]
    assert u["candidatesTokenCount"] == count(text_of(doc)) == 20
    assert u["promptTokenCount"] == count("Tell me something.")
    assert u["totalTokenCount"] == u["promptTokenCount"] + 20
    assert u["promptTokensDetails"] == [{"modality": "TEXT", "tokenCount": u["promptTokenCount"]}]
    assert doc["modelVersion"] == "gemini-2.5-flash" and len(doc["responseId"]) == 23
    assert delay == 2_000_000 + 19 * 100_000


def test_both_api_versions_are_routed():
    patterns = {(r.method, r.pattern) for r in api.routes(context())}
    for v in ("v1", "v1beta"):
        for suffix in (":generateContent", ":streamGenerateContent", ":countTokens",
                       ":embedContent", ":batchEmbedContents"):
            assert (b"POST", f"/{v}/models/{{model}}{suffix}") in patterns
        assert (b"GET", f"/{v}/models") in patterns


def test_max_output_tokens_and_candidates(hs):
    doc, _ = generate(hs, generationConfig={"maxOutputTokens": 4, "candidateCount": 3})
    assert [c["index"] for c in doc["candidates"]] == [0, 1, 2]
    assert all(c["finishReason"] == "MAX_TOKENS" for c in doc["candidates"])
    assert doc["usageMetadata"]["candidatesTokenCount"] == 12
    assert len({text_of(doc, i) for i in range(3)}) > 1


def test_stop_sequences_end_the_text_before_them():
    text = "The quick brown fox jumps over the lazy dog near the river bank."
    hs = handlers(planner=Planner(length=30), generators={"default": {"type": "fixed",
                                                                      "text": text}})
    doc, _ = generate(hs, generationConfig={"stopSequences": ["lazy", "zzz"]})
    out = text_of(doc)
    assert text.startswith(out + "lazy") and doc["candidates"][0]["finishReason"] == "STOP"
    assert doc["usageMetadata"]["candidatesTokenCount"] == count(out)
    chunks, _ = stream(hs, generationConfig={"stopSequences": ["lazy"]})
    assert "".join(text_of(c) for c in chunks) == out


@pytest.mark.parametrize("sse", [True, False])
def test_stream_chunks(hs, sse):
    chunks, dues = stream(hs, sse=sse)
    assert len(chunks) == 21 and dues == sorted(dues)
    text = "".join(text_of(c) for c in chunks)
    assert count(text) == 20 and text_of(chunks[-1]) == ""
    assert len({c["responseId"] for c in chunks}) == 1
    for c in chunks[:-1]:
        assert "finishReason" not in c["candidates"][0]
        assert "candidatesTokenCount" not in c["usageMetadata"]
    last = chunks[-1]
    assert last["candidates"][0]["finishReason"] == "STOP"
    assert last["usageMetadata"]["candidatesTokenCount"] == 20
    assert dues[0] == 2_000_000 and dues[-1] == 2_000_000 + 19 * 100_000


@pytest.mark.parametrize("sse", [True, False])
def test_stream_candidates_interleave_token_by_token(hs, sse):
    cfg = {"candidateCount": 3, "maxOutputTokens": 5, "seed": 7}
    chunks, dues = stream(hs, sse=sse, generationConfig=cfg)
    *tokens, last = chunks
    assert len(chunks) == 3 * 5 + 1 and dues == sorted(dues)
    assert all(len(c["candidates"]) == 1 and "finishReason" not in c["candidates"][0]
               for c in tokens)
    assert [c["candidates"][0]["index"] for c in tokens] == [0, 1, 2] * 5
    texts = ["".join(text_of(c) for c in tokens if c["candidates"][0]["index"] == i)
             for i in range(3)]
    assert [c["index"] for c in last["candidates"]] == [0, 1, 2]
    assert all(c["finishReason"] == "MAX_TOKENS" and text_of(last, i) == ""
               for i, c in enumerate(last["candidates"]))
    u = last["usageMetadata"]
    assert u["candidatesTokenCount"] == sum(count(t) for t in texts) == 15
    assert u["totalTokenCount"] == u["promptTokenCount"] + 15
    doc, _ = generate(hs, generationConfig=cfg)   # the same answer as not streamed
    assert texts == [text_of(doc, i) for i in range(3)]


def test_streamed_candidates_with_thoughts_and_calls(hs):
    cfg = {"candidateCount": 2, "thinkingConfig": {"includeThoughts": True,
                                                    "thinkingBudget": 1024}}
    chunks, _ = stream(hs, generationConfig=cfg)
    flags = [(c["candidates"][0]["index"],
              bool(c["candidates"][0]["content"]["parts"][0].get("thought")))
             for c in chunks[:-1]]
    assert flags == [(0, True), (1, True)] * 10 + [(0, False), (1, False)] * 10
    assert chunks[-1]["usageMetadata"]["thoughtsTokenCount"] == 20
    kw = {"tools": [{"functionDeclarations": [WEATHER]}],
          "toolConfig": {"functionCallingConfig": {"mode": "ANY"}}}
    (chunk,), dues = stream(hs, generationConfig={"candidateCount": 2}, **kw)
    calls = [c["content"]["parts"][0]["functionCall"] for c in chunk["candidates"]]
    assert [c["index"] for c in chunk["candidates"]] == [0, 1]
    assert all(c["name"] == "get_weather" for c in calls)
    assert chunk["usageMetadata"]["candidatesTokenCount"] == sum(
        count(json.dumps(c["args"], separators=(",", ":"))) for c in calls)
    longest = max(count(json.dumps(c["args"], separators=(",", ":"))) for c in calls)
    assert dues[-1] == 2_000_000 + (longest - 1) * 100_000


def test_hidden_thinking_delays_the_first_token_and_is_counted(hs):
    cfg = {"thinkingConfig": {"thinkingBudget": 6}}
    doc, delay = generate(hs, generationConfig=cfg)
    u = doc["usageMetadata"]
    assert u["thoughtsTokenCount"] == 6 and u["candidatesTokenCount"] == 14
    assert u["totalTokenCount"] == u["promptTokenCount"] + 20
    assert all(not p.get("thought") for p in doc["candidates"][0]["content"]["parts"])
    chunks, dues = stream(hs, generationConfig=cfg)
    assert dues[0] == 2_000_000 + 6 * 100_000
    assert chunks[-1]["usageMetadata"]["thoughtsTokenCount"] == 6


def test_included_thoughts_come_first_as_thought_parts(hs):
    cfg = {"thinkingConfig": {"includeThoughts": True, "thinkingBudget": 1024}}
    doc, _ = generate(hs, generationConfig=cfg)
    thought, answer = doc["candidates"][0]["content"]["parts"]
    assert thought["thought"] is True and "thought" not in answer
    assert doc["usageMetadata"]["thoughtsTokenCount"] == count(thought["text"]) == 10
    chunks, _ = stream(hs, generationConfig=cfg)
    flags = [bool(c["candidates"][0]["content"]["parts"][0].get("thought")) for c in chunks]
    assert flags == [True] * 10 + [False] * 11


def test_snake_case_names_are_accepted(hs):
    doc, _ = generate(hs, system_instruction={"parts": [{"text": "Be brief."}]},
                      generation_config={"max_output_tokens": 3,
                                         "thinking_config": {"thinking_budget": 0}})
    assert doc["usageMetadata"]["candidatesTokenCount"] == 3
    assert doc["usageMetadata"]["promptTokenCount"] == count("Tell me something.") + \
        count("Be brief.")


@pytest.mark.parametrize("config", [None, {"functionCallingConfig": {"mode": "AUTO"}},
                                    {"functionCallingConfig": {"mode": "ANY"}},
                                    {"functionCallingConfig": {
                                        "mode": "ANY", "allowedFunctionNames": ["get_weather"]}}])
def test_function_calls_validate_against_the_declaration(hs, config):
    kw = {"tools": [{"functionDeclarations": [WEATHER, CLOCK]}]}
    if config:
        kw["toolConfig"] = config
    for _ in range(8):
        doc, _ = generate(hs, **kw)
        (part,) = doc["candidates"][0]["content"]["parts"]
        call_ = part["functionCall"]
        if config and "allowedFunctionNames" in config["functionCallingConfig"]:
            assert call_["name"] == "get_weather"
        schema = json_schema(WEATHER["parameters"]) if call_["name"] == "get_weather" \
            else CLOCK["parametersJsonSchema"]
        jsonschema.validate(call_["args"], schema)
        assert doc["usageMetadata"]["candidatesTokenCount"] == count(
            json.dumps(call_["args"], separators=(",", ":")))
    chunks, _ = stream(hs, **kw)
    (chunk,) = chunks
    assert "functionCall" in chunk["candidates"][0]["content"]["parts"][0]
    assert chunk["candidates"][0]["finishReason"] == "STOP"


def test_no_call_after_a_function_response_or_with_mode_none(hs):
    turns = HELLO + [
        {"role": "model", "parts": [{"functionCall": {"name": "get_time", "args": {}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "get_time",
                                                         "response": {"time": "12:00"}}}]}]
    tools = [{"functionDeclarations": [CLOCK]}]
    doc, _ = generate(hs, contents=turns, tools=tools)
    assert "text" in doc["candidates"][0]["content"]["parts"][0]
    doc, _ = generate(hs, tools=tools, toolConfig={"functionCallingConfig": {"mode": "NONE"}})
    assert "text" in doc["candidates"][0]["content"]["parts"][0]


def test_json_mode_follows_the_schema(hs):
    schema = {"type": "OBJECT", "properties": {"title": {"type": "STRING"},
                                               "tags": {"type": "ARRAY",
                                                        "items": {"type": "STRING"}}},
              "required": ["title", "tags"], "propertyOrdering": ["title", "tags"]}
    doc, _ = generate(hs, generationConfig={"responseMimeType": "application/json",
                                            "responseSchema": schema})
    value = json.loads(text_of(doc))
    jsonschema.validate(value, json_schema(schema))
    assert list(value) == ["title", "tags"]
    js = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 5}},
          "required": ["n"], "additionalProperties": False}
    doc, _ = generate(hs, generationConfig={"responseMimeType": "application/json",
                                            "responseJsonSchema": js})
    jsonschema.validate(json.loads(text_of(doc)), js)
    doc, _ = generate(hs, generationConfig={"responseMimeType": "text/x.enum",
                                            "responseSchema": {"type": "STRING",
                                                               "format": "enum",
                                                               "enum": ["red", "blue"]}})
    assert text_of(doc) in ("red", "blue")


def test_seed_gives_the_same_answer(hs):
    cfg = {"generationConfig": {"seed": 42}}
    assert text_of(generate(hs, **cfg)[0]) == text_of(generate(hs, **cfg)[0])


def test_count_tokens_matches_usage(hs):
    doc, _ = generate(hs)
    status, _, out = call(hs, "gemini.count_tokens", {"contents": HELLO}, params=(MODEL,))
    n = doc["usageMetadata"]["promptTokenCount"]
    assert status == 200 and json.loads(out)["totalTokens"] == n
    req = {"generateContentRequest": {"contents": HELLO,
                                      "systemInstruction": {"parts": [{"text": "Be brief."}]}}}
    _, _, out = call(hs, "gemini.count_tokens", req, params=(MODEL,))
    assert json.loads(out)["totalTokens"] == n + count("Be brief.")


@pytest.mark.parametrize("body, status, rpc, message", [
    (b"{", 400, "INVALID_ARGUMENT", "Invalid JSON payload received. Unexpected token."),
    ({"contents": HELLO, "foo": 1}, 400, "INVALID_ARGUMENT",
     'Invalid JSON payload received. Unknown name "foo": Cannot find field.'),
    ({"contents": HELLO, "generationConfig": {"foo_bar": 1}}, 400, "INVALID_ARGUMENT",
     'Invalid JSON payload received. Unknown name "foo_bar" at \'generation_config\': '
     "Cannot find field."),
    ({"contents": HELLO, "generationConfig": {"maxOutputTokens": "many"}}, 400,
     "INVALID_ARGUMENT", "Invalid value at 'generation_config.max_output_tokens' (TYPE_INT32), "
                         '"many"'),
    ({}, 400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents: contents is not "
                                  "specified\n"),
    ({"contents": [{"role": "bot", "parts": [{"text": "x"}]}]}, 400, "INVALID_ARGUMENT",
     "Please use a valid role: user, model."),
    ({"contents": HELLO, "generationConfig": {"maxOutputTokens": 10 ** 6}}, 400,
     "INVALID_ARGUMENT", "Unable to submit request because it has a maxOutputTokens value of "
                         "1000000 but the supported range is from 1 (inclusive) to 65537 "
                         "(exclusive). Update the value and try again."),
    ({"contents": HELLO, "generationConfig": {"temperature": 3}}, 400, "INVALID_ARGUMENT",
     "Unable to submit request because it has a temperature value of 3.0 but the supported "
     "range is from 0 (inclusive) to 2.0001 (exclusive). Update the value and try again."),
])
def test_errors_in_gemini_words(hs, body, status, rpc, message):
    assert error(hs, body) == (status, rpc, message)


def test_unknown_or_wrong_kind_of_model_is_not_found(hs):
    for model in (b"gemini-nope", b"text-embedding-004"):
        status, rpc, message = error(hs, {"contents": HELLO}, model=model)
        assert (status, rpc) == (404, "NOT_FOUND")
        assert message.startswith(f"models/{model.decode()} is not found for API version v1")


def test_rate_limit_errors_carry_retry_info():
    e = ApiError(429, "Resource has been exhausted.", headers=b"retry-after: 7\r\n")
    doc = json.loads(render("gemini", e))["error"]
    assert doc["status"] == "RESOURCE_EXHAUSTED"
    assert doc["details"] == [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                               "retryDelay": "7s"}]


def test_models_list_pages_and_get(hs):
    headers = {b"x-goog-api-key": b"k"}
    method, pattern, handler = hs["openai.models"]
    req = FakeReq(b"GET", b"/v1/models", headers=headers)
    req.query = b"pageSize=2"
    status, _, out = handler(req)
    doc = json.loads(out)
    assert status == 200 and len(doc["models"]) == 2 and doc["nextPageToken"] == "2"
    assert doc["models"][0]["name"].startswith("models/gemini")
    req.query = b"pageSize=1000"
    names = [m["name"] for m in json.loads(handler(req)[2])["models"]]
    assert "models/gemini-2.5-flash" in names and "models/text-embedding-004" in names
    status, _, out = call(hs, "gemini.model", params=(b"gemini-2.5-flash-lite",))
    m = json.loads(out)
    assert m["displayName"] == "Gemini 2.5 Flash-Lite" and m["outputTokenLimit"] == 65536
    assert "generateContent" in m["supportedGenerationMethods"]


def test_scripted_replies_function_calls_and_errors():
    hs = handlers(generators={"default": {"type": "script", "rules": [
        {"match": "weather", "tool_call": {"name": "get_weather", "arguments": {"city": "Oslo"}}},
        {"match": "hello", "reply": "Hi there!"},
        {"match": "quota", "error": {"status": 429, "message": "Quota exceeded"}}]}})
    say = lambda text: [{"role": "user", "parts": [{"text": text}]}]  # noqa: E731
    doc, _ = generate(hs, contents=say("hello"))
    assert text_of(doc) == "Hi there!"
    doc, _ = generate(hs, contents=say("the weather"))
    assert doc["candidates"][0]["content"]["parts"] == [
        {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}}]
    status, rpc, message = error(hs, {"contents": say("quota please")})
    assert (status, rpc, message) == (429, "RESOURCE_EXHAUSTED", "Quota exceeded")


EMBED, BATCH = "gemini.embed_content", "gemini.batch_embed_contents"


def embed(hs, name, body, model=b"text-embedding-004"):
    status, head, out = call(hs, name, body, params=(model,))
    assert status == 200 and out.delay_ns >= 0
    return json.loads(out.body)


def test_embeddings_are_deterministic_unit_vectors(hs):
    one = embed(hs, EMBED, {"content": {"parts": [{"text": "Hello"}]}})["embedding"]["values"]
    assert len(one) == 768 and abs(sum(x * x for x in one) - 1) < 1e-4
    batch = embed(hs, BATCH, {"requests": [
        {"model": "models/text-embedding-004", "content": {"parts": [{"text": t}]}}
        for t in ("Hello", "Bye")]})["embeddings"]
    assert batch[0]["values"] == one and batch[1]["values"] != one
    other = embed(hs, EMBED, {"content": {"parts": [{"text": "Hello"}]}},
                  model=b"gemini-embedding-001")["embedding"]["values"]
    assert len(other) == 3072 and other[:768] != one
    short = embed(hs, EMBED, {"content": {"parts": [{"text": "Hello"}]},
                              "outputDimensionality": 8}, model=b"gemini-embedding-001")
    assert len(short["embedding"]["values"]) == 8


def test_embedding_errors(hs):
    status, rpc, _ = error(hs, {"content": {"parts": [{"text": "x"}]}}, name=EMBED)
    assert (status, rpc) == (404, "NOT_FOUND")  # a chat model has no embedContent
    status, rpc, message = error(hs, {"content": {"parts": [{"text": "x"}]},
                                      "outputDimensionality": 5000}, name=EMBED,
                                 model=b"text-embedding-004")
    assert (status, rpc) == (400, "INVALID_ARGUMENT") and "768" in message
    status, _, message = error(hs, {"requests": [{"model": "models/gemini-embedding-001",
                                                  "content": {"parts": [{"text": "x"}]}}]},
                               name=BATCH, model=b"text-embedding-004")
    assert status == 400 and "must be the model of the URL" in message
