"""Gemini request bodies as msgspec Structs (camelCase on the wire), and proto-JSON names.

The Gemini API parses bodies as protobuf JSON: every field may be spelled in lowerCamelCase
or in its original snake_case, and an unknown name is an error. The Structs name the camel
forms and refuse unknown fields, so the common (camelCase) body decodes in one typed pass;
a body that uses snake_case names somewhere (the google-genai SDK sends some nested objects
that way) fails with an unknown field, is re-keyed along the Struct types (`decode`), and is
decoded again. Free-form JSON (schemas, function arguments) is never re-keyed.
"""

import functools
from typing import Any, Literal

import msgspec
from msgspec import Struct

from llmsim.api import decoding

_CAMEL = {"rename": "camel", "forbid_unknown_fields": True}


class Blob(Struct, **_CAMEL):
    mime_type: str | None = None
    data: str = ""
    display_name: str | None = None


class FileData(Struct, **_CAMEL):
    file_uri: str
    mime_type: str | None = None
    display_name: str | None = None


class FunctionCall(Struct, **_CAMEL):
    name: str
    args: dict | None = None
    id: str | None = None
    partial_args: Any = None
    will_continue: bool | None = None


class FunctionResponse(Struct, **_CAMEL):
    name: str
    response: dict | None = None
    id: str | None = None
    parts: Any = None
    will_continue: bool | None = None
    scheduling: str | None = None


class Part(Struct, **_CAMEL):
    text: str | None = None
    inline_data: Blob | None = None
    file_data: FileData | None = None
    function_call: FunctionCall | None = None
    function_response: FunctionResponse | None = None
    executable_code: Any = None
    code_execution_result: Any = None
    thought: bool | None = None
    thought_signature: str | None = None
    video_metadata: Any = None
    media_resolution: Any = None
    part_metadata: Any = None
    audio_metadata: Any = None
    audio_transcription: Any = None
    document_metadata: Any = None
    speech_metadata: Any = None
    spreadsheet_metadata: Any = None
    media_processing: Any = None
    tool_call: Any = None
    tool_response: Any = None


class Content(Struct, **_CAMEL):
    parts: list[Part] = []
    role: str | None = None


class FunctionDeclaration(Struct, **_CAMEL):
    name: str
    description: str | None = None
    parameters: dict | None = None
    parameters_json_schema: Any = None
    response: dict | None = None
    response_json_schema: Any = None
    behavior: str | None = None


class Tool(Struct, **_CAMEL):
    function_declarations: list[FunctionDeclaration] | None = None
    code_execution: Any = None
    computer_use: Any = None
    file_search: Any = None
    google_maps: Any = None
    google_search: Any = None
    google_search_retrieval: Any = None
    mcp_servers: Any = None
    url_context: Any = None
    retrieval: Any = None
    enterprise_web_search: Any = None
    exa_ai_search: Any = None
    parallel_ai_search: Any = None


class FunctionCallingConfig(Struct, **_CAMEL):
    mode: Literal["MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED"] | None = None
    allowed_function_names: list[str] | None = None
    stream_function_call_arguments: bool | None = None


class ToolConfig(Struct, **_CAMEL):
    function_calling_config: FunctionCallingConfig | None = None
    retrieval_config: Any = None
    include_server_side_tool_invocations: bool | None = None


class ThinkingConfig(Struct, **_CAMEL):
    include_thoughts: bool | None = None
    thinking_budget: int | None = None
    thinking_level: str | None = None


class GenerationConfig(Struct, **_CAMEL):
    stop_sequences: list[str] | None = None
    response_mime_type: str | None = None
    response_schema: dict | None = None
    response_json_schema: Any = None
    candidate_count: int | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: float | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    response_logprobs: bool | None = None
    logprobs: int | None = None
    thinking_config: ThinkingConfig | None = None
    response_modalities: list[str] | None = None
    speech_config: Any = None
    image_config: Any = None
    media_resolution: Any = None
    audio_timestamp: bool | None = None
    enable_enhanced_civic_answers: bool | None = None
    routing_config: Any = None
    model_selection_config: Any = None
    audio_transcription_config: Any = None


class GenerateContentRequest(Struct, **_CAMEL):
    contents: list[Content] | None = None
    system_instruction: Content | None = None
    generation_config: GenerationConfig | None = None
    safety_settings: list[Any] | None = None
    tools: list[Tool] | None = None
    tool_config: ToolConfig | None = None
    cached_content: str | None = None
    labels: dict | None = None
    service_tier: Any = None
    store: bool | None = None
    model: str | None = None
    model_armor_config: Any = None
    model_config: Any = None
    continuation_token: Any = None


class CountTokensRequest(Struct, **_CAMEL):
    contents: list[Content] | None = None
    generate_content_request: GenerateContentRequest | None = None
    model: str | None = None


class EmbedContentRequest(Struct, **_CAMEL):
    content: Content | None = None
    model: str | None = None
    task_type: str | None = None
    title: str | None = None
    output_dimensionality: int | None = None
    auto_truncate: bool | None = None
    document_ocr: Any = None
    audio_track_extraction: Any = None


class BatchEmbedRequest(Struct, **_CAMEL):
    requests: list[EmbedContentRequest] = []


# ---- decoding with proto-JSON names -----------------------------------------------------------

def _walker(t):
    """A function re-keying decoded JSON at the positions of type info `t` to camelCase."""
    if isinstance(t, msgspec.inspect.StructType):
        fields = {}
        for f in t.fields:
            fields[f.encode_name] = fields[f.name] = (f.encode_name, f.type)
        return ("struct", fields)
    if isinstance(t, (msgspec.inspect.ListType, msgspec.inspect.VarTupleType)):
        return ("list", t.item_type)
    if isinstance(t, msgspec.inspect.UnionType):
        inner = [x for x in t.types if not isinstance(x, msgspec.inspect.NoneType)]
        if len(inner) == 1:
            return _walker(inner[0])
    return None


def _rekey(value, t):
    w = _walker(t)
    if w is None:
        return value
    kind, spec = w
    if kind == "list":
        return [_rekey(v, spec) for v in value] if isinstance(value, list) else value
    if not isinstance(value, dict):
        return value
    out = {}
    for k, v in value.items():
        known = spec.get(k)
        if known is None:
            out[k] = v
        else:
            out[known[0]] = _rekey(v, known[1])
    return out


class Decoder:
    """Decode one request type, accepting both proto-JSON spellings of field names."""

    def __init__(self, cls):
        self.cls = cls
        self.typed = msgspec.json.Decoder(cls)

    @functools.cached_property
    def info(self):
        # Built on the first snake_case body only: type_info over these Structs costs ~6 ms,
        # which every start-up paid for a fallback most runs never take.
        return msgspec.inspect.type_info(self.cls)

    def decode(self, body):
        try:
            return self.typed.decode(body)
        except msgspec.ValidationError as e:
            p = decoding.explain(e)
            if p.kind != decoding.UNKNOWN or "_" not in p.detail:
                raise
        return self.typed.decode(msgspec.json.encode(_rekey(msgspec.json.decode(body),
                                                            self.info)))


GENERATE = Decoder(GenerateContentRequest)
COUNT_TOKENS = Decoder(CountTokensRequest)
EMBED = Decoder(EmbedContentRequest)
BATCH_EMBED = Decoder(BatchEmbedRequest)
