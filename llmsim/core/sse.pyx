# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Server-sent event streams rendered on demand: a few templates per stream, no per-token
objects.

A `TokenStream` interleaves the token events of one or more *lanes* (a choice of a chat
completion, an output item of a response). A lane is a list of items, each either a
literal frame (one step) or a token run framed as `head + escaped token + tail` (one step
per token). Event 0 is `lead`; event k (1..S, S = the longest lane) carries step k - 1 of
every lane that still has one, and a lane's `final` frame goes out in the event after its
last step; the last event (S + 1) also carries `trailer`. `render(start, stop)` writes the
wire bytes of events [start, stop) into the scratch buffer, so a stream of any length costs
its templates only.

Timing: event 0 and event 1 are due at token 0's time (the first token), event k at token
k - 1's, the last event with the last token. Token times come from the plan's `due` array;
past its end they continue at the plan's mean inter-token gap.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdint cimport int64_t
from libc.stdlib cimport malloc, free

from llmsim.core.pieces cimport Pieces, Run
from llmsim.core.render cimport Buffer, scratch


cdef class TokenStream:
    cdef readonly Py_ssize_t n_events
    cdef readonly Py_ssize_t steps          # S: steps of the longest lane
    cdef list lanes                         # per lane: tuple of items (run|None, head, tail)
    cdef list finals                        # per lane: bytes
    cdef bytes lead, trailer
    cdef object tail_fn                     # None, or f(lane, step) -> bytes for run tails
    cdef object on_close                    # None, or f(finished: bool)
    cdef const long long[:] due
    cdef Py_ssize_t n_due
    cdef int64_t ttft, gap
    cdef Py_ssize_t *lane_steps
    cdef Py_ssize_t *cur_item               # per lane: item index of the next step
    cdef Py_ssize_t *cur_base               # per lane: first step of that item
    cdef Py_ssize_t n_lanes
    cdef bint finished, closed

    def __cinit__(self, list lanes, list finals, bytes lead, bytes trailer, due, int64_t ttft,
                  int64_t gap, tail_fn=None, on_close=None):
        cdef Py_ssize_t i, n, longest = 0
        self.n_lanes = len(lanes)
        if len(finals) != self.n_lanes:
            raise ValueError("one final frame per lane")
        self.lane_steps = <Py_ssize_t *>malloc((self.n_lanes + 1) * sizeof(Py_ssize_t))
        self.cur_item = <Py_ssize_t *>malloc((self.n_lanes + 1) * sizeof(Py_ssize_t))
        self.cur_base = <Py_ssize_t *>malloc((self.n_lanes + 1) * sizeof(Py_ssize_t))
        if self.lane_steps == NULL or self.cur_item == NULL or self.cur_base == NULL:
            raise MemoryError()
        self.lanes = [tuple(items) for items in lanes]
        for i in range(self.n_lanes):
            n = 0
            for run, head, tail in self.lanes[i]:
                if type(head) is not bytes or type(tail) is not bytes:
                    raise TypeError("lane items are (Run or None, bytes head, bytes tail)")
                n += 1 if run is None else (<Run?>run).count
            self.lane_steps[i] = n
            self.cur_item[i] = 0
            self.cur_base[i] = 0
            if n > longest:
                longest = n
        self.steps = longest
        self.n_events = longest + 2
        self.finals = finals
        self.lead = lead
        self.trailer = trailer
        self.due = due
        self.n_due = len(due)
        self.ttft = ttft
        self.gap = gap
        self.tail_fn = tail_fn
        self.on_close = on_close

    def __dealloc__(self):
        free(self.lane_steps)
        free(self.cur_item)
        free(self.cur_base)

    cdef inline int64_t _token_due(self, Py_ssize_t j) noexcept:
        if j < self.n_due:
            return self.due[j]
        if self.n_due == 0:
            return self.ttft
        return self.due[self.n_due - 1] + (j - self.n_due + 1) * self.gap

    def due_ns(self, Py_ssize_t i):
        """Offset from the request's arrival when event i is due (non-decreasing)."""
        if i <= 1:
            return self._token_due(0)
        if i > self.steps:
            return self._token_due(self.steps - 1 if self.steps else 0)
        return self._token_due(i - 1)

    cdef int _step(self, Buffer out, Py_ssize_t lane, Py_ssize_t t) except -1:
        """Write step t of a lane (t < its step count)."""
        cdef tuple items = <tuple>self.lanes[lane]
        cdef Py_ssize_t k, base, idx, n
        cdef object run
        cdef Run r
        cdef Pieces p
        cdef const char *s
        if t < self.cur_base[lane]:       # out-of-order render: rewind
            self.cur_item[lane] = 0
            self.cur_base[lane] = 0
        k = self.cur_item[lane]
        base = self.cur_base[lane]
        while True:
            run = (<tuple>items[k])[0]
            n = 1 if run is None else (<Run>run).count
            if t < base + n:
                break
            base += n
            k += 1
        self.cur_item[lane] = k
        self.cur_base[lane] = base
        item = <tuple>items[k]
        out.write_bytes(<bytes>item[1])
        if run is None:
            return 0
        r = <Run>run
        p = r.pieces
        idx = (r.first + t - base) % p.count
        s = p.esc_piece(idx, &n)
        if t == base and r.skip:
            s += r.skip
            n -= r.skip
        out.write(s, n)
        if self.tail_fn is None:
            out.write_bytes(<bytes>item[2])
        else:
            out.write_bytes(self.tail_fn(lane, t))
        return 0

    def render(self, Py_ssize_t start, Py_ssize_t stop):
        """The wire bytes of events [start, stop)."""
        cdef Buffer out = scratch()
        cdef Py_ssize_t e, lane, t
        if stop > self.n_events:
            stop = self.n_events
        for e in range(start, stop):
            if e == 0:
                out.write_bytes(self.lead)
            else:
                t = e - 1
                for lane in range(self.n_lanes):
                    if t < self.lane_steps[lane]:
                        self._step(out, lane, t)
                    elif t == self.lane_steps[lane]:
                        out.write_bytes(<bytes>self.finals[lane])
                if e == self.n_events - 1:
                    out.write_bytes(self.trailer)
                    self.finished = True
        return out.take()

    def close(self):
        """The stream ended (all sent) or was cancelled; called once."""
        if self.closed:
            return
        self.closed = True
        if self.on_close is not None:
            self.on_close(self.finished)
