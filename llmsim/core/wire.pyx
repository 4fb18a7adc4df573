# cython: language_level=3, boundscheck=False, wraparound=False
"""What every OpenAI answer carries, compiled: `created` from the request's receive time and
the answer's header lines (llmsim.api.openai_wire re-exports both).
"""

import time

cimport cython

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.string cimport memcpy

from llmsim.core.ids cimport hex_into
from llmsim.core.render cimport llmsim_json_i64

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
    """The header lines of an OpenAI answer (the core adds date, length, connection), written
    straight into the bytes object."""
    cdef char ms[24]
    cdef size_t ms_len = llmsim_json_i64(ms, processing_ns // 1_000_000)
    cdef Py_ssize_t type_len = PyBytes_GET_SIZE(ctype)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, 14 + type_len + 20 + 32 + 24 + ms_len + 30)
    cdef char *p = PyBytes_AS_STRING(out)
    memcpy(p, b"content-type: ", 14)
    p += 14
    memcpy(p, PyBytes_AS_STRING(ctype), type_len)
    p += type_len
    memcpy(p, b"\r\nx-request-id: req_", 20)
    hex_into(p + 20, 32)
    p += 52
    memcpy(p, b"\r\nopenai-processing-ms: ", 24)
    p += 24
    memcpy(p, ms, ms_len)
    memcpy(p + ms_len, b"\r\nopenai-version: 2020-10-01\r\n", 30)
    return out
