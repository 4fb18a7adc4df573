"""OpenAI request bodies as msgspec Structs: decoding is validation, at C speed.

Field names, types and ranges follow OpenAI's OpenAPI spec; a failure carries a JSON path
that `openai_wire.decode_error` turns into OpenAI's own error message and `param`. Top-level
unknown fields are refused like the real API does; nested objects are lenient.
"""

from typing import Annotated, Any, Literal, Union

import msgspec
from msgspec import Meta, Struct

from llmsim.errors import ApiError

Temperature = Annotated[float, Meta(ge=0, le=2)]
TopP = Annotated[float, Meta(ge=0, le=1)]
Penalty = Annotated[float, Meta(ge=-2, le=2)]
Choices = Annotated[int, Meta(ge=1, le=128)]
Positive = Annotated[int, Meta(ge=1)]
Stop = Union[str, Annotated[list[str], Meta(max_length=4)], None]


# ---- message content ------------------------------------------------------------------------

class TextPart(Struct, tag="text", tag_field="type"):
    text: str


class ImageURL(Struct):
    url: str
    detail: Literal["auto", "low", "high"] = "auto"


class ImagePart(Struct, tag="image_url", tag_field="type"):
    image_url: ImageURL


class AudioPart(Struct, tag="input_audio", tag_field="type"):
    input_audio: dict


class FilePart(Struct, tag="file", tag_field="type"):
    file: dict


class RefusalPart(Struct, tag="refusal", tag_field="type"):
    refusal: str


Part = Union[TextPart, ImagePart, AudioPart, FilePart, RefusalPart]
Content = Union[str, Annotated[list[Part], Meta(min_length=1)]]


class FunctionCall(Struct):
    name: str
    arguments: str


class ToolCall(Struct, tag="function", tag_field="type"):
    id: str
    function: FunctionCall


class SystemMessage(Struct, tag="system", tag_field="role"):
    content: Content
    name: str | None = None


class DeveloperMessage(Struct, tag="developer", tag_field="role"):
    content: Content
    name: str | None = None


class UserMessage(Struct, tag="user", tag_field="role"):
    content: Content
    name: str | None = None


class AssistantMessage(Struct, tag="assistant", tag_field="role"):
    content: Content | None = None
    name: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCall] | None = None
    function_call: FunctionCall | None = None
    audio: dict | None = None


class ToolMessage(Struct, tag="tool", tag_field="role"):
    content: Content
    tool_call_id: str


class FunctionMessage(Struct, tag="function", tag_field="role"):
    content: str | None
    name: str


Message = Union[SystemMessage, DeveloperMessage, UserMessage, AssistantMessage, ToolMessage,
                FunctionMessage]


# ---- tools and formats ------------------------------------------------------------------------

class FunctionDef(Struct):
    name: str
    description: str | None = None
    parameters: dict | None = None
    strict: bool | None = None


class FunctionTool(Struct, tag="function", tag_field="type"):
    function: FunctionDef


class CustomTool(Struct, tag="custom", tag_field="type"):
    custom: dict


class NamedFunction(Struct):
    name: str


class NamedToolChoice(Struct, tag="function", tag_field="type"):
    function: NamedFunction


class AllowedToolsChoice(Struct, tag="allowed_tools", tag_field="type"):
    allowed_tools: dict


class CustomToolChoice(Struct, tag="custom", tag_field="type"):
    custom: dict


ToolChoice = Union[Literal["none", "auto", "required"], NamedToolChoice, AllowedToolsChoice,
                   CustomToolChoice, None]


class TextFormat(Struct, tag="text", tag_field="type"):
    pass


class JsonObjectFormat(Struct, tag="json_object", tag_field="type"):
    pass


class JsonSchemaSpec(Struct):
    name: str
    schema: dict | None = None
    description: str | None = None
    strict: bool | None = None


class JsonSchemaFormat(Struct, tag="json_schema", tag_field="type"):
    json_schema: JsonSchemaSpec


ResponseFormat = Union[TextFormat, JsonObjectFormat, JsonSchemaFormat, None]


class StreamOptions(Struct):
    include_usage: bool | None = None
    include_obfuscation: bool | None = None


