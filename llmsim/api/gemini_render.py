"""A Gemini answer as a GenerateContentResponse body, or as its stream: SSE `data:` events
(`alt=sse`) or one JSON array sent piece by piece (no `alt`).

Streams carry one text token of one candidate per chunk, rendered from the shared escaped
text when due (a llmsim.core.sse.TokenStream with one lane per candidate). With
candidateCount > 1 the candidates interleave token by token: each token time sends one chunk
per candidate still generating, in index order, every chunk naming its candidate's `index`.
One last chunk carries every candidate's finishReason (with empty text, or its function
call) and the full usageMetadata, counting all candidates; earlier chunks carry the prompt
count only. Thoughts are streamed as `thought` parts when includeThoughts is set, else they
only take their time before the first chunk. A function call leaves whole in the last chunk,
due with its last token. The common stream (one text candidate, no thoughts) is sent by
llmsim.core.textreply from the TEXT_STREAM_* frames below instead, the same bytes.
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


_USAGE_SRC = (b'{"promptTokenCount":{{p:int}},"candidatesTokenCount":{{c:int}},'
              b'"totalTokenCount":{{t:int}},"promptTokensDetails":[{"modality":"TEXT",'
              b'"tokenCount":{{p2:int}}}]{{thoughts:raw}}}')
_RESPONSE = (b'{"candidates":[{{candidates:raw}}],"usageMetadata":{{usage:raw}},'
             b'"modelVersion":"{{model:str}}","responseId":"{{id:raw}}"}')
_CANDIDATE = (b'{"content":{"parts":[{{parts:raw}}],"role":"model"}{{finish:raw}},'
              b'"index":{{index:int}}}')
_TEXT_PART = b'{"text":"{{text:raw}}"}'
_FINISH_SRC = b',"finishReason":"{{reason:raw}}"'
_USAGE = Template(_USAGE_SRC)
_PROMPT_USAGE_SRC = (b'{"promptTokenCount":{{p:int}},"totalTokenCount":{{t:int}},'
                     b'"promptTokensDetails":[{"modality":"TEXT","tokenCount":{{p2:int}}}]}')
_PROMPT_USAGE = Template(_PROMPT_USAGE_SRC)
RESPONSE = Template(_RESPONSE)
CANDIDATE = Template(_CANDIDATE)
TEXT_PART = Template(_TEXT_PART)
THOUGHT_PART = Template(b'{"text":"{{text:raw}}","thought":true}')
CALL_PART = Template(b'{"functionCall":{"name":"{{name:str}}","args":{{args:raw}}}}')
_FINISH = Template(_FINISH_SRC)
# The common answer in one pass: one text candidate, no thoughts (escaped text, finish
# reason, prompt tokens, candidate tokens, total tokens, prompt tokens, model, response id).
_TEXT_RESPONSE = _RESPONSE.replace(b"{{candidates:raw}}", _CANDIDATE.replace(
    b"{{parts:raw}}", _TEXT_PART).replace(b"{{finish:raw}}", _FINISH_SRC).replace(
    b"{{index:int}}", b"0")).replace(b"{{usage:raw}}", _USAGE_SRC.replace(b"{{thoughts:raw}}",
                                                                           b""))
TEXT_RESPONSE = Template(_TEXT_RESPONSE)
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


def _chunk(a, candidates, usage):
    return RESPONSE.render((candidates, usage, a.model, a.response_id))


def response(a):
    """The JSON body of a non-streamed answer."""
    cands = [CANDIDATE.render((_parts(a, c), _FINISH.render((c.finish,)), i))
             for i, c in enumerate(a.candidates)]
    return _chunk(a, b",".join(cands), _usage(a))


SSE = (b"", b"data: ", b"\r\n\r\n", b"\r\n\r\n")      # lead, before, after, after the last
ARRAY = (b"[", b"", b"\n,\r\n", b"\n]")


def _text_frames(framing):
    """The common stream (one text candidate, no thoughts) in `framing` as the frames of a
    llmsim.core.textstream.TextStream, which llmsim.core.textreply sends: (lead, the bytes
    before each token, the template after it (prompt tokens, prompt tokens, prompt tokens,
    model, response id), the template of the last chunk (finish reason, prompt tokens,
    candidate tokens, total tokens, prompt tokens, model, response id))."""
    lead, before, after, end = framing
    chunk = _RESPONSE.replace(b"{{candidates:raw}}", _CANDIDATE.replace(
        b"{{parts:raw}}", _TEXT_PART.replace(b"{{text:raw}}", _SPLIT)).replace(
        b"{{finish:raw}}", b"").replace(b"{{index:int}}", b"0")).replace(
        b"{{usage:raw}}", _PROMPT_USAGE_SRC)
    head, _, tail = chunk.partition(_SPLIT)
    return (lead, before + head, Template(tail + after),
            Template(before + _TEXT_RESPONSE.replace(b"{{text:raw}}", b"") + end))


TEXT_STREAM_SSE = _text_frames(SSE)
TEXT_STREAM_ARRAY = _text_frames(ARRAY)


def stream(a, framing, plan, on_close=None):
    """The TokenStream of an answer; `framing` is SSE or ARRAY."""
    lead, before, after, end = framing
    p = a.prompt_tokens
    early = _PROMPT_USAGE.render((p, p, p))
    lanes, lasts, steps, call_end = [], [], 0, -1
    for i, c in enumerate(a.candidates):
        runs = []
        if c.thought is not None and a.show_thoughts:
            runs.append((c.thought, THOUGHT_PART))
        if c.call is not None:
            last = CALL_PART.render((c.call[0], c.call[1]))
            call_end = max(call_end, c.thoughts + c.call[2] - 1)
        else:
            runs.append((c.text, TEXT_PART))
            last = TEXT_PART.render((b"",))
        lasts.append(CANDIDATE.render((last, _FINISH.render((c.finish,)), i)))
        items = []
        for run, part in runs:
            head, _, tail = _chunk(a, CANDIDATE.render((part.render((_SPLIT,)), b"", i)),
                                   early).partition(_SPLIT)
            items.append((run, before + head, tail + after))
        lanes.append(items)
        steps = max(steps, sum(run.count for run, _ in runs))
    first = 0 if a.show_thoughts else a.candidates[0].thoughts   # the same for every one
    timing = dues_from(plan, first)
    if call_end >= 0:   # the last chunk leaves when the longest call is complete
        k = max(steps - 1, 0)
        timing = array("q", timing[:k])
        timing.append(max(due(plan, first + k), due(plan, call_end)))
    final = before + _chunk(a, b",".join(lasts), _usage(a)) + end
    return TokenStream(lanes, [b""] * len(lanes), lead, final, timing, plan.ttft_ns,
                       gap(plan), None, on_close)
