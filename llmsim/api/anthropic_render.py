"""An Anthropic answer (content blocks, stop reason, usage) as a Message body or as the
Messages event stream.

The stream is the event sequence the SDK dispatches: message_start, then per content block
content_block_start, deltas (text_delta, thinking_delta + signature_delta, input_json_delta)
and content_block_stop, a ping after the first block start, then message_delta (stop_reason,
cumulative usage) and message_stop. Deltas are rendered per token from the shared escaped
text when the scheduler sends them (a llmsim.core.sse.TokenStream of one lane); only the few
framing events are rendered ahead. A block's opening events leave with its first token, its
closing ones with the next block's first token or with the message's end. The common stream
(one text block) is sent by llmsim.core.textreply from the TEXT_* frames below instead, the
same bytes.
"""

from typing import NamedTuple

from llmsim.api.openai_env import gap
from llmsim.core.render import Template, escape
from llmsim.core.sse import TokenStream

THINKING, TEXT, TOOL_USE = "thinking", "text", "tool_use"


class Block(NamedTuple):
    """One content block: `run` holds its tokens (text, thinking, or the tool input JSON);
    thinking: `signature`; tool_use: `id` and `name`."""
    kind: str
    run: object
    signature: bytes = b""
    id: bytes = b""
    name: str = ""


class Answer(NamedTuple):
    id: bytes
    model: str
    blocks: list
    stop_reason: bytes          # end_turn | max_tokens | stop_sequence | tool_use
    stop_sequence: str | None
    input_tokens: int

    @property
    def output_tokens(self):
        return sum(b.run.count for b in self.blocks)


# ---- the Message body ---------------------------------------------------------------------

_USAGE = (b'"usage":{"input_tokens":{{in:int}},"cache_creation_input_tokens":0,'
          b'"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":0,'
          b'"ephemeral_1h_input_tokens":0},"output_tokens":{{out:int}},'
          b'"service_tier":"standard"}')
_MESSAGE = (b'{"id":"{{id:raw}}","type":"message","role":"assistant",'
            b'"model":"{{model:str}}","content":[{{content:raw}}],'
            b'"stop_reason":"{{stop:raw}}","stop_sequence":{{seq:raw}},' + _USAGE + b'}')
_TEXT_BLOCK = b'{"type":"text","text":"{{text:raw}}"}'
MESSAGE = Template(_MESSAGE)
TEXT_BLOCK = Template(_TEXT_BLOCK)
# The common answer in one pass: one text block, no stop sequence (id, model, escaped text,
# stop reason, input tokens, output tokens).
TEXT_MESSAGE = Template(_MESSAGE.replace(b"{{content:raw}}", _TEXT_BLOCK)
                        .replace(b"{{seq:raw}}", b"null"))
THINKING_BLOCK = Template(b'{"type":"thinking","thinking":"{{text:raw}}",'
                          b'"signature":"{{sig:raw}}"}')
TOOL_BLOCK = Template(b'{"type":"tool_use","id":"{{id:raw}}","name":"{{name:str}}",'
                      b'"input":{{input:raw}}}')


def _quoted(s):
    return b"null" if s is None else b'"' + escape(s) + b'"'


def message(a):
    """The JSON body of a non-streamed answer."""
    parts = []
    for b in a.blocks:
        if b.kind == TEXT:
            parts.append(TEXT_BLOCK.render((b.run.esc(),)))
        elif b.kind == THINKING:
            parts.append(THINKING_BLOCK.render((b.run.esc(), b.signature)))
        else:
            parts.append(TOOL_BLOCK.render((b.id, b.name, b.run.raw())))
    return MESSAGE.render((a.id, a.model, b",".join(parts), a.stop_reason,
                           _quoted(a.stop_sequence), a.input_tokens, a.output_tokens))


# ---- the event stream -------------------------------------------------------------------

def _event(name, data):
    return b"event: " + name + b"\ndata: " + data + b"\n\n"


MESSAGE_START = Template(_event(
    b"message_start",
    b'{"type":"message_start","message":{"id":"{{id:raw}}","type":"message",'
    b'"role":"assistant","model":"{{model:str}}","content":[],"stop_reason":null,'
    b'"stop_sequence":null,' + _USAGE.replace(b"{{out:int}}", b"1") + b'}}'))