# ---- requests -----------------------------------------------------------------------------

class ChatRequest(Struct, forbid_unknown_fields=True):
    model: str
    messages: list[Message]
    max_tokens: Positive | None = None
    max_completion_tokens: Positive | None = None
    n: Choices | None = None
    stop: Stop = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    frequency_penalty: Penalty | None = None
    presence_penalty: Penalty | None = None
    logprobs: bool | None = None
    top_logprobs: Annotated[int, Meta(ge=0, le=20)] | None = None
    logit_bias: dict[str, Annotated[int, Meta(ge=-100, le=100)]] | None = None
    seed: int | None = None
    user: str | None = None
    metadata: dict[str, str] | None = None
    response_format: ResponseFormat = None
    tools: list[Union[FunctionTool, CustomTool]] | None = None
    tool_choice: ToolChoice = None
    parallel_tool_calls: bool | None = None
    functions: list[FunctionDef] | None = None
    function_call: Any = None
    store: bool | None = None
    service_tier: str | None = None
    reasoning_effort: str | None = None
    verbosity: str | None = None
    modalities: list[str] | None = None
    audio: Any = None
    prediction: Any = None
    web_search_options: Any = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: str | None = None
    prompt_cache_options: Any = None
    moderation: Any = None


CHAT = msgspec.json.Decoder(ChatRequest)


class CompletionRequest(Struct, forbid_unknown_fields=True):
    model: str
    prompt: Any                          # str | list[str] | list[int] | list[list[int]]
    max_tokens: Annotated[int, Meta(ge=0)] | None = 16
    n: Choices | None = None
    best_of: Annotated[int, Meta(ge=0, le=20)] | None = None
    stop: Stop = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    echo: bool | None = None
    logprobs: Annotated[int, Meta(ge=0, le=5)] | None = None
    suffix: str | None = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    frequency_penalty: Penalty | None = None
    presence_penalty: Penalty | None = None
    logit_bias: dict[str, Annotated[int, Meta(ge=-100, le=100)]] | None = None
    seed: int | None = None
    user: str | None = None


class EmbeddingRequest(Struct, forbid_unknown_fields=True):
    model: str
    input: Any                           # str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: Annotated[int, Meta(ge=1)] | None = None
    user: str | None = None


class ResponsesRequest(Struct, forbid_unknown_fields=True):
    model: str
    input: Any = None                    # str | list of input items
    instructions: str | None = None
    max_output_tokens: Annotated[int, Meta(ge=16)] | None = None
    tools: list[dict] | None = None
    tool_choice: Any = None
    parallel_tool_calls: bool | None = None
    max_tool_calls: Annotated[int, Meta(ge=1)] | None = None
    stream: bool | None = None
    stream_options: dict | None = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    top_logprobs: Annotated[int, Meta(ge=0, le=20)] | None = None
    text: dict | None = None
    reasoning: dict | None = None
    previous_response_id: str | None = None
    conversation: Any = None
    store: bool | None = None
    background: bool | None = None
    metadata: dict[str, str] | None = None
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: str | None = None
    prompt: Any = None
    truncation: Literal["auto", "disabled"] | None = None
    include: list[str] | None = None
    service_tier: str | None = None


COMPLETION = msgspec.json.Decoder(CompletionRequest)
RESPONSES = msgspec.json.Decoder(ResponsesRequest)
EMBEDDING = msgspec.json.Decoder(EmbeddingRequest)


def text_inputs(value, param):
    """A `prompt`/`input` value as a list of items, each a str or a list of token ids.

    Accepts a string, a list of strings, a list of token ids, or a list of such lists, as
    the API does; anything else is OpenAI's "'$.input' is invalid" error.
    """
    t = type(value)
    if t is str:
        return [value]
    if t is list and value:
        if all(type(v) is str for v in value):
            return value
        if all(type(v) is int and v >= 0 for v in value):
            return [value]
        if all(type(v) is list and v and all(type(x) is int and x >= 0 for x in v)
               for v in value):
            return value
    raise ApiError(400, f"'$.{param}' is invalid. Please check the API reference: "
                        "https://platform.openai.com/docs/api-reference.")
