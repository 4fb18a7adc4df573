# Server-sent event streams (llmsim/core/sse.pyx): what the scheduler (llmsim.core.stream)
# sends, rendered straight into the worker's output buffer.
from libc.stdint cimport int64_t

from llmsim.core.render cimport Buffer


cdef class EventStream:
    cdef readonly Py_ssize_t n_events
    cdef readonly bint drops         # the stream ends by dropping the connection
    cdef bint finished, closed       # its last event was rendered; close() was called
    cdef Py_ssize_t rendered         # events rendered so far (0..n_events)
    cdef public object on_close      # None, or f(finished: bool), called by close()

    cdef int64_t event_due(self, Py_ssize_t i) except? -1
    cdef int render_into(self, Buffer out, Py_ssize_t start, Py_ssize_t stop) except -1
    cdef int closing(self) except -1
    cpdef close(self)
    cpdef Py_ssize_t tokens_sent(self) except -1
