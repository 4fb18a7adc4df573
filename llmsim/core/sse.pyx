# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Server-sent event streams rendered on demand: a few templates per stream, no per-token
objects.

A `TokenStream` interleaves the token events of one or more *lanes* (a choice of a chat
completion; the output of a response). A lane is a list of items:
  (None, frame, b"")              a literal frame, sent with the lane's next token (or with
                                  its final frame when no token follows);
  (run, head, tail)               one frame per token of the run: head + token + tail;
  (run, head, tail, seq0, close)  the same with an event number after the tail:
                                  head + token + tail + str(seq0 + k) + close.
A lane has one step per token. Event 0 is `lead`; event k (1..S, S = the longest lane)
carries step k - 1 of every lane that still has one, and a lane's `final` frame goes out in
the event after its last step; the last event (S + 1) also carries `trailer`. `render_into(out, start, stop)` writes the
wire bytes of events [start, stop) into a buffer (the scheduler's: the worker's output), so a
stream of any length costs its templates only.

Timing: event 0 and event 1 are due at token 0's time (the first token), event k at token
k - 1's, the last event with the last token. Token times come from the plan's `due` array;
past its end they continue at the plan's mean inter-token gap.
"""

from libc.stdint cimport int64_t
from libc.stdlib cimport malloc, free

from llmsim.core.pieces cimport Pieces, Run
from llmsim.core.render cimport Buffer, scratch


cdef class EventStream:
    """What the scheduler sends: `n_events` events, event i due `event_due(i)` ns after the
    request arrived (non-decreasing), written by `render_into`; `close()` once at the end."""

    cdef int64_t event_due(self, Py_ssize_t i) except? -1:
        raise NotImplementedError

    cdef int render_into(self, Buffer out, Py_ssize_t start, Py_ssize_t stop) except -1:
        raise NotImplementedError

    cdef int closing(self) except -1:
        """What closing does (`finished`: all was sent, else the stream was cancelled)."""
        return 0

    cpdef Py_ssize_t tokens_sent(self) except -1:
        """Output tokens in the events rendered so far (a stream cut short is charged these),
        every choice's; event k (1..) carries token k - 1 of each."""
        raise NotImplementedError

    cpdef close(self):
        """The stream ended (all sent) or was cancelled; later calls do nothing. What
        closing does, then `on_close(finished)` when set."""
        if not self.closed:
            self.closed = True
            self.closing()
            if self.on_close is not None:
                self.on_close(self.finished)

    def due_ns(self, Py_ssize_t i):
        """Offset from the request's arrival when event i is due."""
        return self.event_due(i)

    def render(self, Py_ssize_t start, Py_ssize_t stop):
        """The wire bytes of events [start, stop)."""
        cdef Buffer out = scratch()
        self.render_into(out, start, stop)
        return out.take()


cdef class CutStream(EventStream):
    """A stream stopped after `after` events (never after its last one). With `tail` it ends
    with those bytes (Anthropic's in-stream error event); without, the connection drops where
    the next event was due (`drops`)."""
    cdef EventStream inner
    cdef Py_ssize_t keep
    cdef bytes tail

    def __init__(self, EventStream inner not None, Py_ssize_t after, bytes tail=None):
        self.inner = inner
        self.keep = min(after, inner.n_events - 1)
        self.n_events = self.keep + 1
        self.tail = tail
        self.drops = tail is None

    cdef int64_t event_due(self, Py_ssize_t i) except? -1:
        return self.inner.event_due(i)

    cdef int render_into(self, Buffer out, Py_ssize_t start, Py_ssize_t stop) except -1:
        if start < self.keep:
            self.inner.render_into(out, start, min(stop, self.keep))
        if stop > self.keep and self.tail:
            out.write_bytes(self.tail)
        return 0

    cdef int closing(self) except -1:
        self.inner.close()
        return 0

    cpdef Py_ssize_t tokens_sent(self) except -1:
        return self.inner.tokens_sent()


