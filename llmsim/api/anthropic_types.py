"""Anthropic Messages request bodies as msgspec Structs: decoding is validation.

Fields follow the Messages API and the `anthropic` SDK; unknown top-level fields are refused
as the API does ("Extra inputs are not permitted"), nested objects are lenient.
"""

from typing import Annotated, Any, Literal, Union

import msgspec
from msgspec import Meta, Struct

Unit = Annotated[float, Meta(ge=0, le=1)]
Positive = Annotated[int, Meta(ge=1)]


# ---- content blocks ---------------------------------------------------------------------------

class TextBlock(Struct, tag="text", tag_field="type"):
    text: str
    cache_control: Any = None
    citations: Any = None


class ImageBlock(Struct, tag="image", tag_field="type"):
    source: dict
    cache_control: Any = None


class DocumentBlock(Struct, tag="document", tag_field="type"):
    source: dict
    title: str | None = None
    context: str | None = None
    citations: Any = None
    cache_control: Any = None


class SearchResultBlock(Struct, tag="search_result", tag_field="type"):
    source: str
    title: str
    content: list[TextBlock]
    citations: Any = None
    cache_control: Any = None


class ToolUseBlock(Struct, tag="tool_use", tag_field="type"):
    id: str
    name: str
    input: dict
    cache_control: Any = None


class ToolResultBlock(Struct, tag="tool_result", tag_field="type"):
    tool_use_id: str
    content: Union[str, list[Union[TextBlock, ImageBlock, DocumentBlock, SearchResultBlock]],
                   None] = None
    is_error: bool | None = None
    cache_control: Any = None


class ThinkingBlock(Struct, tag="thinking", tag_field="type"):
    thinking: str
    signature: str


class RedactedThinkingBlock(Struct, tag="redacted_thinking", tag_field="type"):
    data: str


Block = Union[TextBlock, ImageBlock, DocumentBlock, SearchResultBlock, ToolUseBlock,
              ToolResultBlock, ThinkingBlock, RedactedThinkingBlock]
BLOCK_TAGS = ("text", "image", "document", "search_result", "tool_use", "tool_result",
              "thinking", "redacted_thinking")


class Message(Struct):
    role: Literal["user", "assistant"]
    content: Union[str, list[Block]]


# ---- tools, thinking, output ------------------------------------------------------------------

class Tool(Struct):
    """A client tool (`input_schema`) or a server tool (`type` like web_search_20250305)."""
    name: str
    input_schema: dict | None = None
    description: str | None = None
    type: str | None = None
    cache_control: Any = None
    strict: bool | None = None
    input_examples: Any = None
    eager_input_streaming: bool | None = None
    defer_loading: bool | None = None
    allowed_callers: Any = None


class ToolChoiceAuto(Struct, tag="auto", tag_field="type"):
    disable_parallel_tool_use: bool | None = None


class ToolChoiceAny(Struct, tag="any", tag_field="type"):
    disable_parallel_tool_use: bool | None = None


class ToolChoiceTool(Struct, tag="tool", tag_field="type"):
    name: str
    disable_parallel_tool_use: bool | None = None


class ToolChoiceNone(Struct, tag="none", tag_field="type"):
    pass


ToolChoice = Union[ToolChoiceAuto, ToolChoiceAny, ToolChoiceTool, ToolChoiceNone]


class ThinkingEnabled(Struct, tag="enabled", tag_field="type"):
    budget_tokens: int
    display: Literal["summarized", "omitted"] | None = None


class ThinkingAdaptive(Struct, tag="adaptive", tag_field="type"):
    display: Literal["summarized", "omitted"] | None = None


class ThinkingDisabled(Struct, tag="disabled", tag_field="type"):
    pass


Thinking = Union[ThinkingEnabled, ThinkingAdaptive, ThinkingDisabled]


class JsonFormat(Struct, tag="json_schema", tag_field="type"):
    schema: dict


class OutputConfig(Struct):
    effort: str | None = None
    format: JsonFormat | None = None


class Metadata(Struct):
    user_id: str | None = None


# ---- requests ---------------------------------------------------------------------------------

class CountTokensRequest(Struct, forbid_unknown_fields=True):
    model: str
    messages: list[Message]
    system: Union[str, list[TextBlock], None] = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    thinking: Thinking | None = None
    output_config: OutputConfig | None = None
    cache_control: Any = None
    speed: str | None = None
    context_management: Any = None
    mcp_servers: Any = None
    user_profile_id: str | None = None
    workspace_id: str | None = None


class MessagesRequest(Struct, forbid_unknown_fields=True):
    model: str
    messages: list[Message]
    max_tokens: Positive
    system: Union[str, list[TextBlock], None] = None
    stop_sequences: list[str] | None = None
    stream: bool | None = None
    temperature: Unit | None = None
    top_p: Unit | None = None
    top_k: Annotated[int, Meta(ge=0)] | None = None
    metadata: Metadata | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    thinking: Thinking | None = None
    output_config: OutputConfig | None = None
    service_tier: Literal["auto", "standard_only"] | None = None
    cache_control: Any = None
    container: Any = None
    context_management: Any = None
    mcp_servers: Any = None
    diagnostics: Any = None
    inference_geo: str | None = None
    speed: str | None = None
    user_profile_id: str | None = None
    workspace_id: str | None = None


MESSAGES = msgspec.json.Decoder(MessagesRequest)
COUNT_TOKENS = msgspec.json.Decoder(CountTokensRequest)
