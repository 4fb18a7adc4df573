# What every OpenAI answer carries (llmsim/core/wire.pyx).
from libc.stdint cimport int64_t
from llmsim.core.render cimport Buffer


cdef class Clock:
    cdef int64_t mono0, wall0
    cdef int64_t last_seconds
    cdef object last_created

    cdef int64_t seconds(self, int64_t mono_ns) noexcept   # `unix(mono_ns)` from Python
    cdef object created(self, int64_t mono_ns)


cpdef bytes headers(int64_t processing_ns, bytes ctype=*)
cdef int write_headers(Buffer out, int64_t processing_ns, bytes ctype) except -1
