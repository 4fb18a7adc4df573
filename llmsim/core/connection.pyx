# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The uvloop protocol: bytes in, requests framed, handlers called, answers gathered out.

Memory: reads land in one per-worker buffer. Only a connection left holding part of a
request keeps bytes of its own, in a block lent from a per-worker pool and returned as
soon as the request completes, so an idle keep-alive connection owns no buffer.
Answers to every request found in one read are gathered and leave in one write; a body of
LEND_MIN bytes or more leaves at once after what was gathered before it, in one writev,
without being copied.

Writes: while the transport holds none of a connection's output, the gathered output goes
straight to the socket with one send(2), as uvloop's own write would first try, without
making a bytes object or calling into the transport; what the socket does not take (or an
error) goes to the transport, which then owns ordering, back-pressure and errors until it
is empty again. (Plain TCP only: under TLS the transport would have to do every write.)
"""

import logging

cimport cython

from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.memoryview cimport PyMemoryView_FromObject
from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memcpy, memmove
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC

from llmsim.core.http cimport (Head, Framing, Limits, frame_request, framing_reset,
                               kept_headers, make_limits, FRAME_COMPLETE, FRAME_NEED_BODY)
from llmsim.core.render cimport Buffer
from llmsim.core.router cimport Router, PathEntry, Endpoint
from llmsim.core.shm cimport (Segment, llmsim_worker_t, llmsim_count_request, llmsim_parse_error,
                              llmsim_add_bytes_in, llmsim_add_bytes_out, llmsim_conn_opened,
                              llmsim_conn_closed)
cdef extern from "<sys/socket.h>" nogil:
    ssize_t send(int fd, const void *buf, size_t n, int flags)
    enum: MSG_DONTWAIT
    enum: MSG_NOSIGNAL

from llmsim.core.http import HttpError
from llmsim import errors
from llmsim.core.ids import hexstr

log = logging.getLogger("llmsim.worker")

cdef enum:
    READ_BUFFER_SIZE = 262144
    POOL_BLOCK_SIZE = 16384
    POOL_MAX_BLOCKS = 4096
    BUSY_PENDING_LIMIT = 65536
    OUTPUT_BUFFER_SIZE = 65536
    # Output this large is lent to the transport rather than copied into bytes: below it
    # the copy costs less than the memoryview the transport takes.
    LEND_MIN = 4096

cdef dict REASONS = {
    100: b"Continue", 200: b"OK", 201: b"Created", 204: b"No Content",
    400: b"Bad Request", 401: b"Unauthorized", 403: b"Forbidden", 404: b"Not Found",
    405: b"Method Not Allowed", 408: b"Request Timeout", 409: b"Conflict",
    411: b"Length Required", 413: b"Payload Too Large", 415: b"Unsupported Media Type",
    417: b"Expectation Failed", 422: b"Unprocessable Entity", 429: b"Too Many Requests",
    431: b"Request Header Fields Too Large", 500: b"Internal Server Error",
    501: b"Not Implemented", 502: b"Bad Gateway", 503: b"Service Unavailable",
    504: b"Gateway Timeout", 505: b"HTTP Version Not Supported", 529: b"Site Overloaded",
}

cdef dict STATUS_LINES = {}


cdef bytes status_line(int status):
    cdef object line = STATUS_LINES.get(status)
    if line is None:
        line = STATUS_LINES[status] = b"HTTP/1.1 %d %s\r\n" % (
            status, REASONS.get(status, b"Unknown"))
    return <bytes>line


cdef inline int64_t now_ns() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <int64_t>ts.tv_sec * 1000000000 + ts.tv_nsec


def monotonic_ns():
    """The clock requests are stamped with (`req.received_ns`)."""
    return now_ns()


cdef class ReadView:
    """A writable buffer over memory the server owns, re-pointed before every read."""

    def __getbuffer__(self, Py_buffer *view, int flags):
        view.buf = self.ptr
        view.len = self.size
        view.readonly = 0
        view.itemsize = 1
        view.format = NULL
        view.ndim = 1
        view.shape = &self.size
        view.strides = NULL
        view.suboffsets = NULL
        view.internal = NULL
        view.obj = self

    def __releasebuffer__(self, Py_buffer *view):
        pass


@cython.freelist(64)
cdef class Delayed:
    """A complete body to send `delay_ns` after the request arrived (simulated generation);
    llmsim.core.stream sends it when it is not due yet.

    `done`, when given, is called once when the body has been sent or the client went away.
    """

    def __init__(self, bytes body, int64_t delay_ns, done=None):
        self.body = body
        self.delay_ns = delay_ns
        self.done = done


cdef Delayed delayed(bytes body, int64_t delay_ns):
    """Delayed(body, delay_ns), made from C without a Python call."""
    cdef Delayed d = Delayed.__new__(Delayed)
    d.body = body
    d.delay_ns = delay_ns
    return d


@cython.freelist(64)
cdef class Request:
    """What a handler sees of one request (headers: only those llmsim uses, lowercase)."""

    def __repr__(self):
        return f"Request({self.method!r}, {self.path!r})"


cdef int record_usage(req, int64_t tokens_in, int64_t tokens_out) except -1:
    """Record an answer's usage on `req`, which the rate limits charge (the server's Request:
    C fields, no int objects; a stand-in: its attributes)."""
    if type(req) is Request:
        (<Request>req).tokens_in = tokens_in
        (<Request>req).tokens_out = tokens_out
    else:
        req.tokens_in = tokens_in
        req.tokens_out = tokens_out
    return 0


cdef Buffer open_answer(Request req, int status, Py_ssize_t length):
    """For a compiled handler the core is calling (req.conn set): writes the head of a
    `length`-byte answer up to the handler's own header lines into the worker's output and
    returns that buffer. The handler writes its header lines, the blank line and the body,
    and returns None; nothing that can fail may come between (the core drops a half-written
    answer when the handler raises). No bytes object of the answer is made."""
    cdef Connection c = req.conn
    cdef Server s = c.server
    s.open_head(status, length, c.keep_alive, c.minor)
    s.answer_status = status
    return s.out


cdef class Handler:
    """A compiled handler: the core calls `handle` directly instead of through Python's call
    protocol. Subclasses are callable too (policy wrappers call them), like any other route
    handler."""

    cdef handle(self, Request req):
        raise NotImplementedError


cdef class Server:
    """Per-worker state shared by all connections: buffers, limits, routes, timers."""

    def __cinit__(self):
        self.rbuf = <char *>malloc(READ_BUFFER_SIZE)
        self.head = <Head *>malloc(sizeof(Head))
        self.out = Buffer(OUTPUT_BUFFER_SIZE)
        self.pool = <char **>malloc(POOL_MAX_BLOCKS * sizeof(char *))
        if not (self.rbuf and self.head and self.pool):
            raise MemoryError()
        self.view = ReadView()
        self.conns = set()

    def __dealloc__(self):
        free(self.rbuf)
        free(self.head)
        while self.pool_len:
            self.pool_len -= 1
            free(self.pool[self.pool_len])
        free(self.pool)

    def __init__(self, Router router, config, start_deferred, Segment segment=None,
                 int index=0):
        """`start_deferred(conn, req, status, headers, body)` sends a delayed body or an
        event stream and returns its responder (cancel(), pause(), resume()). Counters go
        to worker `index`'s block of `segment`."""
        self.router = router
        self.start_deferred = start_deferred
        self.segment = segment
        self.blk = segment.worker(index) if segment is not None else NULL
        self.lim = make_limits(config.max_head_bytes, config.max_headers, config.max_body_bytes)
        self.header_timeout_ns = <int64_t>(config.header_timeout * 1e9)
        self.body_timeout_ns = <int64_t>(config.body_timeout * 1e9)
        self.keepalive_timeout_ns = <int64_t>(config.keepalive_timeout * 1e9)
        self.date_line = b""
        self.ok_lines = status_line(200)
        self.draining = False

    def protocol_factory(self):
        return Connection(self)

    @property
    def connection_count(self):
        return len(self.conns)

    @property
    def busy_count(self):
        """Connections with a request in progress (reading, answering or streaming)."""
        cdef Connection c
        return sum(1 for c in self.conns if c.llen or c.responder is not None)

    def set_date(self, bytes http_date):
        self.date_line = b"date: " + http_date + b"\r\n"
        self.ok_lines = status_line(200) + self.date_line

    def reap(self):
        """Close connections past their timeouts (called about once a second)."""
        cdef int64_t now = now_ns()
        cdef Connection c
        for c in list(self.conns):
            c.check_timeouts(now)

    def drain(self, double idle_seconds):
        """Stop keeping connections alive: answers say `connection: close`, and connections
        idle for `idle_seconds` close now (a request already on its way is still answered)."""
        cdef Connection c
        cdef int64_t now = now_ns()
        cdef int64_t idle_ns = <int64_t>(idle_seconds * 1e9)
        self.draining = True
        for c in list(self.conns):
            if c.llen == 0 and c.responder is None and now - c.last_active_ns >= idle_ns:
                c.close()

    # -- pool of read blocks lent to connections holding part of a request ---------------
    cdef char *borrow(self, size_t *cap) except NULL:
        cdef char *p
        if self.pool_len:
            self.pool_len -= 1
            cap[0] = POOL_BLOCK_SIZE
            return self.pool[self.pool_len]
        p = <char *>malloc(POOL_BLOCK_SIZE)
        if p == NULL:
            raise MemoryError()
        cap[0] = POOL_BLOCK_SIZE
        return p

    cdef void give_back(self, char *p, size_t cap) noexcept:
        if cap == POOL_BLOCK_SIZE and self.pool_len < POOL_MAX_BLOCKS:
            self.pool[self.pool_len] = p
            self.pool_len += 1
        else:
            free(p)

    # -- the gathered output ---------------------------------------------------------------
    cdef int open_head(self, int status, Py_ssize_t length, bint keep_alive,
                       int minor) except -1:
        """The head up to the answer's own header lines; length < 0 means chunked (or
        close-delimited in 1.0)."""
        cdef Buffer out = self.out
        if status == 200:
            out.write_bytes(self.ok_lines)
        else:
            out.write_bytes(status_line(status))
            out.write_bytes(self.date_line)
        if length >= 0:
            out.write(b"content-length: ", 16)
            out.write_int(length)
            out.write(b"\r\n", 2)
        elif minor == 1:
            out.write(b"transfer-encoding: chunked\r\n", 28)
        if not keep_alive:
            out.write(b"connection: close\r\n", 19)
        elif minor == 0:
            out.write(b"connection: keep-alive\r\n", 24)
        return 0

    cdef int put_head(self, int status, bytes headers, Py_ssize_t length, bint keep_alive,
                      int minor) except -1:
        """Status line and headers (open_head, then `headers` and the blank line)."""
        cdef Buffer out = self.out
        self.open_head(status, length, keep_alive, minor)
        out.write_bytes(headers)
        out.write(b"\r\n", 2)
        return 0

    cdef void count(self, int route, int status, int64_t duration_ns, size_t bytes_in,
                    size_t bytes_out) noexcept:
        """Account one answered request (route < 0: matched no route)."""
        if self.blk != NULL:
            llmsim_count_request(self.blk, <unsigned>route, status,
                                 <uint64_t>duration_ns if duration_ns > 0 else 0)
            llmsim_add_bytes_in(self.blk, bytes_in)
            llmsim_add_bytes_out(self.blk, bytes_out)

    cdef int write_to(self, transport) except -1:
        """Send the gathered output. A small one leaves as a bytes copy; a large one (a
        stream) is lent to the transport as it is, and when the transport keeps part of it
        for later, that buffer is the transport's: the server takes a new one."""
        cdef Buffer out = self.out
        if out.length - out.start < LEND_MIN:
            transport.write(out.take())
            return 0
        transport.write(PyMemoryView_FromObject(out))
        if transport.get_write_buffer_size():
            self.out = Buffer(OUTPUT_BUFFER_SIZE)
        else:
            out.clear()
        return 0

    cdef int put_body(self, bytes body, Connection conn) except -1:
        """An answer body after its head: copied into the gathered output; or, when it is
        large and `conn` is open, sent at once after the gathered output through its
        transport, as it is (one writev: bytes are immutable, so the transport may keep it
        unsent without a copy)."""
        if PyBytes_GET_SIZE(body) < LEND_MIN or conn.closed:
            return self.out.write_bytes(body)
        conn.handed = True
        conn.transport.writelines((self.out.take(), body))
        return 0


