# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Event streams rendered on demand: a few fixed frames and token runs, never one bytes
object per token held for the stream's life.

A stream is built once per request from parts, in order:

    frame(data, clock)                      one event whose wire bytes are `data`
    tokens(prefix, run, suffix, clock)      run.count events: event k is `prefix`, token k
                                            of the Run (llmsim.core.pieces) JSON-escaped,
                                            then `suffix`

Every event leaves with an output token, its clock: the events of a token run have clocks
clock, clock + 1, ...; a frame has the clock it is given. `due_ns(i)` is `due(clock of event
i)` with the `due` function given at construction (a plan's due time of token c), so frames
leave in the same write as the token they go with. The object satisfies the handler
contract's EventStream (n_events, due_ns, render, close); SSE, JSON-array and chunk framing
are the caller's prefixes, suffixes and frames.
"""

from llmsim.core.pieces cimport Pieces, Run
from llmsim.core.render cimport Buffer, scratch


cdef class _Part:
    cdef Py_ssize_t start       # index of its first event in the stream
    cdef Py_ssize_t n           # events in this part
    cdef Py_ssize_t clock       # clock of its first event
    cdef bytes data             # a frame's bytes, or the prefix of each token event
    cdef bytes suffix
    cdef Pieces pieces          # None for a frame
    cdef Py_ssize_t first, skip


cdef class EventStream:
    cdef list parts
    cdef readonly Py_ssize_t n_events
    cdef object due
    cdef object on_close
    cdef Py_ssize_t hint        # index of the part found last (lookups mostly move forward)

    def __init__(self, due, on_close=None):
        """`due(clock) -> ns` after the request start; `on_close()` runs once at close()."""
        self.parts = []
        self.n_events = 0
        self.due = due
        self.on_close = on_close
        self.hint = 0

    cdef _Part _add(self, Py_ssize_t n, Py_ssize_t clock, bytes data):
        cdef _Part p = _Part.__new__(_Part)
        p.start = self.n_events
        p.n = n
        p.clock = clock
        p.data = data
        self.parts.append(p)
        self.n_events += n
        return p

    def frame(self, bytes data, Py_ssize_t clock):
        """Append one event: `data` as is, due with token `clock`."""
        self._add(1, clock, data)
        return self

    def tokens(self, bytes prefix, Run run, bytes suffix, Py_ssize_t clock):
        """Append run.count token events (see the module docstring); none for an empty run."""
        if run.count <= 0:
            return self
        if run.pieces.count == 0:
            raise ValueError("token events need a non-empty Pieces")
        cdef _Part p = self._add(run.count, clock, prefix)
        p.pieces = run.pieces
        p.first = run.first % run.pieces.count
        p.skip = run.skip
        p.suffix = suffix
        return self

    cdef _Part find(self, Py_ssize_t i):
        cdef list parts = self.parts
        cdef Py_ssize_t j = self.hint
        cdef _Part p = <_Part>parts[j]
        if i < p.start:
            j = 0
        while True:
            p = <_Part>parts[j]
            if i < p.start + p.n:
                self.hint = j
                return p
            j += 1

    def due_ns(self, Py_ssize_t i):
        """Offset from the request start when event i is due."""
        if not 0 <= i < self.n_events:
            raise IndexError(i)
        cdef _Part p = self.find(i)
        return self.due(p.clock + (i - p.start if p.pieces is not None else 0))

    def render(self, Py_ssize_t start, Py_ssize_t stop):
        """The wire bytes of events [start, stop)."""
        if start < 0 or stop > self.n_events or start > stop:
            raise IndexError((start, stop))
        cdef Buffer out = scratch()
        cdef Py_ssize_t i = start, k, end, n, idx
        cdef const char *tok
        cdef _Part p
        while i < stop:
            p = self.find(i)
            if p.pieces is None:
                out.write_bytes(p.data)
                i += 1
                continue
            end = p.start + p.n if p.start + p.n < stop else stop
            for k in range(i - p.start, end - p.start):
                idx = (p.first + k) % p.pieces.count
                tok = p.pieces.esc_piece(idx, &n)
                if k == 0 and p.skip:
                    tok += p.skip
                    n -= p.skip
                out.write_bytes(p.data)
                out.write(tok, n)
                out.write_bytes(p.suffix)
            i = end
        return out.take()

    def close(self):
        """The stream ended or was cancelled: run on_close once and drop the parts."""
        cb = self.on_close
        self.on_close = None
        self.parts = []
        self.n_events = 0
        if cb is not None:
            cb()
