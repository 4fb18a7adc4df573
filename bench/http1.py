"""A minimal HTTP/1.1 client over one keep-alive socket, with the exact bytes on the wire.

The bench needs exact head and body sizes and a client cheap enough to drive a server
under valgrind; http.client hides the head bytes, so this speaks the protocol itself.
Responses carry Content-Length or a chunked body (a stream read whole, as wrk reads it).
"""
import socket
import time


class ProtocolError(Exception):
    pass


def request_bytes(method, path, body=b"", content_type=None, host="127.0.0.1", headers=()):
    """The request's bytes; headers: extra (name, value) pairs."""
    head = [f"{method} {path} HTTP/1.1", f"Host: {host}", *(f"{n}: {v}" for n, v in headers)]
    if body and content_type:
        head.append(f"Content-Type: {content_type}")
    if body or method in ("POST", "PUT", "PATCH"):
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class Connection:
    """One keep-alive connection; request() sends raw request bytes, returns the response."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        self.sock.close()

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ProtocolError("connection closed by server")
        self.buf += data

    def request(self, raw):
        """Send raw; return (status, head bytes, body bytes, header dict with lower-case names)."""
        self.sock.sendall(raw)
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        end = self.buf.index(b"\r\n\r\n") + 4
        head, self.buf = self.buf[:end], self.buf[end:]
        lines = head[:-4].decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding") == "chunked":
            return status, head, self._chunked(), headers
        if "content-length" not in headers:
            raise ProtocolError(f"response without Content-Length: {lines[0]!r}")
        length = int(headers["content-length"])
        while len(self.buf) < length:
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, head, body, headers


    def _chunked(self):
        """The de-chunked body of a chunked response (trailers are not expected)."""
        body = b""
        while True:
            while b"\r\n" not in self.buf:
                self._fill()
            line, self.buf = self.buf.split(b"\r\n", 1)
            size = int(line.split(b";")[0], 16)
            while len(self.buf) < size + 2:
                self._fill()
            body, self.buf = body + self.buf[:size], self.buf[size + 2:]
            if size == 0:
                return body


def fetch(port, raw, timeout=10.0):
    """One request on a fresh connection."""
    conn = Connection(port, timeout)
    try:
        return conn.request(raw)
    finally:
        conn.close()


def wait_ok(port, raw, deadline, is_alive, retry_s=0.0005):
    """Poll until a request answers 200; return the monotonic time it did.

    Retries fast on a refused or reset connection; raises TimeoutError at the deadline and
    RuntimeError as soon as is_alive() says the server process died.
    """
    while True:
        try:
            status = fetch(port, raw, timeout=max(0.05, deadline - time.monotonic()))[0]
            if status == 200:
                return time.monotonic()
        except (ConnectionError, ProtocolError, socket.timeout):
            pass
        if not is_alive():
            raise RuntimeError("server exited before answering")
        if time.monotonic() > deadline:
            raise TimeoutError("server did not answer 200 before the deadline")
        time.sleep(retry_s)