cdef str provider_for(bytes path, dict headers):
    """The API whose error shape a request that matched no route gets."""
    if path.startswith(b"/v1beta/") or b":" in path:
        return errors.GEMINI
    if headers and b"anthropic-version" in headers:
        return errors.ANTHROPIC
    return errors.OPENAI


cdef class Connection:
    """One client connection (uvloop BufferedProtocol interface, duck-typed)."""

    def __cinit__(self, Server server):
        self.server = server
        framing_reset(&self.st)

    def __dealloc__(self):
        if self.lbuf != NULL:
            self.server.give_back(self.lbuf, self.lcap)

    # -- asyncio protocol callbacks ---------------------------------------------------------
    def connection_made(self, transport):
        self.transport = transport
        self.last_active_ns = now_ns()
        self.server.conns.add(self)
        if self.server.blk != NULL:
            llmsim_conn_opened(self.server.blk)

    def connection_lost(self, exc):
        self.closed = True
        self.server.conns.discard(self)
        if self.responder is not None:
            self.responder.cancel()
            self.responder = None
        self.release_buffer()
        self.transport = None
        if self.server.blk != NULL:
            llmsim_conn_closed(self.server.blk)

    def eof_received(self):
        if self.responder is not None:
            return True   # half-closed: let the answer in flight finish
        return False

    def pause_writing(self):
        self.write_paused = True
        if self.responder is not None:
            self.responder.pause()
        else:
            self.transport.pause_reading()

    def resume_writing(self):
        self.write_paused = False
        if self.responder is not None:
            self.responder.resume()
        elif not self.closed:
            self.transport.resume_reading()

    def get_buffer(self, Py_ssize_t sizehint):
        cdef ReadView view = self.server.view
        if self.llen == 0:
            view.ptr = self.server.rbuf
            view.size = READ_BUFFER_SIZE
        else:
            if self.llen == self.lcap:
                self.grow(self.lcap * 2)
            view.ptr = self.lbuf + self.llen
            view.size = self.lcap - self.llen
        return view

    def buffer_updated(self, Py_ssize_t nbytes):
        cdef Server s = self.server
        self.last_active_ns = now_ns()
        if self.llen == 0:
            self.request_start_ns = self.last_active_ns
            self.process(s.rbuf, nbytes, False)
        else:
            self.llen += nbytes
            if self.responder is None:
                self.process(self.lbuf, self.llen, True)
            elif self.llen > BUSY_PENDING_LIMIT:
                self.transport.pause_reading()

    # -- framing and dispatch -----------------------------------------------------------
    cdef int process(self, char *buf, size_t length, bint lent) except -1:
        cdef Server s = self.server
        cdef size_t off = 0, body_len = 0, consumed = 0
        cdef int r = 0
        cdef Head *h = s.head
        while off < length and self.responder is None and not self.closing:
            try:
                r = frame_request(&self.st, buf + off, length - off, h, &s.lim,
                                  &body_len, &consumed)
            except HttpError as e:
                self.refuse(e.status, e.message, self.provider_of(h))
                off = length
                break
            if r != FRAME_COMPLETE:
                if r == FRAME_NEED_BODY:
                    self.await_body(h)
                break
            self.reading_body = False
            self.dispatch(h, buf + off, body_len)
            off += consumed
            self.continue_sent = False
            self.request_start_ns = self.last_active_ns
            framing_reset(&self.st)
        if s.out.length:
            self.flush()
        self.keep_rest(buf, off, length, lent)
        if self.closing and self.responder is None and not self.closed:
            self.transport.close()
        return 0

    cdef int await_body(self, Head *h) except -1:
        """Head complete, body not: refuse early, or invite the body with 100 Continue."""
        self.reading_body = True
        if h.expect_continue and not self.continue_sent:
            self.continue_sent = True
            self.server.out.write(b"HTTP/1.1 100 Continue\r\n\r\n", 25)
        if not h.chunked and h.head_len + <size_t>h.content_length > self.lcap:
            self.want = h.head_len + <size_t>h.content_length
        return 0

    cdef int keep_rest(self, char *buf, size_t off, size_t length, bint lent) except -1:
        """Keep the unframed tail [off, length) for the next read, in a lent block."""
        cdef size_t rest = length - off
        if self.closing or rest == 0:
            if lent:
                self.llen = 0
            self.release_buffer()
            return 0
        if lent:
            if off:
                memmove(self.lbuf, self.lbuf + off, rest)
            self.llen = rest
        else:
            if self.lbuf == NULL:
                self.lbuf = self.server.borrow(&self.lcap)
            if rest > self.lcap:
                self.grow(rest)
            memcpy(self.lbuf, buf + off, rest)
            self.llen = rest
        if self.want > self.lcap:
            self.grow(self.want)
        return 0

    cdef int grow(self, size_t need) except -1:
        cdef Server s = self.server
        cdef size_t limit = s.lim.max_head + 2 * s.lim.max_body + 65536
        cdef size_t cap = max(need, self.lcap * 2)
        cdef char *p
        if cap > limit:
            cap = limit
        if cap <= self.lcap:
            raise HttpError(413, "request body too large")
        if self.lcap == POOL_BLOCK_SIZE:
            p = <char *>malloc(cap)
            if p != NULL:
                memcpy(p, self.lbuf, self.llen)
                s.give_back(self.lbuf, self.lcap)
        else:
            p = <char *>realloc(self.lbuf, cap)
        if p == NULL:
            raise MemoryError()
        self.lbuf = p
        self.lcap = cap
        return 0

    cdef void release_buffer(self) noexcept:
        if self.lbuf != NULL:
            self.server.give_back(self.lbuf, self.lcap)
            self.lbuf = NULL
            self.lcap = 0
        self.llen = 0
        self.want = 0
        self.reading_body = False

    cdef int dispatch(self, Head *h, char *buf, size_t body_len) except -1:
        cdef Server s = self.server
        cdef Router router = s.router
        cdef Request req = Request.__new__(Request)
        cdef PathEntry entry
        cdef bint compiled
        cdef size_t before
        cdef Endpoint ep = router.recall(h.method, h.method_len, h.target, h.path_len)
        req.received_ns = self.last_active_ns
        req.tokens_out = -1
        if ep is not None:
            req.method = router.last_method
            req.path = router.last_path
        else:
            req.method = PyBytes_FromStringAndSize(h.method, h.method_len)
            req.path = PyBytes_FromStringAndSize(h.target, h.path_len)
        req.query = (PyBytes_FromStringAndSize(h.target + h.path_len + 1,
                                               h.target_len - h.path_len - 1)
                     if h.path_len < h.target_len else b"")
        req.headers = kept_headers(h)
        req.body = PyBytes_FromStringAndSize(buf + h.head_len, body_len)
        req.keep_alive = h.keep_alive and not s.draining
        self.minor = h.minor
        self.keep_alive = req.keep_alive
        self.bytes_in = h.head_len + body_len
        if ep is None:
            entry = router.lookup(req.path)
            if entry is None:
                req.route = -1
                return self.answer_error(req.route, provider_for(req.path, req.headers),
                                         errors.ApiError(404, "Invalid URL (%s %s)" % (
                                             req.method.decode("latin-1"),
                                             req.path.decode("latin-1"))))
            ep = router.endpoint(entry, req.method, req.path)
            if ep is None:
                req.route = -1
                return self.answer_error(req.route, entry.provider, errors.ApiError(
                    405, "Method %s not allowed for %s" % (req.method.decode("latin-1"),
                                                           req.path.decode("latin-1")),
                    headers=b"allow: " + entry.allow + b"\r\n"))
        req.route = ep.id
        req.params = router.params
        handler = ep.handler
        compiled = isinstance(handler, Handler)
        before = s.out.length
        try:
            if compiled:
                req.conn = self
                try:
                    result = (<Handler>handler).handle(req)
                except BaseException:
                    s.out.length = before   # a half-written answer (open_answer)
                    raise
                finally:
                    req.conn = None
            else:
                result = handler(req)
        except errors.Disconnect:   # an injected fault: close once earlier answers are out
            self.closing = True
            s.count(req.route, 0, now_ns() - self.last_active_ns, self.bytes_in, 0)  # "other"
            return 0
        except errors.ApiError as e:
            return self.answer_error(req.route, ep.provider, e)
        except Exception:
            log.exception("handler %s failed", ep.name)
            return self.answer_error(req.route, ep.provider, errors.ApiError(
                500, "The server had an error while processing your request."))
        if result is None and compiled:   # written through open_answer
            return self.answered(req.route, s.answer_status, s.out.length - before)
        return self.answer(req, result)

    cdef int answer(self, Request req, tuple result) except -1:
        cdef Delayed d
        cdef int status = result[0]
        cdef bytes headers = result[1]
        body = result[2]
        if type(body) is bytes:
            return self.answer_bytes(req.route, status, headers, <bytes>body)
        if type(body) is Delayed:
            d = <Delayed>body
            if d.delay_ns <= 0 and d.done is None:   # due at once, nothing to call back
                return self.answer_bytes(req.route, status, headers, d.body)
        # A deferred answer (delayed body or event stream). One already due is answered at
        # once into the gathered output; otherwise earlier answers leave first.
        responder = self.server.start_deferred(self, req, status, headers, body)
        if responder.done:
            if not self.keep_alive:
                self.closing = True
            return 0
        if self.server.out.length:
            self.flush()
        self.responder = responder
        return 0

    cdef int answer_bytes(self, int route, int status, bytes headers, bytes body) except -1:
        cdef Server s = self.server
        cdef size_t before = s.out.length
        cdef Py_ssize_t n = PyBytes_GET_SIZE(body)
        cdef size_t sent
        s.put_head(status, headers, n, self.keep_alive, self.minor)
        sent = s.out.length - before + n
        s.put_body(body, self)
        return self.answered(route, status, sent)

    cdef int answered(self, int route, int status, size_t sent) except -1:
        """An answer of `sent` bytes is out or in the output: account for it."""
        cdef Server s = self.server
        if not self.keep_alive:
            self.closing = True
        if s.blk != NULL:
            s.count(route, status, now_ns() - self.last_active_ns, self.bytes_in, sent)
        return 0

    cdef str provider_of(self, Head *h):
        """The API a refused request belongs to, when its head was read (else OpenAI's)."""
        if h.head_len == 0:
            return errors.OPENAI
        cdef bytes path = PyBytes_FromStringAndSize(h.target, h.path_len)
        cdef PathEntry entry = self.server.router.lookup(path)
        if entry is not None:
            return entry.provider
        return provider_for(path, kept_headers(h))

    cdef int answer_error(self, int route, str provider, err) except -1:
        """An ApiError as `provider` sends it: its JSON shape and its request-id headers."""
        cdef str rid = "req_" + hexstr(24).decode()
        cdef bytes body = errors.render(provider, err, rid)
        cdef bytes headers = (b"content-type: application/json\r\n" + err.headers
                              + errors.id_headers(provider, rid))
        return self.answer_bytes(route, err.status, headers, body)

    cdef int refuse(self, int status, str message, str provider) except -1:
        """Answer a request that could not be framed, then close."""
        cdef Server s = self.server
        self.keep_alive = False
        self.minor = 1
        self.bytes_in = 0
        if s.blk != NULL:
            llmsim_parse_error(s.blk)
        return self.answer_error(-1, provider, errors.ApiError(status, message))

    cdef int flush(self) except -1:
        """Out with the gathered output (also a deferred answer's, llmsim.core.stream):
        straight to the socket while the transport holds none of this connection's output,
        else through the transport."""
        cdef Buffer out = self.server.out
        cdef Py_ssize_t n = out.length - out.start
        cdef ssize_t sent
        cdef int fd
        if self.closed:
            out.clear()
            return 0
        if self.handed:
            if self.transport.get_write_buffer_size():
                return self.server.write_to(self.transport)   # behind what it holds
            self.handed = False
        if self.sock is None:
            sock = self.transport.get_extra_info("socket")
            self.sock = sock if sock is not None else False
        if self.sock is False:
            self.handed = True
            return self.server.write_to(self.transport)
        fd = self.sock.fileno()   # the transport's own pseudo-socket: -1 once it closes
        if fd < 0:   # the transport closed its socket; connection_lost follows
            out.clear()
            return 0
        sent = send(fd, out.data + out.start, n, MSG_DONTWAIT | MSG_NOSIGNAL)
        if sent == n:
            out.clear()
            return 0
        if sent > 0:
            out.start += sent
        # the socket is full, or an error the transport will meet and report
        self.handed = True
        return self.server.write_to(self.transport)

    # -- used by deferred answers (llmsim.core.stream) -------------------------------------
    cdef int finished(self) except -1:
        """The deferred answer is complete: go on with pipelined requests, if any."""
        self.responder = None
        if self.closed:
            return 0
        if not self.keep_alive:
            self.closing = True
            self.transport.close()
            return 0
        self.last_active_ns = now_ns()
        self.request_start_ns = self.last_active_ns
        if self.llen:
            self.transport.resume_reading()
            self.process(self.lbuf, self.llen, True)
        return 0

    cdef void close(self) noexcept:
        if not self.closed and self.transport is not None:
            self.closing = True
            self.transport.close()

    cdef int check_timeouts(self, int64_t now) except -1:
        cdef Server s = self.server
        if self.closed or self.responder is not None:
            return 0
        if self.llen == 0:
            if s.keepalive_timeout_ns and now - self.last_active_ns > s.keepalive_timeout_ns:
                self.close()
            return 0
        if not self.reading_body:
            # Still reading the head: slow-header (slowloris) timeout from the first byte.
            if s.header_timeout_ns and now - self.request_start_ns > s.header_timeout_ns:
                self.refuse_timeout()
        elif s.body_timeout_ns and now - self.last_active_ns > s.body_timeout_ns:
            self.refuse_timeout()
        return 0

    cdef void refuse_timeout(self) noexcept:
        try:
            self.release_buffer()
            self.refuse(408, "timed out reading the request", errors.OPENAI)
            self.flush()
            self.close()
        except Exception:
            log.exception("closing a timed-out connection failed")
