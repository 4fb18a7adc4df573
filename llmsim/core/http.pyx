# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""HTTP/1.1 request framing over picohttpparser, revalidated to RFC 9110/9112.

picohttpparser is reached through the C address that pycohttpparser's cffi module exports;
the bundled 2015 parser is lax, so every head it accepts is checked again here (tokens,
origin-form target, obs-fold, framing headers), all but what its own scan already
guarantees (see llmsim_http.h). `frame_request` is the one framing routine: the connection
calls it on its buffers, and `RequestReader` (tests, tools) wraps it with a buffer of its own.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdint cimport int64_t, uint64_t, uintptr_t, UINT64_MAX
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memcpy, memchr, memmove

cdef extern from "llmsim_http.h":
    int llmsim_is_method(const char *s, size_t n) noexcept nogil
    size_t llmsim_origin_path_len(const char *s, size_t n) noexcept nogil
    void llmsim_trim_ows(const char **s, size_t *n) noexcept nogil
    void llmsim_trim_trailing_ows(const char *s, size_t *n) noexcept nogil
    int llmsim_ieq(const char *s, size_t n, const char *lower, size_t lower_len) noexcept nogil
    int llmsim_connection_options(const char *s, size_t n) noexcept nogil
    enum:
        LLMSIM_CONN_CLOSE
        LLMSIM_CONN_KEEP_ALIVE
    int64_t llmsim_parse_content_length(const char *s, size_t n) noexcept nogil
    int llmsim_field_kind(const char *s, size_t n) noexcept nogil
    const char llmsim_field_names[][24]
    enum:
        LLMSIM_F_BAD
        LLMSIM_F_HOST
        LLMSIM_F_CONTENT_LENGTH
        LLMSIM_F_TRANSFER_ENCODING
        LLMSIM_F_CONNECTION
        LLMSIM_F_EXPECT
        LLMSIM_F_KEPT
        LLMSIM_F_X_LLMSIM
    void llmsim_chunked_init(llmsim_chunked_t *d) noexcept nogil
    long long llmsim_chunked_decode(llmsim_chunked_t *d, char *buf, size_t len,
                                    uint64_t max_body, uint32_t max_chunks) noexcept nogil
    long long LLMSIM_CHUNK_INCOMPLETE
    long long LLMSIM_CHUNK_ERR_TOO_LARGE


class HttpError(Exception):
    """A request that cannot be served: `status` is the HTTP answer, the connection closes."""

    def __init__(self, status, message):
        super().__init__(status, message)
        self.status = status
        self.message = message

    def __str__(self):
        return f"{self.status}: {self.message}"


cdef llmsim_phr_parse_request_t phr_parse_request = NULL


cdef void _bind_picohttpparser() except *:
    """Take phr_parse_request's address from pycohttpparser and check our struct layout."""
    global phr_parse_request
    from pycohttpparser.api import ffi, lib
    cdef phr_header probe
    expected = (sizeof(phr_header),
                <size_t>&probe.name_len - <size_t>&probe,
                <size_t>&probe.value - <size_t>&probe,
                <size_t>&probe.value_len - <size_t>&probe)
    actual = (ffi.sizeof("struct phr_header"),
              ffi.offsetof("struct phr_header", "name_len"),
              ffi.offsetof("struct phr_header", "value"),
              ffi.offsetof("struct phr_header", "value_len"))
    if expected != actual:
        raise ImportError(
            f"pycohttpparser's struct phr_header layout {actual} differs from llmsim's "
            f"{expected}: reinstall a pycohttpparser built for this platform "
            f"(pip install --force-reinstall --no-cache-dir pycohttpparser)")
    phr_parse_request = <llmsim_phr_parse_request_t><uintptr_t>int(
        ffi.cast("uintptr_t", ffi.addressof(lib, "phr_parse_request")))


_bind_picohttpparser()


