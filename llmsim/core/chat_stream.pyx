# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Streamed chat completions: the frames of `chat.completion.chunk` events, and the common
stream (one choice of plain text) compiled.

Shape (as the live API): every chunk carries the same id, created, model, service_tier and
system_fingerprint (`HEAD`); the first delta of a choice holds the role; then one chunk per
token (content, or tool-call arguments after a chunk naming the call); then a chunk with an
empty delta and the finish_reason; with `stream_options.include_usage` every chunk has
`"usage":null` and one last chunk has `"choices":[]` and the usage; then `data: [DONE]`.

llmsim.api.openai_chat_stream builds every stream from these frames as templates of a
llmsim.core.sse.TokenStream. The common one (llmsim.core.chat's scanned requests) is a
`ChatTextStream` instead (a llmsim.core.textstream.TextStream): the same bytes, each token
event written straight from the shared escaped corpus, with no per-request template lists
and no Python object per token.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE

from llmsim.core.pieces cimport Run
from llmsim.core.plan cimport PlannerCore
from llmsim.core.render cimport Buffer, Template
from llmsim.core.sse cimport EventStream
from llmsim.core.textstream cimport TextStream

_HEAD = (b'data: {"id":"chatcmpl-{{id:raw}}","object":"chat.completion.chunk",'
         b'"created":{{created:int}},"model":"{{model:str}}","service_tier":"{{tier:raw}}",'
         b'"system_fingerprint":"{{fingerprint:raw}}","choices":')
HEAD = Template(_HEAD)
DONE = b"data: [DONE]\n\n"
END = b"}\n\n"                        # a chunk's end ...
END_USAGE = b',"usage":null}\n\n'     # ... with include_usage
TEXT_LEAD = (b'{"role":"assistant","content":"","refusal":null},"logprobs":null,'
             b'"finish_reason":null}]')
TEXT_OPEN = b'{"content":"'
TOKEN_CLOSE = b'"},"logprobs":null,"finish_reason":null}]'
FINAL_OPEN = b'{},"logprobs":null,"finish_reason":"'
FINAL_CLOSE = b'"}]'
USAGE_OPEN = b'[],"usage":'


def choice(Py_ssize_t i):
    """What opens choice i's part of a chunk, before its delta."""
    return b'[{"index":%d,"delta":' % i


cdef bytes _CHOICE0 = choice(0)
# HEAD up to the first token of choice 0: one render per stream gives both.
cdef Template _TEXT_HEAD = Template(_HEAD + _CHOICE0 + TEXT_OPEN)
cdef Py_ssize_t _TEXT_TAIL = len(_CHOICE0 + TEXT_OPEN)
cdef bytes _CLOSE = TOKEN_CLOSE + END, _CLOSE_USAGE = TOKEN_CLOSE + END_USAGE


cdef class ChatTextStream(TextStream):
    """One choice of plain text: event 0 the role, event k (1..S) token k - 1, event S + 1 the
    finish_reason, the usage chunk if asked for, and [DONE]. The lead and final chunks are
    written from the head of `open` (HEAD + choice 0 + TEXT_OPEN), not kept."""
    cdef Py_ssize_t head_len  # HEAD's part of `open`
    cdef bytes end, finish, usage

    cdef int _part(self, Buffer out, bytes frame) except -1:
        """HEAD, choice 0 and `frame`."""
        out.write(PyBytes_AS_STRING(self.open), self.head_len)
        out.write_bytes(_CHOICE0)
        out.write_bytes(frame)
        return 0

    cdef int write_lead(self, Buffer out) except -1:
        self._part(out, TEXT_LEAD)
        out.write_bytes(self.end)
        return 0

    cdef int write_final(self, Buffer out) except -1:
        self._part(out, FINAL_OPEN)
        out.write_bytes(self.finish)
        out.write_bytes(FINAL_CLOSE)
        out.write_bytes(self.end)
        if self.usage is not None:
            out.write(PyBytes_AS_STRING(self.open), self.head_len)
            out.write_bytes(USAGE_OPEN)
            out.write_bytes(self.usage)
            out.write_bytes(END)
        out.write_bytes(DONE)
        return 0


cdef bytes _STOP = b"stop", _LENGTH = b"length"


cdef EventStream text_stream(Run run, bint cut, plan, PlannerCore planner, tuple head,
                             bytes usage):
    """The stream of one text choice: `run` (`cut`: by the token cap), timed by `plan`
    (booked on `planner`); `head`: HEAD's values; `usage`: the usage JSON of the last chunk,
    or None without include_usage."""
    cdef ChatTextStream s = ChatTextStream.__new__(ChatTextStream)
    s.open = _TEXT_HEAD.render(head)
    s.head_len = PyBytes_GET_SIZE(s.open) - _TEXT_TAIL
    s.usage = usage
    s.end = END if usage is None else END_USAGE
    s.tail = _CLOSE if usage is None else _CLOSE_USAGE
    s.finish = _LENGTH if cut else _STOP
    s.time_text(run, plan, planner)
    return s
