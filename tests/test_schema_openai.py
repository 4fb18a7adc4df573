"""Raw JSON of every OpenAI answer validated against OpenAI's published OpenAPI schemas.

The spec lives next to the repository in ../shared/specs/openai-openapi.json (see SOURCES.md
there; LLMSIM_SPECS names another directory). It mixes OpenAPI 3.0's `nullable: true` into 3.1 schemas; that keyword is read as
"or null" (what it means), not as a relaxation. Where the published schema is stricter than
the live API, the relaxation is named in RELAXATIONS below and applied to the loaded schema.
"""

import copy
import json
import os
from functools import lru_cache
from pathlib import Path

import pytest

from llmsim.errors import ApiError, render
from openai_fakes import FakePlanner, FakeReq, call, handlers, sse_events

jsonschema = pytest.importorskip("jsonschema")

# LLMSIM_SPECS points elsewhere (e.g. from a git worktree that is not next to shared/).
SPEC = Path(os.environ.get("LLMSIM_SPECS") or
            Path(__file__).resolve().parents[1].parent / "shared" / "specs") / "openai-openapi.json"



def _embedding_base64(schema):
    # The live API returns `embedding` as a base64 string when encoding_format is "base64"
    # (the SDK decodes it); the published Embedding schema only allows an array of numbers.
    schema["properties"]["embedding"] = {"anyOf": [schema["properties"]["embedding"],
                                                   {"type": "string"}]}


def _completion_echo_logprobs(schema):
    # With echo, the live API gives the first prompt token a null logprob and null
    # top_logprobs; the published schema only allows numbers and objects there.
    lp = schema["properties"]["choices"]["items"]["properties"]["logprobs"]["anyOf"][0]
    for key in ("token_logprobs", "top_logprobs"):
        lp["properties"][key]["items"] = {"anyOf": [lp["properties"][key]["items"],
                                                    {"type": "null"}]}


# Where the published schema is stricter than the live API.
RELAXATIONS = {"Embedding": _embedding_base64,
               "CreateCompletionResponse": _completion_echo_logprobs}


def _completion_chunk(comps):
    # Streamed legacy completions "share the shape" of CreateCompletionResponse per the
    # spec, but live chunks carry `finish_reason: null` until the last one and, with
    # include_usage, `usage: null` until the usage chunk: a copy allows both nulls.
    chunk = copy.deepcopy(comps["schemas"]["CreateCompletionResponse"])
    choice = chunk["properties"]["choices"]["items"]["properties"]
    choice["finish_reason"] = {"anyOf": [choice["finish_reason"], {"type": "null"}]}
    chunk["properties"]["usage"] = {"anyOf": [chunk["properties"]["usage"], {"type": "null"}]}
    comps["schemas"]["CompletionStreamChunk"] = chunk


def _nullable(node):
    if isinstance(node, dict):
        node = {k: _nullable(v) for k, v in node.items()}
        if node.pop("nullable", False):
            return {"anyOf": [node, {"type": "null"}]}
        return node
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    return node


@lru_cache(maxsize=None)
def _components():
    if not SPEC.exists():
        pytest.skip(f"OpenAI spec not found at {SPEC} (expected ../shared/specs next to the "
                    "repository)")
    comps = copy.deepcopy(json.loads(SPEC.read_text())["components"])
    for name, fix in RELAXATIONS.items():
        fix(comps["schemas"][name])
    _completion_chunk(comps)
    return _nullable(comps)


@lru_cache(maxsize=None)
def validator(name):
    schema = {"$ref": f"#/components/schemas/{name}", "components": _components()}
    return jsonschema.Draft202012Validator(schema)


def check(name, raw):
    doc = json.loads(raw)
    errors = sorted(validator(name).iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])
    return doc


USER = [{"role": "user", "content": "Hello, reply in json"}]
TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {
    "type": "object", "properties": {"q": {"type": "string"}, "n": {"type": "integer"}},
    "required": ["q"]}}}
