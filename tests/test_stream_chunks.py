"""Streams leave as HTTP chunks framed in place in the worker's output buffer
(csrc/llmsim_chunk.h): every size line is the shortest hex form and matches its data, whether
the chunk shares the buffer with earlier answers (pipelining) or goes out alone from a timer
wake, and real clients read the same bytes a strict raw-socket parser does."""

import asyncio
import json
import re
import socket
import time

import httpx
import pytest

from conftest import wait_for
from llmsim import config, worker
from llmsim.core import stream
from llmsim.sim.tokens import count

CHAT = "/v1/chat/completions"
_VARYING = re.compile(rb'"(?:id|created)":(?:"[^"]*"|\d+)')


def chat_body(max_tokens, stream=True, **extra):
    return json.dumps({"model": "gpt-4o-mini", "seed": 7, "max_tokens": max_tokens,
                       "stream": stream, "messages": [{"role": "user", "content": "Hi"}],
                       **extra}).encode()


def post(path, body, *headers):
    return (b"POST %s HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n%s"
            b"Content-Length: %d\r\n\r\n%s" % (path.encode(), b"".join(headers), len(body), body))


def tokens(n):
    """The header that makes an answer run to its cap of n tokens."""
    return b"x-llmsim-latency: tokens=%d\r\n" % n


CLOSE = b"Connection: close\r\n"
HEALTH_CLOSE = b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"


def read_all(port, data, timeout=30.0):
    """Send `data` in one write; everything the server sends until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = []
        deadline = time.monotonic() + timeout
        while (got := s.recv(65536)):
            out.append(got)
            assert time.monotonic() < deadline, "no close"
        return b"".join(out)


def dechunk(data):
    """(chunks, rest): the chunked body at the start of `data`, parsed strictly."""
    chunks, pos = [], 0
    while True:
        eol = data.index(b"\r\n", pos)
        line = data[pos:eol]
        assert re.fullmatch(rb"0|[1-9a-f][0-9a-f]*", line), line
        size, pos = int(line, 16), eol + 2
        if size == 0:
            assert data[pos:pos + 2] == b"\r\n"
            return chunks, data[pos + 2:]
        assert len(data) >= pos + size + 2, "short chunk"
        assert data[pos + size:pos + size + 2] == b"\r\n", "chunk size does not match its data"
        chunks.append(data[pos:pos + size])
        pos += size + 2


def responses(data):
    """[(status, headers, chunks or None, body)] of every response in `data`."""
    out = []
    while data:
        head, data = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:])
        if headers.get("transfer-encoding") == "chunked":
            chunks, data = dechunk(data)
            out.append((int(lines[0].split()[1]), headers, chunks, b"".join(chunks)))
        else:
            n = int(headers["content-length"])
            out.append((int(lines[0].split()[1]), headers, None, data[:n]))
            data = data[n:]
    return out


def open_streams(srv):
    text = httpx.get(srv.base_url + "/metrics").text
    return int(re.search(r"^llmsim_open_streams (\d+)", text, re.M).group(1))


def events(body):
    """The SSE events of a body; each chunk must hold whole events."""
    assert body.endswith(b"\n\n")
    return body.split(b"\n\n")[:-1]


@pytest.fixture
def fast(server):
    """A --no-latency server: streams are answered inline, gathered with other answers."""
    return server("--workers", "1", "--no-latency", "--seed", "7")


def test_stream_chunks_are_canonical_and_httpx_reads_the_same_bytes(fast):
    (status, headers, chunks, body), = responses(read_all(fast.port, post(CHAT, chat_body(50),
                                                                          tokens(50), CLOSE)))
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    assert len(chunks) == 1   # latency off: every event is due at once
    frames = events(body)
    assert frames[-1] == b"data: [DONE]" and len(frames) == 53
    with httpx.stream("POST", fast.base_url + CHAT, content=chat_body(50),
                      headers={"content-type": "application/json",
                               "x-llmsim-latency": "tokens=50"}) as r:
        assert r.headers["transfer-encoding"] == "chunked"
        seen = b"".join(r.iter_raw())
    assert _VARYING.sub(b"", seen) == _VARYING.sub(b"", body)


@pytest.mark.parametrize("n", [1, 2, 50, 700])
def test_a_chunk_after_earlier_answers_in_the_same_write(fast, n):
    """Pipelined: a large answer, then the stream, then more; all framed right, in order.
    (A short chunk moves itself up to the size line, a long one the answers before it.)"""
    big = post(CHAT, chat_body(1500, stream=False), tokens(1500))
    health = b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n"
    streamed = post(CHAT, chat_body(n), tokens(n))
    got = responses(read_all(fast.port, big + health + streamed + streamed + HEALTH_CLOSE))
    assert [r[0] for r in got] == [200] * 5
    assert [r[2] is not None for r in got] == [False, False, True, True, False]
    assert json.loads(got[0][3])["usage"]["completion_tokens"] == 1500
    assert got[4][3] == got[1][3]
    for _, _, chunks, body in got[2:4]:
        assert len(events(body)) == n + 3
        assert all(c.endswith(b"\n\n") for c in chunks)
    assert _VARYING.sub(b"", got[2][3]) == _VARYING.sub(b"", got[3][3])


class HoldingTransport:
    """A transport that sends nothing: it keeps what it is given, as a transport keeps what
    the socket did not take (a view of a lent buffer is read only when it is sent)."""

    def __init__(self):
        self.held = []

    def write(self, data):
        self.held.append(data)

    def get_write_buffer_size(self):
        return sum(len(d) for d in self.held)

    def get_extra_info(self, name, default=None):
        return default   # no socket: every answer goes through write()

    def sent(self):
        return b"".join(bytes(d) for d in self.held)

    def pause_reading(self):
        pass

    def resume_reading(self):
        pass

    def close(self):
        pass


def feed(conn, data):
    """One read of `data`, as the loop does it."""
    with memoryview(conn.get_buffer(len(data))) as view:
        view[:len(data)] = data
    conn.buffer_updated(len(data))


def test_output_the_transport_keeps_is_never_written_over():
    """Answers lent to a transport that keeps them stay intact while the next requests'
    answers are gathered (in-process: the worker's server over a holding transport)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        srv = worker.build(config.load(environ={}, overrides={"no_latency": True, "seed": 7}),
                           0, None)
        conn, t = srv.protocol_factory(), HoldingTransport()
        conn.connection_made(t)
        for n in (400, 300, 2, 200):
            feed(conn, post(CHAT, chat_body(n), tokens(n)))
        got = responses(t.sent())
        assert len(t.held) == 4 and sum(type(d) is memoryview for d in t.held) == 3
        assert [len(events(r[3])) for r in got] == [403, 303, 5, 203]
        alone = HoldingTransport()
        conn = srv.protocol_factory()
        conn.connection_made(alone)
        feed(conn, post(CHAT, chat_body(400), tokens(400)))
        assert _VARYING.sub(b"", responses(alone.sent())[0][3]) == _VARYING.sub(b"", got[0][3])
    finally:
        stream.stop()
        loop.close()
        asyncio.set_event_loop(None)


