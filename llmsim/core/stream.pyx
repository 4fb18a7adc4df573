# cython: language_level=3, boundscheck=False, wraparound=False
"""Deferred answers: a body sent after a delay, or an event stream sent as events fall due.

`start` is the connection's hook for any handler result whose body is not plain bytes.
Each event stream keeps one loop timer, re-armed for its next due event; every wake sends
all events due by then in one write (one chunk).
"""

import asyncio
import logging

from libc.stdint cimport int64_t
from cpython.bytes cimport PyBytes_GET_SIZE
from llmsim.core.connection cimport Connection, Request, Server
from llmsim.core.connection import monotonic_ns
from llmsim.core.shm cimport llmsim_stream_opened, llmsim_stream_closed

log = logging.getLogger("llmsim.worker")


class Delayed:
    """A complete body to send `delay_ns` after the request arrived (simulated generation)."""
    __slots__ = ("body", "delay_ns")

    def __init__(self, bytes body, int64_t delay_ns):
        self.body = body
        self.delay_ns = delay_ns


cdef class Responder:
    cdef Connection conn
    cdef object loop
    cdef object timer
    cdef object stream            # EventStream, or None for a Delayed body
    cdef bytes body
    cdef bytes headers
    cdef int status, route
    cdef int64_t t0
    cdef Py_ssize_t sent, n_events
    cdef size_t bytes_out
    cdef int64_t body_delay
    cdef bint paused, done, chunked

    def cancel(self):
        """The client went away: stop at once and free the stream."""
        self._stop()

    def pause(self):
        self.paused = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def resume(self):
        if self.paused and not self.done:
            self.paused = False
            self._arm()

    cdef void _stop(self) noexcept:
        """End the answer (complete or cancelled): free the stream, count the request."""
        if self.done:
            return
        self.done = True
        cdef Server s = self.conn.server
        s.count(self.route, self.status, monotonic_ns() - self.t0, self.conn.bytes_in,
                self.bytes_out)
        if self.stream is not None and s.blk != NULL:
            llmsim_stream_closed(s.blk)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.stream is not None:
            try:
                self.stream.close()
            except Exception:
                log.exception("closing an event stream failed")
            self.stream = None

    cdef int _arm(self) except -1:
        cdef int64_t due
        if self.stream is not None:
            due = self.t0 + self.stream.due_ns(self.sent)
        else:
            due = self.t0 + (<int64_t>self.body_delay)
        cdef int64_t wait = due - monotonic_ns()
        self.timer = self.loop.call_later(wait / 1e9 if wait > 0 else 0, self._wake)
        return 0

    def _wake(self):
        self.timer = None
        if self.done:
            return
        try:
            if self.stream is None:
                self._send_body()
            else:
                self._send_due()
        except Exception:
            log.exception("sending a deferred answer failed")
            self._stop()
            self.conn.close()

    cdef int _send_body(self) except -1:
        cdef Server s = self.conn.server
        s.put_head(self.status, self.headers, PyBytes_GET_SIZE(self.body),
                   self.conn.keep_alive, self.conn.minor)
        s.put_bytes(self.body)
        self.bytes_out = s.out_len
        self.conn.send(s.take_output())
        self._stop()
        self.conn.finished()
        return 0

    cdef int _send_due(self) except -1:
        cdef int64_t elapsed = monotonic_ns() - self.t0
        cdef Py_ssize_t stop = self.sent
        while stop < self.n_events and self.stream.due_ns(stop) <= elapsed:
            stop += 1
        cdef bytes data = self.stream.render(self.sent, stop) if stop > self.sent else b""
        self.sent = stop
        cdef bint last = stop >= self.n_events
        if data:
            if self.chunked:
                data = b"%x\r\n%b\r\n" % (PyBytes_GET_SIZE(data), data)
            if last and self.chunked:
                data += b"0\r\n\r\n"
        elif last and self.chunked:
            data = b"0\r\n\r\n"
        self.bytes_out += PyBytes_GET_SIZE(data)
        self.conn.send(data)
        if last:
            self._stop()
            self.conn.finished()
        elif not self.paused:
            self._arm()
        return 0


def start(Connection conn, Request req, int status, bytes headers, body):
    """Begin a deferred answer on `conn`; returns its responder."""
    cdef Responder r = Responder.__new__(Responder)
    cdef Server s = conn.server
    r.conn = conn
    r.loop = asyncio.get_event_loop()
    r.status = status
    r.headers = headers
    r.route = req.route
    r.t0 = req.received_ns
    if isinstance(body, Delayed):
        r.body = body.body
        r.body_delay = body.delay_ns
    else:
        r.stream = body
        r.n_events = body.n_events
        # HTTP/1.0 has no chunked coding: the stream ends when the connection closes.
        r.chunked = conn.minor == 1
        if not r.chunked:
            conn.keep_alive = False
        s.put_head(status, headers, -1, conn.keep_alive, conn.minor)
        r.bytes_out = s.out_len
        conn.send(s.take_output())
        if s.blk != NULL:
            llmsim_stream_opened(s.blk)
    r._arm()
    return r
