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

# Where the published schema is stricter than the live API (none needed so far).
RELAXATIONS = {}


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