def test_timed_chunks_out_of_timer_wakes(server):
    """Latency on: events leave in several chunks from the scheduler, each framed alone,
    and together say what the inline stream says."""
    srv = server("--workers", "1", "--ttft", "3ms", "--itl", "2ms")
    timed = responses(read_all(srv.port, post(CHAT, chat_body(20), tokens(20), CLOSE)))
    (_, _, chunks, body), = timed
    assert len(chunks) > 2
    assert all(c.endswith(b"\n\n") for c in chunks)
    assert len(events(body)) == 23
    with httpx.stream("POST", srv.base_url + CHAT, content=chat_body(20),
                      headers={"content-type": "application/json",
                               "x-llmsim-latency": "tokens=20"}) as r:
        seen = b"".join(r.iter_raw())
    assert _VARYING.sub(b"", seen) == _VARYING.sub(b"", body)


@pytest.mark.parametrize("path, body, headers", [
    ("/v1/messages", b'{"model":"claude-haiku-4-5","max_tokens":40,"stream":true,'
                     b'"messages":[{"role":"user","content":"Hi"}]}',
     b"anthropic-version: 2023-06-01\r\n"),
    ("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
     b'{"contents":[{"role":"user","parts":[{"text":"Hi"}]}],'
     b'"generationConfig":{"maxOutputTokens":40}}', b""),
    ("/v1beta/models/gemini-2.5-flash:streamGenerateContent",
     b'{"contents":[{"role":"user","parts":[{"text":"Hi"}]}],'
     b'"generationConfig":{"maxOutputTokens":40}}', b""),
], ids=["anthropic", "gemini-sse", "gemini-array"])
def test_other_providers_streams_are_framed_the_same_way(fast, path, body, headers):
    got = responses(read_all(fast.port, post(path, body, headers) + post(path, body, headers)
                             + HEALTH_CLOSE))
    assert [r[0] for r in got] == [200, 200, 200]
    for _, _, chunks, data in got[:2]:
        assert len(chunks) == 1 and data
    with httpx.stream("POST", fast.base_url + path, content=body,
                      headers={"content-type": "application/json",
                               **dict([headers.decode().strip().split(": ")] if headers
                                      else [])}) as r:
        seen = b"".join(r.iter_raw())
    ids = re.compile(rb'"(?:id|responseId)":"[^"]*"')
    assert ids.sub(b"", seen) == ids.sub(b"", got[0][3])


def test_a_slow_reader_pauses_the_stream_then_gets_all_of_it(server):
    """Back-pressure: a client that does not read for a while (a small receive window) stops
    the stream at the transport's high-water mark; once it reads, the rest catches up in
    large chunks, framed as ever, and the stream is freed."""
    srv = server("--workers", "1", "--ttft", "1ms", "--itl", "0.1ms")
    n = 16384   # the model's cap: ~4.5 MB, more than the kernel buffers for one socket
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(30)
        s.connect(("127.0.0.1", srv.port))
        s.sendall(post(CHAT, chat_body(n, stream_options={"include_usage": True}), tokens(n),
                       CLOSE))
        time.sleep(1.5)   # the slow reader: every token falls due before it reads one
        data = []
        while (got := s.recv(65536)):
            data.append(got)
    (_, _, chunks, body), = responses(b"".join(data))
    frames = [json.loads(f[6:]) for f in events(body)[:-1]]
    assert frames[-1]["usage"]["completion_tokens"] == n
    text = "".join(f["choices"][0]["delta"]["content"] for f in frames[1:-2])
    assert count(text) == n
    assert max(c.count(b"\n\n") for c in chunks) > 100   # caught up after the pause
    wait_for(lambda: open_streams(srv) == 0, 10, "the stream to be freed")


def test_a_client_gone_mid_stream_cancels_it(server):
    srv = server("--workers", "1", "--ttft", "1ms", "--itl", "50ms")
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(post(CHAT, chat_body(200), tokens(200)))
        assert s.recv(65536).startswith(b"HTTP/1.1 200 ")
        wait_for(lambda: open_streams(srv) == 1, 10, "the stream to be open")
    wait_for(lambda: open_streams(srv) == 0, 10, "the stream to be freed after disconnect")
