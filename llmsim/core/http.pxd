# C-level HTTP/1.1 request framing shared by the connection and the test-facing reader.
from libc.stdint cimport int64_t, uint64_t, uint32_t

cdef extern from "llmsim_phr.h":
    struct phr_header:
        const char *name
        size_t name_len
        const char *value
        size_t value_len
    ctypedef int (*llmsim_phr_parse_request_t)(
        const char *buf, size_t len, const char **method, size_t *method_len,
        const char **path, size_t *path_len, int *minor_version,
        phr_header *headers, size_t *num_headers, size_t last_len) noexcept nogil

cdef extern from "llmsim_http.h":
    ctypedef struct llmsim_chunked_t:
        uint64_t remaining
        size_t src
        size_t dst
        int state

cdef enum:
    MAX_HEADERS_CAP = 256    # headers per request, whatever the configured limit

cdef struct Limits:
    size_t max_head
    size_t max_headers
    uint64_t max_body
    uint32_t max_chunks

cdef struct Head:
    const char *method
    size_t method_len
    const char *target
    size_t target_len
    size_t path_len          # target bytes before '?'
    int minor
    size_t num_headers
    size_t head_len
    int64_t content_length   # -1: none
    bint chunked
    bint keep_alive
    bint expect_continue
    size_t n_kept            # headers kept_headers() returns
    phr_header headers[MAX_HEADERS_CAP]
    unsigned char kinds[MAX_HEADERS_CAP]  # each header's llmsim_field_kind

# Per-request framing state kept across reads. Offsets are relative to the request start, so
# the bytes may move (shared read buffer -> lent buffer) between reads.
cdef struct Framing:
    size_t last_len          # bytes already scanned of an incomplete head
    llmsim_chunked_t chunk

cdef enum:
    FRAME_NEED_HEAD = 0
    FRAME_NEED_BODY = 1
    FRAME_COMPLETE = 2

cdef Limits make_limits(size_t max_head, size_t max_headers, uint64_t max_body)
cdef void framing_reset(Framing *st) noexcept
cdef int frame_request(Framing *st, char *buf, size_t length, Head *h, const Limits *lim,
                       size_t *body_len, size_t *consumed) except -1
cdef dict kept_headers(Head *h)
