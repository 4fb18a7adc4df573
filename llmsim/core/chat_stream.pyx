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
`TextStream` instead: the same bytes, each token event written straight from the shared
escaped corpus, with no per-request template lists and no Python object per token.
"""

import time

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdint cimport int64_t
from libc.string cimport memcpy

from llmsim.core.pieces cimport Pieces, Run
from llmsim.core.plan cimport PlannerCore, due
from llmsim.core.render cimport Buffer, Template
from llmsim.core.sse cimport EventStream

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


cdef class TextStream(EventStream):
    """One choice of plain text (`run`): event 0 the role, event k (1..S) token k - 1, event
    S + 1 the finish_reason, the usage chunk if asked for, and [DONE]. Due as TokenStream's."""
    cdef bytes open           # HEAD + choice 0 + TEXT_OPEN
    cdef Py_ssize_t head_len  # HEAD's part of it
    cdef bytes tail, end, finish, usage   # tail: TOKEN_CLOSE + end
    cdef Pieces pieces
    cdef Py_ssize_t first, steps, skip
    cdef object plan
    cdef PlannerCore planner

    cdef int64_t event_due(self, Py_ssize_t i) except? -1:
        if i <= 1 or self.steps == 0:
            return due(self.plan, 0)
        return due(self.plan, (i if i <= self.steps else self.steps) - 1)

    cdef int _part(self, Buffer out, bytes frame) except -1:
        """HEAD, choice 0 and `frame`."""
        out.write(PyBytes_AS_STRING(self.open), self.head_len)
        out.write_bytes(_CHOICE0)
        out.write_bytes(frame)
        return 0

    cdef int render_into(self, Buffer out, Py_ssize_t start, Py_ssize_t stop) except -1:
        cdef Py_ssize_t e, t, n, need
        cdef const char *open = PyBytes_AS_STRING(self.open)
        cdef Py_ssize_t open_len = PyBytes_GET_SIZE(self.open)
        cdef const char *tail = PyBytes_AS_STRING(self.tail)
        cdef Py_ssize_t tail_len = PyBytes_GET_SIZE(self.tail)
        cdef const char *s
        cdef char *dst
        if stop > self.steps + 2:
            stop = self.steps + 2
        for e in range(start, stop):
            if e == 0:
                self._part(out, TEXT_LEAD)
                out.write_bytes(self.end)
            elif e <= self.steps:
                t = e - 1
                s = self.pieces.esc_piece((self.first + t) % self.pieces.count, &n)
                if t == 0:
                    s += self.skip
                    n -= self.skip
                need = open_len + n + tail_len
                out.reserve(need)
                dst = out.data + out.length
                memcpy(dst, open, open_len)
                memcpy(dst + open_len, s, n)
                memcpy(dst + open_len + n, tail, tail_len)
                out.length += need
            else:
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
                self.finished = True
        return 0

    cdef int closing(self) except -1:
        """A cancelled stream frees its slot on the load model at once."""
        if not self.finished:
            self.planner.release(self.plan, time.monotonic_ns())
        return 0


cdef bytes _STOP = b"stop", _LENGTH = b"length"


cdef EventStream text_stream(Run run, bint cut, plan, PlannerCore planner, tuple head,
                             bytes usage):
    """The stream of one text choice: `run` (`cut`: by the token cap), timed by `plan`
    (booked on `planner`); `head`: HEAD's values; `usage`: the usage JSON of the last chunk,
    or None without include_usage."""
    cdef TextStream s = TextStream.__new__(TextStream)
    s.open = _TEXT_HEAD.render(head)
    s.head_len = PyBytes_GET_SIZE(s.open) - _TEXT_TAIL
    s.usage = usage
    s.end = END if usage is None else END_USAGE
    s.tail = _CLOSE if usage is None else _CLOSE_USAGE
    s.finish = _LENGTH if cut else _STOP
    s.pieces = run.pieces
    s.first = run.first
    s.skip = run.skip
    s.steps = run.count
    s.n_events = run.count + 2
    s.plan = plan
    s.planner = planner
    return s
