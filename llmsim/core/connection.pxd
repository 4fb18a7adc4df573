from libc.stdint cimport int64_t
from llmsim.core.http cimport Head, Framing, Limits
from llmsim.core.render cimport Buffer
from llmsim.core.router cimport Router
from llmsim.core.shm cimport Segment, llmsim_worker_t

cdef class ReadView:
    cdef char *ptr
    cdef Py_ssize_t size

cdef class Delayed:
    cdef readonly bytes body
    cdef readonly int64_t delay_ns
    cdef readonly object done

cdef Delayed delayed(bytes body, int64_t delay_ns)

cdef class Connection


cdef class Request:
    cdef readonly bytes method, path, query, body
    cdef readonly dict headers
    cdef readonly tuple params
    cdef public int route            # metrics route id (a shared path's handler sets its own)
    cdef readonly int64_t received_ns
    cdef readonly bint keep_alive
    # Usage of the answer (prompt, output tokens), set by a generating handler once it is
    # planned, for the rate limits; tokens_out is -1 until then.
    cdef public int64_t tokens_in, tokens_out
    cdef Connection conn             # set while the core calls a compiled handler, which
                                     # may then write its answer itself (open_answer)

cdef int record_usage(req, int64_t tokens_in, int64_t tokens_out) except -1
cdef Buffer open_answer(Request req, int status, Py_ssize_t length)

cdef class Handler:
    cdef handle(self, Request req)

cdef class Server:
    cdef char *rbuf                  # the worker's read buffer
    cdef Head *head
    cdef Buffer out                  # answers gathered during one read
    cdef char **pool                 # free blocks lent to connections mid-request
    cdef size_t pool_len
    cdef ReadView view
    cdef readonly set conns
    cdef Limits lim
    cdef Router router
    cdef object start_deferred
    cdef readonly Segment segment
    cdef llmsim_worker_t *blk        # this worker's metrics block, or NULL
    cdef bytes date_line
    cdef bytes ok_lines              # status line of 200 and date_line, in one piece
    cdef int64_t header_timeout_ns, body_timeout_ns, keepalive_timeout_ns
    cdef readonly bint draining

    cdef char *borrow(self, size_t *cap) except NULL
    cdef void give_back(self, char *p, size_t cap) noexcept
    cdef int answer_status           # the status of the answer a handler writes itself
    cdef int open_head(self, int status, Py_ssize_t length, bint keep_alive,
                       int minor) except -1
    cdef int put_head(self, int status, bytes headers, Py_ssize_t length, bint keep_alive,
                      int minor) except -1
    cdef void count(self, int route, int status, int64_t duration_ns, size_t bytes_in,
                    size_t bytes_out) noexcept
    cdef int write_to(self, transport) except -1
    cdef int put_body(self, bytes body, Connection conn) except -1

cdef class Connection:
    cdef Server server
    cdef object transport
    cdef char *lbuf                  # lent block holding a partial request, or NULL
    cdef size_t lcap, llen, want
    cdef Framing st
    cdef readonly object responder   # the deferred answer in progress, or None
    cdef int64_t last_active_ns, request_start_ns
    cdef size_t bytes_in
    cdef int minor
    cdef bint keep_alive, closing, closed, continue_sent, write_paused, reading_body
    cdef bint handed                 # the transport may hold output of this connection
    cdef object sock                 # the transport's socket, which it keeps anyway (None:
                                     # not looked up; False: the transport has none)

    cdef int process(self, char *buf, size_t length, bint lent) except -1
    cdef int await_body(self, Head *h) except -1
    cdef int keep_rest(self, char *buf, size_t off, size_t length, bint lent) except -1
    cdef int grow(self, size_t need) except -1
    cdef void release_buffer(self) noexcept
    cdef int dispatch(self, Head *h, char *buf, size_t body_len) except -1
    cdef int answer(self, Request req, tuple result) except -1
    cdef int answer_bytes(self, int route, int status, bytes headers, bytes body) except -1
    cdef int answered(self, int route, int status, size_t sent) except -1
    cdef str provider_of(self, Head *h)
    cdef int answer_error(self, int route, str provider, err) except -1
    cdef int refuse(self, int status, str message, str provider) except -1
    cdef int flush(self) except -1
    cdef int finished(self) except -1
    cdef void close(self) noexcept
    cdef int check_timeouts(self, int64_t now) except -1
    cdef void refuse_timeout(self) noexcept
