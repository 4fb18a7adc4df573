# cython: language_level=3, boundscheck=False, wraparound=False
"""What every OpenAI answer carries, compiled: `created` from the request's receive time and
the answer's header lines (llmsim.api.openai_wire re-exports both).
"""

import time

cimport cython

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.string cimport memcpy

from llmsim.core.ids cimport hex_into
from llmsim.core.render cimport Buffer, llmsim_json_i64

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


cdef enum:
    # header_lines() bytes beyond the content type and the processing time's digits
    HEADER_FIXED = 14 + 20 + 32 + 24 + 30


cdef void header_lines(char *p, const char *ms, size_t ms_len, bytes ctype) noexcept:
    """The header lines of an OpenAI answer at p (HEADER_FIXED + len(ctype) + ms_len
    bytes); `ms`: openai-processing-ms's digits."""
    cdef Py_ssize_t type_len = PyBytes_GET_SIZE(ctype)
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


@cython.cdivision(False)
cpdef bytes headers(int64_t processing_ns, bytes ctype=JSON):
    """The header lines of an OpenAI answer (the core adds date, length, connection), written
    straight into the bytes object."""
    cdef char ms[24]
    cdef size_t ms_len = llmsim_json_i64(ms, processing_ns // 1_000_000)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, HEADER_FIXED + PyBytes_GET_SIZE(ctype)
                                               + ms_len)
    header_lines(PyBytes_AS_STRING(out), ms, ms_len, ctype)
    return out


@cython.cdivision(False)
cdef int write_headers(Buffer out, int64_t processing_ns, bytes ctype) except -1:
    """headers() and the blank line that ends the head, written into `out`."""
    cdef char ms[24]
    cdef size_t ms_len = llmsim_json_i64(ms, processing_ns // 1_000_000)
    cdef Py_ssize_t n = HEADER_FIXED + PyBytes_GET_SIZE(ctype) + ms_len
    out.reserve(n + 2)
    header_lines(out.data + out.length, ms, ms_len, ctype)
    memcpy(out.data + out.length + n, b"\r\n", 2)
    out.length += n + 2
    return 0
