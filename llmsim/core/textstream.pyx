# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The common stream of every provider, compiled: one text answer (`run`, booked on the load
model by its plan) in the provider's frames, with no Python object per token.

Event 0 is the lead (OpenAI's role chunk, Anthropic's message_start, Gemini's array opening);
event k (1..S, S tokens) is `open` + token k - 1 + `tail`, the first one after `prefix`
(Anthropic's content_block_start and ping); event S + 1 is the final frames (`prefix` first
when no token was sent). Each token event is three copies from bytes rendered once per
stream and the shared escaped corpus. Events are due as llmsim.core.sse.TokenStream's:
events 0 and 1 with token 0, event k with token k - 1, the last one with the last token.

A stream whose lead or final frames are cheaper written than kept (llmsim.core.chat_stream's)
subclasses `TextStream` and writes them in `write_lead` / `write_final`.
"""

import time

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdint cimport int64_t
from libc.string cimport memcpy

from llmsim.core.pieces cimport Pieces, Run
from llmsim.core.plan cimport PlannerCore, due
from llmsim.core.render cimport Buffer
from llmsim.core.sse cimport EventStream


cdef class TextStream(EventStream):
    """See the module docstring."""

    cdef int write_lead(self, Buffer out) except -1:
        out.write_bytes(self.lead)
        return 0

    cdef int write_final(self, Buffer out) except -1:
        out.write_bytes(self.final)
        return 0

    cdef int time_text(self, Run run, plan, PlannerCore planner) except -1:
        """Stream `run`, timed by `plan` (booked on `planner`)."""
        self.pieces = run.pieces
        self.first = run.first
        self.skip = run.skip
        self.steps = run.count
        self.n_events = run.count + 2
        self.plan = plan
        self.planner = planner
        return 0

    cdef int64_t event_due(self, Py_ssize_t i) except? -1:
        if i <= 1 or self.steps == 0:
            return due(self.plan, 0)
        return due(self.plan, (i if i <= self.steps else self.steps) - 1)

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
                self.write_lead(out)
            elif e <= self.steps:
                t = e - 1
                s = self.pieces.esc_piece((self.first + t) % self.pieces.count, &n)
                if t == 0:
                    s += self.skip
                    n -= self.skip
                    if self.prefix is not None:
                        out.write_bytes(self.prefix)
                need = open_len + n + tail_len
                if out.length + need > out.capacity:
                    out.reserve(need)
                dst = out.data + out.length
                memcpy(dst, open, open_len)
                memcpy(dst + open_len, s, n)
                memcpy(dst + open_len + n, tail, tail_len)
                out.length += need
            else:
                if self.steps == 0 and self.prefix is not None:
                    out.write_bytes(self.prefix)
                self.write_final(out)
                self.finished = True
        if stop > self.rendered:
            self.rendered = stop
        return 0

    cpdef Py_ssize_t tokens_sent(self) except -1:
        cdef Py_ssize_t steps = self.rendered - 1 if self.rendered > 1 else 0
        return steps if steps < self.steps else self.steps

    cdef int closing(self) except -1:
        """A cancelled stream frees its slot on the load model at once."""
        if not self.finished:
            self.planner.release(self.plan, time.monotonic_ns())
        return 0


cdef TextStream framed(bytes lead, bytes open, bytes tail, bytes prefix, bytes final, Run run,
                       plan, PlannerCore planner):
    """The stream of `run` in frames rendered ahead (`prefix`: None when there is none)."""
    cdef TextStream s = TextStream.__new__(TextStream)
    s.lead = lead
    s.open = open
    s.tail = tail
    s.prefix = prefix
    s.final = final
    s.time_text(run, plan, planner)
    return s