BLOCK_START = Template(_event(b"content_block_start",
                              b'{"type":"content_block_start","index":{{index:int}},'
                              b'"content_block":{{block:raw}}}'))
BLOCK_STOP = Template(_event(b"content_block_stop",
                             b'{"type":"content_block_stop","index":{{index:int}}}'))
PING = _event(b"ping", b'{"type": "ping"}')
DELTA = Template(_event(b"content_block_delta",
                        b'{"type":"content_block_delta","index":{{index:int}},'
                        b'"delta":{"type":"{{kind:raw}}","{{field:raw}}":"{{value:raw}}"}}'))
_MESSAGE_DELTA = _event(
    b"message_delta",
    b'{"type":"message_delta","delta":{"stop_reason":"{{stop:raw}}",'
    b'"stop_sequence":{{seq:raw}}},"usage":{"input_tokens":{{in:int}},'
    b'"cache_creation_input_tokens":0,"cache_read_input_tokens":0,'
    b'"output_tokens":{{out:int}}}}')
MESSAGE_DELTA = Template(_MESSAGE_DELTA)
MESSAGE_STOP = _event(b"message_stop", b'{"type":"message_stop"}')
_SPLIT = b"\x00"
_EMPTY_START = {
    TEXT: lambda b: b'{"type":"text","text":""}',
    THINKING: lambda b: b'{"type":"thinking","thinking":"","signature":""}',
    TOOL_USE: lambda b: TOOL_BLOCK.render((b.id, b.name, b"{}")),
}
_DELTA_KIND = {TEXT: (b"text_delta", b"text"), THINKING: (b"thinking_delta", b"thinking"),
               TOOL_USE: (b"input_json_delta", b"partial_json")}


def _opening(index, b):
    """The events that open block `b`, the `index`th: its start, and after the first the
    ping."""
    out = BLOCK_START.render((index, _EMPTY_START[b.kind](b)))
    return out + PING if index == 0 else out


def _delta_frame(index, kind):
    """(head, tail): a delta event of block `index` (of `kind`) is head + value + tail."""
    kind, field = _DELTA_KIND[kind]
    head, _, tail = DELTA.render((index, kind, field, _SPLIT)).partition(_SPLIT)
    return head, tail


# The common stream (one text block, no stop sequence) in the frames of a
# llmsim.core.textstream.TextStream, which llmsim.core.textreply sends: MESSAGE_START, then
# TEXT_OPENING with the first token, TEXT_DELTA around each token, and TEXT_END (stop reason,
# input tokens, output tokens): the block's stop, message_delta and message_stop.
TEXT_OPENING = _opening(0, Block(TEXT, None))
TEXT_DELTA = _delta_frame(0, TEXT)
TEXT_END = Template(BLOCK_STOP.render((0,)) + _MESSAGE_DELTA.replace(b"{{seq:raw}}", b"null")
                    + MESSAGE_STOP)


def stream(a, plan, on_close=None):
    """The TokenStream of an answer timed by `plan` (token k of the answer is plan token k)."""
    items = []
    pending = b""
    for index, b in enumerate(a.blocks):
        opening = pending + _opening(index, b)
        head, tail = _delta_frame(index, b.kind)
        if b.kind == TOOL_USE:
            opening += head + tail  # the API opens tool input with an empty delta
        items.append((None, opening, b""))
        items.append((b.run, head, tail))
        pending = b""
        if b.kind == THINKING:
            pending = DELTA.render((index, b"signature_delta", b"signature", b.signature))
        pending += BLOCK_STOP.render((index,))
    final = pending + MESSAGE_DELTA.render((a.stop_reason, _quoted(a.stop_sequence),
                                            a.input_tokens, a.output_tokens)) + MESSAGE_STOP
    lead = MESSAGE_START.render((a.id, a.model, a.input_tokens))
    return TokenStream([items], [final], lead, b"", plan.due, plan.ttft_ns, gap(plan), None,
                       on_close)
