# cython: language_level=3, boundscheck=False, wraparound=False
"""Deferred answers: a body sent after a delay, or an event stream sent as events fall due.

Every deferred answer of a worker waits in one C timer wheel (csrc/llmsim_wheel.h, 250 µs
ticks) that one timerfd (csrc/llmsim_timer.h) wakes. Each wake sends, per stream, all the
events due by then in one write (one HTTP chunk, rendered in place in the worker's output
buffer with its framing: csrc/llmsim_chunk.h): no loop timer and no Python object per
token. A stream pauses while its transport is over its high-water mark and catches up on
resume; a disconnect cancels it at once.

Spacing: an event leaves at its planned time (rounded up to a tick), and never sooner than
its planned gap less CATCH_UP_NS (1 ms) after the write before it. So a stream the worker
served a little late (a busy machine) catches up by at most 1 ms per event instead of
sending its next event early: a client sees no gap more than 1 ms shorter than planned
unless the worker fell a whole gap or more behind; then everything due goes in one write
(fewer writes for an overloaded worker) and the spacing holds from there. After
back-pressure (the client did not read) everything due goes at once too, with no spacing
before it: the bytes a real API sent meanwhile would be waiting in the socket.

Writes: each chunk leaves through Connection.flush, which sends it straight to the socket
while the transport holds none of the connection's output.
"""

import asyncio
import logging

from cpython.bytes cimport PyBytes_GET_SIZE
from cpython.ref cimport PyObject
from libc.stdint cimport int64_t, uint64_t, INT64_MAX
from libc.errno cimport errno
from libc.stdlib cimport calloc, free
from libc.string cimport strerror
from posix.unistd cimport close
from cpython.exc cimport PyErr_SetFromErrno

from llmsim.core.connection cimport Connection, Delayed as DelayedBody, Request, Server
from llmsim.core.render cimport Buffer
from llmsim.core.sse cimport EventStream
from llmsim.core.shm cimport (llmsim_stream_opened, llmsim_stream_closed, llmsim_observe,
                              llmsim_worker_t)
from llmsim.core.wheel cimport (llmsim_wheel_t, llmsim_wheel_node_t, llmsim_wheel_list_t,
                                llmsim_wheel_init, llmsim_wheel_node_init,
                                llmsim_wheel_list_init, llmsim_wheel_list_pop,
                                llmsim_wheel_insert, llmsim_wheel_cancel, llmsim_wheel_advance,
                                llmsim_wheel_next_due_ns, llmsim_wheel_node_wake_ns)
from llmsim.core.timer cimport llmsim_timer_open, llmsim_timer_set

cdef extern from *:
    """
    #include <time.h>
    static inline int64_t llmsim_stream_now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    }
    """
    int64_t llmsim_stream_now_ns() noexcept nogil

from llmsim.core.connection import Delayed  # handlers make their delayed bodies from here

log = logging.getLogger("llmsim.worker")

# Wheel tick: a due time is rounded up to a tick start, when the timer wakes the worker, so
# events of one tick share a wake. With the loop's whole-millisecond timer first tokens came
# ~1.1 ms late (median, K = 100 streams, bench/run.py --only streams); waking exactly at
# 250 µs tick starts, ~0.3-0.5 ms (most of it outside the wheel). Each wake of an idle
# worker costs ~50 µs of CPU here: 100 µs ticks woke more often for no measurable gain.
cdef int64_t TICK_NS = 250000

# How much shorter than planned a gap may come out while a late stream catches up. The
# smaller, the longer a stream served late stays late: one tick (a gap never more than
# 250 µs short) made streams on a busy machine drift (the median gap grew by the typical
# wake delay); with no spacing at all gaps after a late write came out ~4.5 ms short (ITL
# p1 at K = 1,000). 1 ms is the streams bench's median tolerance.
cdef int64_t CATCH_UP_NS = 1000000


# A wheel node with a pointer back to the responder that embeds it (node first: a node
# pointer is a Timer pointer).
cdef struct Timer:
    llmsim_wheel_node_t node
    PyObject *owner


