"""A Gemini answer as a GenerateContentResponse body, or as its stream: SSE `data:` events
(`alt=sse`) or one JSON array sent piece by piece (no `alt`).

Streams carry one text token per chunk, rendered from the shared escaped text when due
(a llmsim.core.sse.TokenStream of one lane); a last chunk with empty text carries the
finishReason and the full usageMetadata, earlier ones the prompt count only. Thoughts are
streamed as `thought` parts when includeThoughts is set, else they only take their time
before the first chunk. A function call is one chunk, due with its last token.
"""

from array import array
from typing import NamedTuple

from llmsim.api.openai_env import due, gap
from llmsim.api.planning import dues_from
from llmsim.core.render import Template
from llmsim.core.sse import TokenStream


class Candidate(NamedTuple):
    thought: object          # Run of thought tokens, or None
    text: object             # Run of visible text tokens (may be empty), or None
    call: tuple              # (name, args JSON bytes, tokens) of a function call, or None
    finish: bytes            # STOP | MAX_TOKENS
    visible: int             # visible output tokens (the text's or the call's)

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


def _parts(a, c):
    parts = []
    if c.thought is not None and a.show_thoughts:
        parts.append(THOUGHT_PART.render((c.thought.esc(),)))
    if c.call is not None:
        parts.append(CALL_PART.render((c.call[0], c.call[1])))
    elif c.text is not None:
        parts.append(TEXT_PART.render((c.text.esc(),)))
    return b",".join(parts)


def response(a):
    """The JSON body of a non-streamed answer."""
    cands = [CANDIDATE.render((_parts(a, c), _FINISH.render((c.finish,)), i))
             for i, c in enumerate(a.candidates)]
    return RESPONSE.render((b",".join(cands), _usage(a), a.model, a.response_id))


def _chunk(a, part, finish, usage):
    return RESPONSE.render((CANDIDATE.render((part, finish, 0)), usage, a.model,
                            a.response_id))


SSE = (b"", b"data: ", b"\r\n\r\n", b"\r\n\r\n")      # lead, before, after, after the last
ARRAY = (b"[", b"", b"\n,\r\n", b"\n]")


def stream(a, framing, plan, on_close=None):
    """The TokenStream of a one-candidate answer; `framing` is SSE or ARRAY."""
    lead, before, after, end = framing
    c = a.candidates[0]
    p = a.prompt_tokens
    early = _PROMPT_USAGE.render((p, p, p))
    items = []
    if c.thought is not None and a.show_thoughts:
        head, _, tail = _chunk(a, THOUGHT_PART.render((_SPLIT,)), b"", early).partition(_SPLIT)
        items.append((c.thought, before + head, tail + after))
    if c.call is not None:
        last = CALL_PART.render((c.call[0], c.call[1]))
        # the call leaves whole with its last token (and so does the last shown thought)
        timing = plan.due[:c.thoughts] if items else array("q")
        timing[len(timing) - 1:] = array("q", [due(plan, c.thoughts + c.call[2] - 1)])
    else:
        head, _, tail = _chunk(a, TEXT_PART.render((_SPLIT,)), b"", early).partition(_SPLIT)
        items.append((c.text, before + head, tail + after))
        last = TEXT_PART.render((b"",))
        timing = dues_from(plan, 0 if len(items) > 1 else c.thoughts)
    final = before + _chunk(a, last, _FINISH.render((c.finish,)), _usage(a)) + end
    return TokenStream([items], [final], lead, b"", timing, plan.ttft_ns, gap(plan), None,
                       on_close)
