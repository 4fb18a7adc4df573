# Random ids for answers (llmsim/core/ids.pyx), callable from C.
from libc.stdint cimport uint64_t

cdef uint64_t *random_state() noexcept


cdef inline uint64_t random_next(uint64_t *s) noexcept nogil:
    """The next output of xoshiro256** state s, advancing it: with s = random_state(), the
    next u64 of the per-process generator, inlined where it is drawn."""
    cdef uint64_t x = s[1] * 5
    cdef uint64_t result = ((x << 7) | (x >> 57)) * 9
    cdef uint64_t t = s[1] << 17
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = (s[3] << 45) | (s[3] >> 19)
    return result


cpdef bytes alnum(Py_ssize_t n)
cdef void alnum_into(char *p, Py_ssize_t n) noexcept
cpdef bytes hexstr(Py_ssize_t n)
cdef void hex_into(char *p, Py_ssize_t n) noexcept