cdef class Scheduler:
    """The worker's timer wheel and its one wake source: a timerfd the loop watches.

    The timer is armed for the start of the earliest busy tick, re-armed only when an
    insert brings that time forward or a wake has used it up; a wake sends everything due
    and re-arms (or disarms) the timer, which also clears its readable state."""
    cdef llmsim_wheel_t *wheel
    cdef llmsim_wheel_list_t due
    cdef object loop
    cdef int fd
    cdef int64_t armed_at         # when the timer fires; INT64_MAX when disarmed
    cdef bint ticking             # inside tick: inserts wait for its one re-arm

    def __cinit__(self, loop, int64_t tick_ns=TICK_NS):
        self.fd = -1
        self.armed_at = INT64_MAX
        self.wheel = <llmsim_wheel_t *>calloc(1, sizeof(llmsim_wheel_t))
        if self.wheel == NULL:
            raise MemoryError()
        llmsim_wheel_init(self.wheel, tick_ns, llmsim_stream_now_ns())
        llmsim_wheel_list_init(&self.due)
        self.fd = llmsim_timer_open()
        if self.fd < 0:
            PyErr_SetFromErrno(OSError)
        self.loop = loop
        try:
            loop.add_reader(self.fd, self.tick)
        except BaseException:
            close(self.fd)
            self.fd = -1
            raise

    def __dealloc__(self):
        # the loop's reader holds a reference to tick: here it is gone, or the loop is
        if self.fd >= 0:
            close(self.fd)
        free(self.wheel)

    @property
    def fileno(self):
        """The timer's descriptor (-1 once closed)."""
        return self.fd

    def close(self):
        """Stop watching and close the timer; armed answers stay where they are, unsent."""
        cdef int fd = self.fd
        if fd < 0:
            return
        self.fd = -1
        self.armed_at = INT64_MAX
        try:
            if not self.loop.is_closed():
                self.loop.remove_reader(fd)
        finally:
            close(fd)

    cdef void add(self, Responder r, int64_t due_ns) noexcept:
        llmsim_wheel_insert(self.wheel, &r.timer.node, due_ns)
        if self.ticking:
            return
        cdef int64_t wake = llmsim_wheel_node_wake_ns(self.wheel, &r.timer.node)
        if wake < self.armed_at:
            self.set_timer(wake)

    cdef void remove(self, Responder r) noexcept:
        # the timer stays armed: at worst one wake finds nothing due and re-arms
        llmsim_wheel_cancel(self.wheel, &r.timer.node)

    cdef void set_timer(self, int64_t at_ns) noexcept:
        """Arm the timer for at_ns (INT64_MAX: disarm); a closed scheduler never wakes."""
        if self.fd < 0:
            return
        if llmsim_timer_set(self.fd, at_ns) == 0:
            self.armed_at = at_ns
        else:
            # EINVAL/EBADF only, neither of which a valid descriptor and time can give
            self.armed_at = INT64_MAX
            log.error("arming the stream timer failed: %s", strerror(errno).decode())

    def tick(self):
        """The timer fired: send everything due, then re-arm for what is left."""
        cdef llmsim_wheel_node_t *node
        cdef Responder r
        cdef int64_t now = llmsim_stream_now_ns()
        self.ticking = True
        try:
            llmsim_wheel_advance(self.wheel, now, &self.due)
            while True:
                node = llmsim_wheel_list_pop(&self.due)
                if node == NULL:
                    break
                r = <Responder>(<Timer *>node).owner
                r.fire(now)
        finally:
            self.ticking = False
            self.set_timer(llmsim_wheel_next_due_ns(self.wheel))


