# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Deterministic embedding vectors: the same input gives the same unit vector.

Components are drawn with the counter-based RNG (csrc/llmsim_rng.h) keyed by a hash of the
input, as a sum of two uniforms (a bell-ish shape like real embeddings), then scaled to
length 1. Component i does not depend on the dimension count, so the vector for
`dimensions=d` is the normalised first d components of the full one (as OpenAI's shortened
embeddings are). Output: little-endian float32 bytes, or their JSON array text.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_FromStringAndSize
from libc.math cimport sqrt
from libc.stdint cimport uint32_t, uint64_t
from libc.string cimport memcpy

from llmsim.core.rng cimport llmsim_hash64, llmsim_rng_block
from llmsim.core.render cimport Buffer, scratch

cdef extern from "llmsim_json.h":
    size_t llmsim_json_fixed(char *p, double v, int decimals) noexcept nogil

cdef uint64_t _TEXT = 0x656d622d74657874    # hash seeds: text and token-id inputs differ
cdef uint64_t _TOKENS = 0x656d622d746f6b73


def key_of(data, bint tokens=False):
    """The vector key of an input: UTF-8 text, or the bytes of an int64 token-id array."""
    cdef const unsigned char[::1] view = data
    cdef const unsigned char *p = &view[0] if view.shape[0] else NULL
    return llmsim_hash64(p, <size_t>view.shape[0], _TOKENS if tokens else _TEXT)


def unit_vector(uint64_t key, Py_ssize_t dims):
    """`dims` float32 components (little-endian bytes) of the unit vector of `key`."""
    if dims <= 0:
        raise ValueError("dims must be > 0")
    cdef bytes out = PyBytes_FromStringAndSize(NULL, dims * 4)
    cdef float *v = <float *>PyBytes_AS_STRING(out)
    cdef uint64_t lanes[2]
    cdef uint32_t w[4]
    cdef Py_ssize_t i, j
    cdef double x, norm = 0.0
    for i in range(0, dims, 2):
        llmsim_rng_block(key, <uint64_t>(i >> 1), 0, lanes)
        memcpy(w, lanes, 16)
        for j in range(2):
            if i + j < dims:
                x = (w[2 * j] + <double>w[2 * j + 1]) * (1.0 / 4294967296.0) - 1.0
                v[i + j] = <float>x
                norm += x * x
    norm = sqrt(norm) if norm > 0 else 1.0
    for i in range(dims):
        v[i] = <float>(v[i] / norm)
    return out


def json_floats(bytes f32):
    """The JSON array text of little-endian float32 components (9 decimals)."""
    cdef Py_ssize_t n = PyBytes_GET_SIZE(f32) // 4, i
    cdef const float *v = <const float *>PyBytes_AS_STRING(f32)
    cdef Buffer out = scratch()
    out.reserve(n * 14 + 2)
    out.data[out.length] = b'['
    out.length += 1
    for i in range(n):
        if i:
            out.data[out.length] = b','
            out.length += 1
        out.length += llmsim_json_fixed(out.data + out.length, v[i], 9)
    out.data[out.length] = b']'
    out.length += 1
    return out.take()
