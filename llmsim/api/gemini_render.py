"""A Gemini answer as a GenerateContentResponse body, or as its stream: SSE `data:` events
(`alt=sse`) or one JSON array sent piece by piece (no `alt`).

Streams carry one text token per chunk, rendered from the shared escaped text when due
(llmsim.core.events); the last chunk carries the finishReason and the full usageMetadata,
earlier ones the prompt count only, as the API does. Thoughts are streamed as `thought`
parts when includeThoughts is set, else they only take their time before the first chunk.
"""

from typing import NamedTuple

from llmsim.core.events import EventStream
from llmsim.core.pieces import Run
from llmsim.core.render import Template, escape


class Candidate(NamedTuple):
    thought: object          # Run of thought tokens, or None
    text: object             # Run of visible text tokens (may be empty), or None
    tail: bytes              # raw partial token ending the text (stop sequence), or b""
    call: tuple              # (name, args JSON bytes, tokens) of a function call, or None
    finish: bytes            # STOP | MAX_TOKENS
    visible: int             # visible output tokens (text + tail, or the call's)

    @property
    def thoughts(self):
        return self.thought.count if self.thought is not None else 0


class Answer(NamedTuple):
    response_id: bytes
    model: str
    candidates: list
    prompt_tokens: int
    show_thoughts: bool


_USAGE = Template(b'{"promptTokenCount":{{p:int}},"candidatesTokenCount":{{c:int}},'
                  b'"totalTokenCount":{{t:int}},"promptTokensDetails":[{"modality":"TEXT",'
                  b'"tokenCount":{{p2:int}}}]{{thoughts:raw}}}')
_PROMPT_USAGE = Template(b'{"promptTokenCount":{{p:int}},"totalTokenCount":{{t:int}},'
                         b'"promptTokensDetails":[{"modality":"TEXT","tokenCount":{{p2:int}}}]}')
RESPONSE = Template(b'{"candidates":[{{candidates:raw}}],"usageMetadata":{{usage:raw}},'
                    b'"modelVersion":"{{model:str}}","responseId":"{{id:raw}}"}')
CANDIDATE = Template(b'{"content":{"parts":[{{parts:raw}}],"role":"model"}{{finish:raw}},'
                     b'"index":{{index:int}}}')
TEXT_PART = Template(b'{"text":"{{text:raw}}"}')
THOUGHT_PART = Template(b'{"text":"{{text:raw}}","thought":true}')
CALL_PART = Template(b'{"functionCall":{"name":"{{name:str}}","args":{{args:raw}}}}')
_FINISH = Template(b',"finishReason":"{{reason:raw}}"')
_SPLIT = b"\x00"


def _usage(a):
    thoughts = sum(c.thoughts for c in a.candidates)
    visible = sum(c.visible for c in a.candidates)
    extra = b',"thoughtsTokenCount":%d' % thoughts if thoughts else b""
    p = a.prompt_tokens
    return _USAGE.render((p, visible, p + visible + thoughts, p, extra))


def _text_esc(c):
    return c.text.esc() + (escape(c.tail) if c.tail else b"")


def _parts(a, c):
    parts = []
    if c.thought is not None and a.show_thoughts:
        parts.append(THOUGHT_PART.render((c.thought.esc(),)))
    if c.call is not None:
        parts.append(CALL_PART.render((c.call[0], c.call[1])))
    elif c.text is not None:
        parts.append(TEXT_PART.render((_text_esc(c),)))
    return b",".join(parts)


def response(a):
    """The JSON body of a non-streamed answer."""
    cands = [CANDIDATE.render((_parts(a, c), _FINISH.render((c.finish,)), i))
             for i, c in enumerate(a.candidates)]
    return RESPONSE.render((b",".join(cands), _usage(a), a.model, a.response_id))


def _chunk(a, part, finish, usage):
    return RESPONSE.render((CANDIDATE.render((part, finish, 0)), usage, a.model,
                            a.response_id))


SSE = (b"", b"data: ", b"\r\n\r\n", b"\r\n\r\n")      # start, before, after, after the last
ARRAY = (b"[", b"", b"\n,\r\n", b"\n]")


def stream(a, framing, due, on_close=None):
    """The EventStream of a one-candidate answer; `framing` is SSE or ARRAY."""
    start, before, after, end = framing
    c = a.candidates[0]
    p = a.prompt_tokens
    early = _PROMPT_USAGE.render((p, p, p))
    s = EventStream(due, on_close)
    if start:
        s.frame(start, 0)
    clock = 0
    if c.thought is not None:
        if a.show_thoughts:
            prefix, _, suffix = _chunk(a, THOUGHT_PART.render((_SPLIT,)), b"",
                                       early).partition(_SPLIT)
            s.tokens(before + prefix, c.thought, suffix + after, 0)
        clock = c.thought.count
    finish = _FINISH.render((c.finish,))
    if c.call is not None:
        last = CALL_PART.render((c.call[0], c.call[1]))
        clock += c.call[2] - 1
    else:
        text = c.text
        n = text.count if c.tail else text.count - 1      # the last piece goes out last
        prefix, _, suffix = _chunk(a, TEXT_PART.render((_SPLIT,)), b"",
                                   early).partition(_SPLIT)
        s.tokens(before + prefix, Run(text.pieces, text.first, max(n, 0), text.skip),
                 suffix + after, clock)
        if c.tail:
            piece = escape(c.tail)
        elif text.count:
            piece = Run(text.pieces, text.first + n, 1, text.skip if n == 0 else 0).esc()
        else:
            piece = b""
        last = TEXT_PART.render((piece,))
        clock += max(n, 0)
    s.frame(before + _chunk(a, last, finish, _usage(a)) + end, max(clock, 0))
    return s
