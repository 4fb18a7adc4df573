# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Fast per-process randomness for ids: xoshiro256** seeded from os.urandom.

Not for secrets: response ids (`chatcmpl-…`, `call_…`), request ids, the random keys of
requests that are not to be reproduced (llmsim.core.plan).
The state is reseeded in every forked child, so workers never repeat each other's ids.
"""

import os

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.stdint cimport uint64_t
from libc.string cimport memcpy

cdef uint64_t _s[4]
cdef bytes _ALNUM_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
cdef const char *_ALNUM = _ALNUM_BYTES
cdef bytes _ALNUM_PAIRS_BYTES = b"".join(bytes((a, b)) for a in _ALNUM_BYTES for b in _ALNUM_BYTES)
cdef const char *_ALNUM_PAIRS = _ALNUM_PAIRS_BYTES     # 62 * 62 two-digit strings
cdef const char *_HEX = b"0123456789abcdef"
cdef bytes _HEX_PAIRS_BYTES = b"".join(b"%02x" % i for i in range(256))
cdef const char *_HEX_PAIRS = _HEX_PAIRS_BYTES

cdef extern from *:
    """
    #include <stdint.h>
    /* The next base-62 digit of the fraction x / 2^64 (multiply-shift, no modulo); five
     * digits per 64-bit draw keep more than 32 bits of precision for the last one. */
    static inline unsigned llmsim_ids_digit62(uint64_t *x) {
        __extension__ unsigned __int128 m = (unsigned __int128)*x * 62u;
        *x = (uint64_t)m;
        return (unsigned)(m >> 64);
    }
    /* The next two base-62 digits at once, as 62 * first + second: the same as two
     * llmsim_ids_digit62 calls, since 62 * 62 = 3844 scales the fraction the same way. */
    static inline unsigned llmsim_ids_pair62(uint64_t *x) {
        __extension__ unsigned __int128 m = (unsigned __int128)*x * 3844u;
        *x = (uint64_t)m;
        return (unsigned)(m >> 64);
    }
    """
    unsigned llmsim_ids_digit62(uint64_t *x) noexcept nogil
    unsigned llmsim_ids_pair62(uint64_t *x) noexcept nogil


def reseed():
    """New state from os.urandom (done at import and in every forked child)."""
    cdef bytes seed = os.urandom(32)
    memcpy(_s, PyBytes_AS_STRING(seed), 32)
    if _s[0] == 0 and _s[1] == 0 and _s[2] == 0 and _s[3] == 0:
        _s[0] = 1


reseed()
os.register_at_fork(after_in_child=reseed)


def u64():
    """A random unsigned 64-bit int."""
    return random_next(_s)


cdef uint64_t *random_state() noexcept:
    """The generator's state, for random_next (llmsim/core/ids.pxd); reseeding rewrites it
    in place."""
    return _s


cpdef bytes alnum(Py_ssize_t n):
    """n random characters from [A-Za-z0-9] as bytes."""
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n)
    alnum_into(PyBytes_AS_STRING(out), n)
    return out


cdef void alnum_into(char *p, Py_ssize_t n) noexcept:
    """n random characters from [A-Za-z0-9] at p: five a draw, two at a time (the state in
    registers meanwhile)."""
    cdef char *end = p + n
    cdef uint64_t x
    cdef uint64_t s[4]
    memcpy(s, _s, sizeof(s))
    while end - p >= 5:
        x = random_next(s)
        memcpy(p, _ALNUM_PAIRS + 2 * llmsim_ids_pair62(&x), 2)
        memcpy(p + 2, _ALNUM_PAIRS + 2 * llmsim_ids_pair62(&x), 2)
        p[4] = _ALNUM[llmsim_ids_digit62(&x)]
        p += 5
    if p < end:
        x = random_next(s)
        while p < end:
            p[0] = _ALNUM[llmsim_ids_digit62(&x)]
            p += 1
    memcpy(_s, s, sizeof(s))


cpdef bytes hexstr(Py_ssize_t n):
    """n random lowercase hex digits as bytes."""
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n)
    hex_into(PyBytes_AS_STRING(out), n)
    return out


cdef inline uint64_t _hex8(uint64_t nibbles) noexcept:
    """Eight bytes 0..15 as the ASCII of their lowercase hex digits, all at once."""
    cdef uint64_t letter = ((nibbles + 0x0606060606060606ULL) >> 4) & 0x0101010101010101ULL
    return nibbles + 0x3030303030303030ULL + letter * 39    # 'a' - '0' - 10


cdef void hex_into(char *p, Py_ssize_t n) noexcept:
    """n random lowercase hex digits at p: sixteen a draw, then two at a time (the state in
    registers meanwhile)."""
    cdef Py_ssize_t i = 0
    cdef uint64_t x = 0, w
    cdef uint64_t s[4]
    memcpy(s, _s, sizeof(s))
    while i + 16 <= n:
        x = random_next(s)
        w = _hex8(x & 0x0f0f0f0f0f0f0f0fULL)
        memcpy(p + i, &w, 8)
        w = _hex8((x >> 4) & 0x0f0f0f0f0f0f0f0fULL)
        memcpy(p + i + 8, &w, 8)
        i += 16
    while i + 1 < n:
        if i & 15 == 0:
            x = random_next(s)
        memcpy(p + i, _HEX_PAIRS + 2 * (x & 0xff), 2)
        x >>= 8
        i += 2
    if i < n:
        p[i] = _HEX[random_next(s) & 15]
    memcpy(_s, s, sizeof(s))