cdef class TokenStream(EventStream):
    cdef readonly Py_ssize_t steps          # S: steps of the longest lane
    cdef list lanes                         # per lane: tuple of (run, prefix, head, tail,
                                            #   seq0, close), every run with count > 0
    cdef list finals                        # per lane: bytes (trailing literals included)
    cdef bytes lead, trailer
    cdef object tail_fn                     # None, or f(lane, step) -> bytes for run tails
    cdef const long long[:] due
    cdef Py_ssize_t n_due
    cdef int64_t ttft, gap
    cdef Py_ssize_t *lane_steps
    cdef Py_ssize_t *cur_item               # per lane: item index of the next step
    cdef Py_ssize_t *cur_base               # per lane: first step of that item
    cdef Py_ssize_t n_lanes

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
        self.lanes = []
        self.finals = []
        for i in range(self.n_lanes):
            items, pending, n = _compile_lane(lanes[i])
            self.lanes.append(items)
            self.finals.append(pending + <bytes?>finals[i])
            self.lane_steps[i] = n
            self.cur_item[i] = 0
            self.cur_base[i] = 0
            if n > longest:
                longest = n
        self.steps = longest
        self.n_events = longest + 2
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

    cdef int64_t event_due(self, Py_ssize_t i) except? -1:
        if i <= 1:
            return self._token_due(0)
        if i > self.steps:
            return self._token_due(self.steps - 1 if self.steps else 0)
        return self._token_due(i - 1)

    cdef int _step(self, Buffer out, Py_ssize_t lane, Py_ssize_t t) except -1:
        """Write step t of a lane (t < its step count)."""
        cdef tuple items = <tuple>self.lanes[lane]
        cdef tuple item
        cdef Py_ssize_t k, base, idx, n
        cdef long long seq0
        cdef Run r
        cdef Pieces p
        cdef const char *s
        if t < self.cur_base[lane]:       # out-of-order render: rewind
            self.cur_item[lane] = 0
            self.cur_base[lane] = 0
        k = self.cur_item[lane]
        base = self.cur_base[lane]
        while True:
            item = <tuple>items[k]
            r = <Run>item[0]
            if t < base + r.count:
                break
            base += r.count
            k += 1
        self.cur_item[lane] = k
        self.cur_base[lane] = base
        if t == base:
            out.write_bytes(<bytes>item[1])
        out.write_bytes(<bytes>item[2])
        p = r.pieces
        idx = (r.first + t - base) % p.count
        s = p.esc_piece(idx, &n)
        if t == base and r.skip:
            s += r.skip
            n -= r.skip
        out.write(s, n)
        if self.tail_fn is None:
            out.write_bytes(<bytes>item[3])
        else:
            out.write_bytes(self.tail_fn(lane, t))
        seq0 = item[4]
        if seq0 >= 0:
            out.write_int(seq0 + t - base)
            out.write_bytes(<bytes>item[5])
        return 0

    cdef int render_into(self, Buffer out, Py_ssize_t start, Py_ssize_t stop) except -1:
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
        if stop > self.rendered:
            self.rendered = stop
        return 0

    cpdef Py_ssize_t tokens_sent(self) except -1:
        cdef Py_ssize_t lane, steps = self.rendered - 1 if self.rendered > 1 else 0, n = 0
        for lane in range(self.n_lanes):
            n += steps if steps < self.lane_steps[lane] else self.lane_steps[lane]
        return n

cdef tuple _compile_lane(items):
    """(tuple of (run, prefix, head, tail, seq0, close), trailing literals, steps)."""
    out = []
    pending = b""
    cdef Py_ssize_t steps = 0
    for item in items:
        run = item[0]
        if run is None:
            pending += <bytes?>item[1]
            continue
        if (<Run?>run).count == 0:
            continue
        if len(item) == 3:
            seq0, close = -1, b""
        else:
            seq0, close = item[3], <bytes?>item[4]
        out.append((run, pending, <bytes?>item[1], <bytes?>item[2], seq0, close))
        pending = b""
        steps += (<Run>run).count
    return tuple(out), pending, steps