cdef Limits make_limits(size_t max_head, size_t max_headers, uint64_t max_body):
    cdef Limits lim
    lim.max_head = max_head
    lim.max_headers = max_headers if max_headers <= MAX_HEADERS_CAP else MAX_HEADERS_CAP
    lim.max_body = max_body
    # A chunk costs at least 5 bytes on the wire; a body made of many tiny chunks is abuse.
    lim.max_chunks = <uint32_t>min(max_body // 16 + 1024, <uint64_t>(1 << 24))
    return lim


cdef void framing_reset(Framing *st) noexcept:
    st.last_len = 0
    llmsim_chunked_init(&st.chunk)


cdef size_t _count_lines(const char *buf, size_t length) noexcept:
    cdef size_t n = 0, i
    for i in range(length):
        if buf[i] == b'\n':
            n += 1
            if i + 2 < length and buf[i + 1] == b'\r' and buf[i + 2] == b'\n':
                break
    return n


cdef int _version_error(const char *buf, size_t length) except -1:
    """Raise 505 when the request line ends in a well-formed HTTP version of another major
    version (0.9, 2.0, ...), else 400."""
    cdef const char *eol = <const char *>memchr(buf, b'\n', length)
    cdef size_t n = (eol - buf) if eol != NULL else length
    if n and buf[n - 1] == b'\r':
        n -= 1
    if (n >= 9 and buf[n - 9] == b' ' and buf[n - 8:n - 3] == b"HTTP/"
            and b'0' <= buf[n - 3] <= b'9' and buf[n - 3] != b'1' and buf[n - 2] == b'.'
            and b'0' <= buf[n - 1] <= b'9'):
        raise HttpError(505, "HTTP version not supported: only HTTP/1.0 and HTTP/1.1 are served")
    raise HttpError(400, "malformed request head")


cdef int _parse_head(Framing *st, const char *buf, size_t length, Head *h,
                     const Limits *lim) except -1:
    """Parse and revalidate the head. 1 when complete (h filled), 0 when more bytes are needed.
    h.head_len stays 0 until the head is complete and valid."""
    cdef size_t num = lim.max_headers
    h.head_len = 0
    cdef int r = phr_parse_request(buf, length, &h.method, &h.method_len, &h.target,
                                   &h.target_len, &h.minor, h.headers, &num, st.last_len)
    if r == -2:
        if length > lim.max_head:
            raise HttpError(431, "request head too large")
        st.last_len = length
        return 0
    if r < 0:
        if length > 0 and _count_lines(buf, length) > lim.max_headers + 1:
            raise HttpError(431, "too many header fields")
        _version_error(buf, length)
    if <size_t>r > lim.max_head:
        raise HttpError(431, "request head too large")
    # picohttpparser reads several minor digits ("HTTP/1.01", "HTTP/1.10"): exactly one.
    cdef const char *after = h.target + h.target_len + 9
    if after >= buf + r or (after[0] != b'\r' and after[0] != b'\n'):
        raise HttpError(400, "malformed HTTP version")
    if h.minor > 1:
        raise HttpError(505, "HTTP version not supported: only HTTP/1.0 and HTTP/1.1 are served")
    if not llmsim_is_method(h.method, h.method_len):
        raise HttpError(400, "malformed request method")
    h.path_len = llmsim_origin_path_len(h.target, h.target_len)
    if h.path_len == <size_t>-1:
        raise HttpError(400, "request target must be an absolute path")
    h.num_headers = num
    _check_headers(h)
    h.head_len = r
    return 1


# Headers handlers can read (matched in C, so other headers cost nothing), lowercase by kind
# from LLMSIM_F_KEPT on; x-llmsim-* names are lowercased copies.
cdef tuple KEPT_BYTES = tuple(<bytes><const char *>llmsim_field_names[k]
                              for k in range(LLMSIM_F_KEPT, LLMSIM_F_X_LLMSIM))


cdef bint _only_chunked(const char *s, size_t n) noexcept:
    """True when the list value names `chunked` and nothing else (e.g. "chunked, chunked")."""
    cdef size_t i = 0, start
    cdef const char *item
    cdef size_t item_len
    while i <= n:
        start = i
        while i < n and s[i] != b',':
            i += 1
        item = s + start
        item_len = i - start
        llmsim_trim_ows(&item, &item_len)
        if not llmsim_ieq(item, item_len, b"chunked", 7):
            return False
        i += 1
    return True


cdef int _check_headers(Head *h) except -1:
    """Validate field names, trim values (picohttpparser checked their bytes), and read the
    framing headers."""
    cdef size_t i
    cdef phr_header *f
    cdef int64_t cl
    cdef int hosts = 0, te = 0, cls = 0, conn = 0, kind
    h.content_length = -1
    h.chunked = False
    h.expect_continue = False
    h.n_kept = 0
    for i in range(h.num_headers):
        f = &h.headers[i]
        if f.name == NULL:
            raise HttpError(400, "obsolete line folding is not accepted")
        # picohttpparser checked the value's bytes and skipped its leading whitespace
        llmsim_trim_trailing_ows(f.value, &f.value_len)
        kind = llmsim_field_kind(f.name, f.name_len)
        if kind == LLMSIM_F_BAD:
            raise HttpError(400, "malformed header field name")
        h.kinds[i] = kind
        if kind == LLMSIM_F_CONTENT_LENGTH:
            cls += 1
            cl = llmsim_parse_content_length(f.value, f.value_len)
            if cl < 0 or cls > 1:
                raise HttpError(400, "invalid Content-Length")
            h.content_length = cl
        elif kind == LLMSIM_F_HOST:
            hosts += 1
        elif kind == LLMSIM_F_TRANSFER_ENCODING:
            te += 1
            if not llmsim_ieq(f.value, f.value_len, b"chunked", 7):
                if _only_chunked(f.value, f.value_len):
                    raise HttpError(400, "chunked applied more than once")
                raise HttpError(501, "only the chunked transfer coding is supported")
            h.chunked = True
        elif kind == LLMSIM_F_CONNECTION:
            conn |= llmsim_connection_options(f.value, f.value_len)
        elif kind == LLMSIM_F_EXPECT:
            if not llmsim_ieq(f.value, f.value_len, b"100-continue", 12):
                raise HttpError(417, "only Expect: 100-continue is supported")
            h.expect_continue = h.minor == 1
        elif kind >= LLMSIM_F_KEPT:  # (the kinds before: names nobody reads)
            h.n_kept += 1
    if te > 1:
        raise HttpError(400, "repeated Transfer-Encoding")
    if te and (cls or h.minor == 0):
        raise HttpError(400, "Transfer-Encoding with Content-Length or in HTTP/1.0")
    if hosts > 1 or (hosts == 0 and h.minor == 1):
        raise HttpError(400, "HTTP/1.1 requires exactly one Host header")
    if conn & LLMSIM_CONN_CLOSE:
        h.keep_alive = False
    else:
        h.keep_alive = h.minor == 1 or (conn & LLMSIM_CONN_KEEP_ALIVE) != 0
    return 1


cdef int frame_request(Framing *st, char *buf, size_t length, Head *h, const Limits *lim,
                       size_t *body_len, size_t *consumed) except -1:
    """Frame one request at buf[0:length].

    FRAME_NEED_HEAD / FRAME_NEED_BODY: more bytes are needed (st keeps progress; the head is
    filled for FRAME_NEED_BODY). FRAME_COMPLETE: `h` describes the request, its body is at
    buf[h.head_len : h.head_len + body_len] (de-chunked in place), and it spans `consumed`
    bytes. Raises HttpError for input that must be refused.
    """
    if not _parse_head(st, buf, length, h, lim):
        return FRAME_NEED_HEAD
    cdef size_t head_len = h.head_len
    cdef long long r
    if h.chunked:
        r = llmsim_chunked_decode(&st.chunk, buf + head_len, length - head_len,
                                  lim.max_body, lim.max_chunks)
        if r == LLMSIM_CHUNK_INCOMPLETE:
            return FRAME_NEED_BODY
        if r == LLMSIM_CHUNK_ERR_TOO_LARGE:
            raise HttpError(413, "request body too large")
        if r < 0:
            raise HttpError(400, "malformed chunked body")
        body_len[0] = st.chunk.dst
        consumed[0] = head_len + <size_t>r
        return FRAME_COMPLETE
    cdef uint64_t cl = h.content_length if h.content_length > 0 else 0
    if cl > lim.max_body:
        raise HttpError(413, "request body too large")
    if length - head_len < cl:
        return FRAME_NEED_BODY
    body_len[0] = cl
    consumed[0] = head_len + cl
    return FRAME_COMPLETE


# The headers of a request that sent none of the kept ones: shared, never written to.
cdef dict _NO_HEADERS = {}


cdef dict kept_headers(Head *h):
    """The headers handlers use, as {lowercase name: value} (read-only: a request without
    any shares one empty dict)."""
    if h.n_kept == 0:
        return _NO_HEADERS
    cdef dict out = {}
    cdef size_t i, j
    cdef int k
    cdef phr_header *f
    cdef bytes name
    cdef char *p
    for i in range(h.num_headers):
        f = &h.headers[i]
        k = h.kinds[i] - LLMSIM_F_KEPT
        if k < 0:
            continue
        if k < LLMSIM_F_X_LLMSIM - LLMSIM_F_KEPT:
            name = <bytes>KEPT_BYTES[k]
        else:
            name = PyBytes_FromStringAndSize(f.name, f.name_len)
            p = name
            for j in range(f.name_len):
                if b'A' <= p[j] <= b'Z':
                    p[j] = p[j] | 0x20
        out[name] = PyBytes_FromStringAndSize(f.value, f.value_len)
    return out


cdef class ParsedRequest:
    """One complete request as `RequestReader` returns it (tests and tools)."""
    cdef readonly bytes method, path, query, body
    cdef readonly int minor_version
    cdef readonly list headers
    cdef readonly bint keep_alive, expect_continue, chunked

    def __repr__(self):
        return (f"ParsedRequest({self.method!r}, {self.path!r}, query={self.query!r}, "
                f"headers={self.headers!r}, body={self.body!r})")


cdef ParsedRequest _parsed(Head *h, const char *body, size_t body_len):
    cdef ParsedRequest p = ParsedRequest.__new__(ParsedRequest)
    cdef size_t i
    p.method = PyBytes_FromStringAndSize(h.method, h.method_len)
    p.path = PyBytes_FromStringAndSize(h.target, h.path_len)
    p.query = (PyBytes_FromStringAndSize(h.target + h.path_len + 1,
                                         h.target_len - h.path_len - 1)
               if h.path_len < h.target_len else b"")
    p.minor_version = h.minor
    p.headers = [(PyBytes_FromStringAndSize(h.headers[i].name, h.headers[i].name_len),
                  PyBytes_FromStringAndSize(h.headers[i].value, h.headers[i].value_len))
                 for i in range(h.num_headers)]
    p.body = PyBytes_FromStringAndSize(body, body_len)
    p.keep_alive = h.keep_alive
    p.expect_continue = h.expect_continue
    p.chunked = h.chunked
    return p


cdef class RequestReader:
    """Incremental request framing over a private buffer: `feed(bytes)` -> complete requests.

    The same `frame_request` the server uses; after an HttpError the reader is unusable.
    """
    cdef char *buf
    cdef size_t length, cap
    cdef Limits lim
    cdef Framing st
    cdef Head *head
    cdef bint failed

    def __cinit__(self, size_t max_head=16384, size_t max_headers=100,
                  uint64_t max_body=8 * 1024 * 1024):
        self.lim = make_limits(max_head, max_headers, max_body)
        self.head = <Head *>malloc(sizeof(Head))
        if self.head == NULL:
            raise MemoryError()
        framing_reset(&self.st)

    def __dealloc__(self):
        free(self.buf)
        free(self.head)

    @property
    def pending(self):
        return self.length

    def feed(self, const unsigned char[:] data not None):
        if self.failed:
            raise HttpError(400, "reader already failed")
        cdef size_t n = data.shape[0]
        cdef char *grown
        if self.length + n > self.cap:
            self.cap = max(self.length + n, 2 * self.cap, <size_t>4096)
            grown = <char *>realloc(self.buf, self.cap)
            if grown == NULL:
                raise MemoryError()
            self.buf = grown
        if n:
            memcpy(self.buf + self.length, &data[0], n)
        self.length += n
        cdef list out = []
        cdef size_t body_len = 0, consumed = 0
        cdef int r
        while self.length:
            try:
                r = frame_request(&self.st, self.buf, self.length, self.head, &self.lim,
                                  &body_len, &consumed)
            except HttpError:
                self.failed = True
                raise
            if r != FRAME_COMPLETE:
                break
            out.append(_parsed(self.head, self.buf + self.head.head_len, body_len))
            memmove(self.buf, self.buf + consumed, self.length - consumed)
            self.length -= consumed
            framing_reset(&self.st)
        return out


def parse_head_at(uintptr_t address, size_t length, size_t max_head=16384,
                  size_t max_headers=100):
    """Frame the request at raw memory [address, address+length) (over-read tests): its
    head, then as much of its body as is there (de-chunked in place, so writable memory).

    Returns the head length once the head is complete, or -2 before; raises HttpError when
    refused. The body has no size limit here.
    """
    cdef Framing st
    cdef Limits lim = make_limits(max_head, max_headers, UINT64_MAX)
    cdef Head *h = <Head *>malloc(sizeof(Head))
    cdef size_t body_len = 0, consumed = 0
    if h == NULL:
        raise MemoryError()
    framing_reset(&st)
    try:
        if frame_request(&st, <char *>address, length, h, &lim, &body_len,
                         &consumed) == FRAME_NEED_HEAD:
            return -2
        return h.head_len
    finally:
        free(h)
