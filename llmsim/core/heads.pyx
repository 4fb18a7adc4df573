# cython: language_level=3, boundscheck=False, wraparound=False
"""What every Anthropic and Gemini answer carries, compiled: ids and header lines
(llmsim.api.anthropic_wire and llmsim.api.gemini_wire re-export them).
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport int64_t
from libc.string cimport memcmp, memcpy

from llmsim.core.ids cimport alnum, alnum_into
from llmsim.core.render cimport Template

ANTHROPIC_JSON = b"application/json"
ANTHROPIC_SSE = b"text/event-stream; charset=utf-8"
GEMINI_JSON = b"application/json; charset=UTF-8"
GEMINI_SSE = b"text/event-stream"
cdef bytes _ANTHROPIC_JSON = ANTHROPIC_JSON, _ANTHROPIC_SSE = ANTHROPIC_SSE
cdef bytes _GEMINI_JSON = GEMINI_JSON
cdef bytes _ANTHROPIC_SRC = (b"content-type: {{ctype:raw}}\r\n"
                            b"request-id: req_011C{{rid:raw}}\r\n")
cdef Template _ANTHROPIC = Template(_ANTHROPIC_SRC)
cdef Template _ANTHROPIC_STREAM = Template(_ANTHROPIC_SRC + b"cache-control: no-cache\r\n")
cdef enum:
    RID_LEN = 20    # the random part of a request-id
cdef Template _GEMINI = Template(b"content-type: {{ctype:raw}}\r\n"
                                 b"vary: Origin, X-Origin, Referer\r\n"
                                 b"server-timing: gfet4t7; dur={{ms:int}}\r\n")


cpdef bytes message_id():
    """msg_01 and 22 random base-62 characters, made in place."""
    cdef bytes out = PyBytes_FromStringAndSize(NULL, 28)
    cdef char *p = PyBytes_AS_STRING(out)
    memcpy(p, b"msg_01", 6)
    alnum_into(p + 6, 22)
    return out


cpdef bytes anthropic_headers(bytes ctype=_ANTHROPIC_JSON):
    """The header lines of an Anthropic answer (the core adds date, length, connection)."""
    cdef char rid[RID_LEN]
    cdef const char *vp[2]
    cdef Py_ssize_t vn[2]
    cdef int64_t vi[2]
    if ctype is None:
        raise TypeError("anthropic_headers: ctype is None")
    alnum_into(rid, RID_LEN)
    vp[0] = PyBytes_AS_STRING(ctype)
    vn[0] = PyBytes_GET_SIZE(ctype)
    vp[1] = rid
    vn[1] = RID_LEN
    return (_ANTHROPIC_STREAM if ctype is _ANTHROPIC_SSE else _ANTHROPIC).render_c(vp, vn, vi)


cpdef bytes response_id():
    return alnum(23)


cpdef bint alt_sse(bytes query):
    """Whether a Gemini stream's query string asks for server-sent events (`alt=sse`, one of
    its &-separated items) rather than one JSON array (its content type: GEMINI_SSE, else
    GEMINI_JSON)."""
    cdef const char *q = PyBytes_AS_STRING(query)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(query), start = 0, end
    while start <= n:
        end = start
        while end < n and q[end] != b"&":
            end += 1
        if end - start == 7 and memcmp(q + start, b"alt=sse", 7) == 0:
            return True
        start = end + 1
    return False


@cython.cdivision(False)
cpdef bytes gemini_headers(int64_t processing_ns, bytes ctype=_GEMINI_JSON):
    """The header lines of a Gemini answer (the core adds date, length, connection)."""
    cdef const char *vp[2]
    cdef Py_ssize_t vn[2]
    cdef int64_t vi[2]
    if ctype is None:
        raise TypeError("gemini_headers: ctype is None")
    vp[0] = PyBytes_AS_STRING(ctype)
    vn[0] = PyBytes_GET_SIZE(ctype)
    vi[1] = processing_ns // 1_000_000
    return _GEMINI.render_c(vp, vn, vi)
