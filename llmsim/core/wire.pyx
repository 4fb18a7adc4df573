# cython: language_level=3, boundscheck=False, wraparound=False
"""What every OpenAI answer carries, compiled: `created` from the request's receive time and
the answer's header lines (llmsim.api.openai_wire re-exports both).
"""

import time

cimport cython

from llmsim.core.ids cimport hex_into
from llmsim.core.render cimport Buffer, scratch

JSON = b"application/json"
SSE = b"text/event-stream; charset=utf-8"


cdef class Clock:
    """Unix seconds for `created`, from the request's monotonic receive time (no syscall)."""

    def __init__(self):
        self.mono0 = time.monotonic_ns()
        self.wall0 = time.time_ns()

    @cython.cdivision(False)
    cdef int64_t seconds(self, int64_t mono_ns) noexcept:
        return (self.wall0 + mono_ns - self.mono0) // 1_000_000_000

    cdef object created(self, int64_t mono_ns):
        """seconds(mono_ns) as an int object, made once per second, not once per answer."""
        cdef int64_t s = self.seconds(mono_ns)
        if s != self.last_seconds or self.last_created is None:
            self.last_seconds = s
            self.last_created = s
        return self.last_created

    def unix(self, int64_t mono_ns):
        return self.seconds(mono_ns)


@cython.cdivision(False)
cpdef bytes headers(int64_t processing_ns, bytes ctype=JSON):
    """The header lines of an OpenAI answer (the core adds date, length, connection)."""
    cdef Buffer out = scratch()
    out.write(b"content-type: ", 14)
    out.write_bytes(ctype)
    out.write(b"\r\nx-request-id: req_", 20)
    out.reserve(32)
    hex_into(out.data + out.length, 32)
    out.length += 32
    out.write(b"\r\nopenai-processing-ms: ", 24)
    out.write_int(processing_ns // 1_000_000)
    out.write(b"\r\nopenai-version: 2020-10-01\r\n", 30)
    return out.take()