SCHEMA = {"type": "json_schema", "json_schema": {"name": "x", "schema": {
    "type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}}}
VARIANTS = [
    {},
    {"n": 3},
    {"stop": ["."], "seed": 1},
    {"max_tokens": 3},
    {"model": "o3", "max_completion_tokens": 50},
    {"tools": [TOOL]},
    {"tools": [TOOL, {**TOOL, "function": {**TOOL["function"], "name": "other"}}],
     "parallel_tool_calls": True},
    {"logprobs": True, "top_logprobs": 2},
    {"response_format": {"type": "json_object"}},
    {"response_format": SCHEMA},
]


@pytest.fixture(scope="module")
def hs():
    return handlers(planner=FakePlanner(length=30))


@pytest.mark.parametrize("extra", VARIANTS)
def test_chat_completion(hs, extra):
    body = {"model": "gpt-4o-mini", "messages": USER, **extra}
    check("CreateChatCompletionResponse", call(hs, "openai.chat_completions", body)[2])


@pytest.mark.parametrize("extra", VARIANTS)
@pytest.mark.parametrize("usage", [False, True])
def test_chat_completion_stream_chunks(hs, extra, usage):
    body = {"model": "gpt-4o-mini", "messages": USER, "stream": True, **extra}
    if usage:
        body["stream_options"] = {"include_usage": True}
    method, pattern, handler = hs["openai.chat_completions"]
    _, _, stream = handler(FakeReq(method, pattern.encode(), body))
    frames, _ = sse_events(stream)
    assert frames[-1] == "[DONE]"
    for frame in frames[:-1]:
        check("CreateChatCompletionStreamResponse", json.dumps(frame))


def test_models_list_and_model(hs):
    check("ListModelsResponse", call(hs, "openai.models")[2])
    check("Model", call(hs, "openai.model", params=(b"gpt-4o",))[2])


@pytest.mark.parametrize("body", [
    b"{", {"model": "nope", "messages": USER}, {"model": "gpt-4o", "messages": []},
    {"model": "gpt-4o", "messages": USER, "n": 500},
])
def test_errors(hs, body):
    with pytest.raises(ApiError) as e:
        call(hs, "openai.chat_completions", body)
    check("ErrorResponse", render("openai", e.value))


@pytest.mark.parametrize("extra", [
    {}, {"n": 2, "prompt": ["a", "b"]}, {"echo": True, "logprobs": 2}, {"stop": "."},
    {"prompt": [1, 2, 3]}, {"max_tokens": 0, "echo": True},
])
@pytest.mark.parametrize("stream", [False, True])
def test_completions(hs, extra, stream):
    body = {"model": "gpt-3.5-turbo-instruct", "prompt": "Hello", **extra}
    if not stream:
        check("CreateCompletionResponse", call(hs, "openai.completions", body)[2])
        return
    body.update(stream=True, stream_options={"include_usage": True})
    method, pattern, handler = hs["openai.completions"]
    frames, _ = sse_events(handler(FakeReq(method, pattern.encode(), body))[2])
    for frame in frames[:-1]:
        check("CompletionStreamChunk", json.dumps(frame))


@pytest.mark.parametrize("extra", [
    {"input": "x"}, {"input": ["a", "b"], "dimensions": 64}, {"input": [[1, 2], [3]]},
    {"input": "x", "encoding_format": "base64"},
])
def test_embeddings(hs, extra):
    body = {"model": "text-embedding-3-small", **extra}
    check("CreateEmbeddingResponse", call(hs, "openai.embeddings", body)[2])


RESPONSE_TOOL = {"type": "function", "name": "lookup", "parameters": {
    "type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}
RESPONSE_VARIANTS = [
    {},
    {"instructions": "Be brief.", "max_output_tokens": 16},
    {"input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
     "tools": [RESPONSE_TOOL]},
    {"model": "o3", "reasoning": {"effort": "low"}},
    {"text": {"format": {"type": "json_schema", "name": "x", "schema": {
        "type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}}}},
]


@pytest.mark.parametrize("extra", RESPONSE_VARIANTS)
def test_responses(hs, extra):
    body = {"model": "gpt-4o-mini", "input": "Hello", **extra}
    check("Response", call(hs, "openai.responses", body)[2])


@pytest.mark.parametrize("extra", RESPONSE_VARIANTS)
def test_responses_stream_events(hs, extra):
    body = {"model": "gpt-4o-mini", "input": "Hello", "stream": True, **extra}
    method, pattern, handler = hs["openai.responses"]
    stream = handler(FakeReq(method, pattern.encode(), body))[2]
    wire = stream.render(0, stream.n_events)
    stream.close()
    for block in wire.split(b"\n\n")[:-1]:
        event, data = block.split(b"\n")
        doc = check("ResponseStreamEvent", data[6:])
        assert event == b"event: " + doc["type"].encode()
