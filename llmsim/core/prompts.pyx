# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Input tokens of Anthropic and Gemini requests, compiled: every request counts its prompt.

llmsim's documented approximations, over llmsim's tokenizer (llmsim.sim.tokens):
  - Anthropic (`input_tokens`): the OpenAI-style framing per message, an image or a
    non-text document at a fixed cost, and the tool-use system prompt Anthropic documents
    (346 tokens for tool_choice auto/none, 313 for any/tool);
  - Gemini (`prompt_tokens`, `contents_tokens`): the text of every part, an image or other
    inline media at a fixed cost, and function calls, responses and declarations as their
    JSON.
The fields every request has are read by offset (llmsim.core.fields) from the Structs the
decoders make.
"""

import msgspec

from llmsim.core.fields cimport field as _f, slot
from llmsim.core.pieces cimport count_tokens as count

from llmsim.api.anthropic_types import (DocumentBlock, ImageBlock, Message, MessagesRequest,
                                        RedactedThinkingBlock, SearchResultBlock, TextBlock,
                                        ThinkingBlock, ToolChoiceAny, ToolChoiceTool,
                                        ToolResultBlock, ToolUseBlock)
from llmsim.api.gemini_types import Content, GenerateContentRequest, Part
from llmsim.sim import tokens

IMAGE_TOKENS = 1600
DOCUMENT_TOKENS = 1500
TOOLS_AUTO_TOKENS = 346
TOOLS_FORCED_TOKENS = 313
MEDIA_TOKENS = 258
cdef Py_ssize_t PER_MESSAGE = tokens.PER_MESSAGE, REPLY_PRIMING = tokens.REPLY_PRIMING
_encode = msgspec.json.encode
cdef Py_ssize_t A_SYSTEM = slot(MessagesRequest, "system")
cdef Py_ssize_t A_MESSAGES = slot(MessagesRequest, "messages")
cdef Py_ssize_t A_TOOLS = slot(MessagesRequest, "tools")
cdef Py_ssize_t A_CONTENT = slot(Message, "content")
cdef Py_ssize_t G_CONTENTS = slot(GenerateContentRequest, "contents")
cdef Py_ssize_t G_SYSTEM = slot(GenerateContentRequest, "system_instruction")
cdef Py_ssize_t G_TOOLS = slot(GenerateContentRequest, "tools")
cdef Py_ssize_t G_PARTS = slot(Content, "parts")
cdef Py_ssize_t P_TEXT = slot(Part, "text"), P_INLINE = slot(Part, "inline_data")
cdef Py_ssize_t P_FILE = slot(Part, "file_data"), P_CALL = slot(Part, "function_call")
cdef Py_ssize_t P_RESPONSE = slot(Part, "function_response")


cdef _typed(x, t):
    """`x`, which must be a `t` for its fields to be read by offset."""
    if type(x) is not t:
        raise TypeError(f"expected a {t.__name__}, got {type(x).__name__}")
    return x


# ---- Anthropic ----------------------------------------------------------------------------

cdef Py_ssize_t _blocks_tokens(blocks) except -1:
    cdef Py_ssize_t n = 0
    for b in blocks:
        t = type(b)
        if t is TextBlock:
            n += count(b.text)
        elif t is ImageBlock:
            n += IMAGE_TOKENS
        elif t is DocumentBlock:
            data = b.source.get("data") if b.source.get("type") == "text" else None
            n += count(data) if isinstance(data, str) else DOCUMENT_TOKENS
        elif t is ToolUseBlock:
            n += PER_MESSAGE + count(b.name) + count(_encode(b.input))
        elif t is ToolResultBlock:
            c = b.content
            n += PER_MESSAGE + (count(c) if type(c) is str else _blocks_tokens(c or ()))
        elif t is ThinkingBlock:
            n += count(b.thinking)
        elif t is SearchResultBlock:
            n += count(b.title) + _blocks_tokens(b.content)
        elif t is RedactedThinkingBlock:
            n += len(b.data) // 4
    return n


cpdef Py_ssize_t input_tokens(r) except -1:
    """Input tokens of a Messages (or count_tokens) request."""
    cdef Py_ssize_t n = REPLY_PRIMING
    if type(r) is MessagesRequest:
        s, messages, tools = _f(r, A_SYSTEM), _f(r, A_MESSAGES), _f(r, A_TOOLS)
    else:
        s, messages, tools = r.system, r.messages, r.tools
    if s:
        n += PER_MESSAGE + (count(s) if type(s) is str else _blocks_tokens(s))
    for m in messages:
        c = _f(_typed(m, Message), A_CONTENT)
        n += PER_MESSAGE + (count(c) if type(c) is str else _blocks_tokens(c))
    if tools:
        forced = type(r.tool_choice) in (ToolChoiceAny, ToolChoiceTool)
        n += TOOLS_FORCED_TOKENS if forced else TOOLS_AUTO_TOKENS
        for tool in tools:
            n += count(tool.name) + count(tool.description or "")
            if tool.input_schema is not None:
                n += count(_encode(tool.input_schema))
    return n


# ---- Gemini -------------------------------------------------------------------------------

cdef Py_ssize_t _parts_tokens(parts) except -1:
    cdef Py_ssize_t n = 0
    for p in parts:
        text = _f(_typed(p, Part), P_TEXT)
        if text is not None:
            n += count(text)
        if _f(p, P_INLINE) is not None or _f(p, P_FILE) is not None:
            n += MEDIA_TOKENS
        call = _f(p, P_CALL)
        if call is not None:
            n += count(call.name) + count(_encode(call.args or {}))
        answer = _f(p, P_RESPONSE)
        if answer is not None:
            n += count(answer.name) + count(_encode(answer.response or {}))
    return n


cpdef Py_ssize_t contents_tokens(contents) except -1:
    """Input tokens of a list of Contents (None: 0)."""
    cdef Py_ssize_t n = 0
    for c in contents or ():
        n += _parts_tokens(_f(_typed(c, Content), G_PARTS))
    return n


cpdef Py_ssize_t prompt_tokens(r) except -1:
    """Input tokens of a GenerateContentRequest."""
    cdef Py_ssize_t n = contents_tokens(_f(_typed(r, GenerateContentRequest), G_CONTENTS))
    system = _f(r, G_SYSTEM)
    if system is not None:
        n += _parts_tokens(_f(_typed(system, Content), G_PARTS))
    for tool in _f(r, G_TOOLS) or ():
        for d in tool.function_declarations or ():
            n += count(d.name) + count(d.description or "")
            schema = d.parameters_json_schema or d.parameters
            if schema:
                n += count(_encode(schema))
    return n