cdef class Responder:
    """One deferred answer on one connection."""
    cdef Timer timer
    cdef Scheduler sched
    cdef Connection conn
    cdef EventStream stream       # None for a Delayed body
    cdef DelayedBody delayed
    cdef bytes headers
    cdef int status, route
    cdef int64_t t0, last_send_ns
    cdef int64_t wrote_ns         # when the last events were written (after the write)
    cdef int64_t due_off, prev_off  # planned offsets of event `sent` and of the one before
    cdef Py_ssize_t sent, n_events
    cdef size_t bytes_out
    cdef bint paused, chunked
    cdef bint burst               # resumed after back-pressure: next write not spaced
    cdef readonly bint done
    cdef bint inline             # answering inside the request's read: gather, don't write

    def __cinit__(self):
        llmsim_wheel_node_init(&self.timer.node)
        self.timer.owner = <PyObject *>self

    def __dealloc__(self):
        if self.sched is not None:
            self.sched.remove(self)

    # -- called by the connection ----------------------------------------------------------
    def cancel(self):
        """The client went away: stop at once and free the stream."""
        self.finish()

    def pause(self):
        if not self.done and not self.paused:
            self.paused = True
            self.sched.remove(self)

    def resume(self):
        if self.paused and not self.done:
            self.paused = False
            self.burst = True
            self.schedule()

    # -- scheduling ------------------------------------------------------------------------
    cdef int64_t next_due(self) except? -1:
        """When the next event may leave: its planned time, or, if the last write was late,
        its planned gap less CATCH_UP_NS after that write (see Spacing above)."""
        if self.stream is None:
            return self.t0 + <int64_t>self.delayed.delay_ns
        cdef int64_t due = self.t0 + self.due_off, spaced
        if self.sent == 0 or self.burst:
            return due
        spaced = self.wrote_ns + self.due_off - self.prev_off - CATCH_UP_NS
        return spaced if spaced > due else due

    cdef Py_ssize_t due_stop(self, int64_t elapsed) except -1:
        """The end of the events from `sent` due `elapsed` ns after the request arrived (all
        of them at once when the last one is: a stream with latency off). Leaves due_off and
        prev_off at the planned offsets of the event after them and of their last one."""
        cdef EventStream stream = self.stream
        cdef Py_ssize_t stop = self.sent, n = self.n_events
        cdef int64_t prev = self.due_off, t = 0, last
        if stop >= n or prev > elapsed:
            return stop
        stop += 1
        if stop < n:
            t = stream.event_due(stop)
            if t <= elapsed:
                last = stream.event_due(n - 1)
                if last <= elapsed:
                    self.prev_off = last
                    return n
                while t <= elapsed:
                    prev = t
                    stop += 1
                    t = stream.event_due(stop)   # stop < n: the last event is not due
        self.prev_off = prev
        self.due_off = t
        return stop

    cdef void schedule(self) noexcept:
        try:
            self.sched.add(self, self.next_due())
        except Exception:
            log.exception("scheduling a deferred answer failed")
            self.abort()

    cdef void fire(self, int64_t now) noexcept:
        if self.done:
            return
        try:
            if self.stream is None:
                self.send_body(now)
            else:
                self.send_due(now)
        except Exception:
            log.exception("sending a deferred answer failed")
            self.abort()

    cdef int ended(self) except -1:
        """The answer is complete; an inline one lets the connection go on by itself."""
        self.finish()
        if not self.inline:
            self.conn.finished()
        return 0

    cdef void abort(self) noexcept:
        self.finish()
        self.conn.close()

    cdef int send_body(self, int64_t now) except -1:
        cdef Server s = self.conn.server
        cdef bytes body = self.delayed.body
        cdef size_t before = s.out.length
        s.put_head(self.status, self.headers, PyBytes_GET_SIZE(body), self.conn.keep_alive,
                   self.conn.minor)
        self.bytes_out = s.out.length - before + PyBytes_GET_SIZE(body)
        s.put_body(body, self.conn)
        if not self.inline and s.out.length:
            self.conn.flush()
        self.ended()
        return 0

    cdef int send_due(self, int64_t now) except -1:
        """Render the events due by `now` into the worker's output, as one chunk; out at once
        unless inline (gathered with the read's other answers)."""
        cdef Server s = self.conn.server
        cdef Buffer out = s.out
        cdef EventStream stream = self.stream
        cdef int64_t elapsed = now - self.t0
        cdef Py_ssize_t stop = self.due_stop(elapsed)
        cdef Py_ssize_t opened = 0
        cdef Py_ssize_t size = out.length - out.start
        cdef llmsim_worker_t *blk = s.blk
        cdef bint last = stop >= self.n_events
        # A stream an injected fault cuts (llmsim.policy.faults) ends with no final chunk.
        cdef bint drops = last and stream.drops
        if stop > self.sent:
            if blk != NULL:
                if self.sent == 0:
                    llmsim_observe(&blk.ttft, <uint64_t>(now - self.t0))
                else:
                    llmsim_observe(&blk.itl, <uint64_t>(now - self.last_send_ns))
            if self.chunked:
                opened = out.open_chunk()
            stream.render_into(out, self.sent, stop)
            if self.chunked:
                out.close_chunk(opened)
        self.last_send_ns = now
        self.sent = stop
        if self.chunked and last and not drops:
            out.write(b"0\r\n\r\n", 5)
        self.bytes_out += out.length - out.start - size
        if not self.inline and out.length > out.start:
            self.conn.flush()   # straight to the socket when it can (Connection.flush)
        self.wrote_ns = llmsim_stream_now_ns()
        self.burst = False
        if drops:   # inline: the connection closes once this read's answers are out
            self.finish()
            self.conn.closing = True
            if not self.inline:
                self.conn.close()
        elif last:
            if blk != NULL:
                llmsim_observe(&blk.e2e, <uint64_t>(now - self.t0))
            self.ended()
        else:
            self.inline = False   # the rest goes out from the wheel
            if not self.paused:
                self.schedule()
        return 0

    cdef void finish(self) noexcept:
        """End the answer (complete or cancelled): free the stream, count the request."""
        if self.done:
            return
        self.done = True
        self.sched.remove(self)
        cdef Server s = self.conn.server
        s.count(self.route, self.status, llmsim_stream_now_ns() - self.t0, self.conn.bytes_in,
                self.bytes_out)
        try:
            if self.stream is not None:
                if s.blk != NULL:
                    llmsim_stream_closed(s.blk)
                self.stream.close()
            elif self.delayed.done is not None:
                self.delayed.done()
        except Exception:
            log.exception("closing a deferred answer failed")
        self.stream = None
        self.delayed = None


cdef Scheduler _scheduler = None


def scheduler():
    """This worker's scheduler, made on first use for the current event loop."""
    global _scheduler
    if _scheduler is None:
        _scheduler = Scheduler(asyncio.get_event_loop())
    return _scheduler


def stop():
    """Close the worker's scheduler (its timer descriptor); the worker calls this before it
    closes its loop. A later stream makes a new one."""
    global _scheduler
    if _scheduler is not None:
        _scheduler.close()
        _scheduler = None


def start(Connection conn, Request req, int status, bytes headers, body):
    """Begin a deferred answer on `conn` (the connection's hook); returns its responder.

    What is already due (latency off, or a request that waited) is answered at once into
    the read's gathered output, with no timer and no extra write; `done` then tells the
    connection the answer is complete."""
    cdef Responder r = Responder.__new__(Responder)
    cdef Server s = conn.server
    r.sched = _scheduler if _scheduler is not None else scheduler()
    r.conn = conn
    r.status = status
    r.headers = headers
    r.route = req.route
    r.t0 = req.received_ns
    if isinstance(body, DelayedBody):
        r.delayed = body
    else:
        r.stream = <EventStream?>body
        r.n_events = r.stream.n_events
        # HTTP/1.0 has no chunked coding: the stream ends when the connection closes.
        r.chunked = conn.minor == 1
        if not r.chunked:
            conn.keep_alive = False
        if s.blk != NULL:
            llmsim_stream_opened(s.blk)
    cdef int64_t now = llmsim_stream_now_ns()
    if r.stream is not None:
        r.due_off = r.stream.event_due(0)
    r.inline = r.next_due() <= now
    if r.stream is not None:
        before = s.out.length
        s.put_head(status, headers, -1, conn.keep_alive, conn.minor)
        r.bytes_out = s.out.length - before
        if not r.inline:
            conn.flush()   # headers at once; events as they fall due
    if r.inline:
        r.fire(now)
    else:
        r.schedule()
    return r

