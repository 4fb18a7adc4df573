"""The stream scheduler's wake source: one timerfd per worker, closed when the worker stops,
and sub-millisecond timing that is never undercut (lower bounds only)."""

import asyncio
import os
import socket
import time

import pytest
import uvloop

from conftest import wait_for
from llmsim.core import stream

TIMERFD = "anon_inode:[timerfd]"
TTFT_NS, ITL_NS = 1_300_000, 300_000
CONTENT = b'"delta":{"content":"'


def timer_fds(pid):
    """The timerfd descriptors process `pid` holds."""
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == TIMERFD:
                out.append(int(fd))
        except FileNotFoundError:
            pass
    return out


@pytest.fixture
def loop():
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    stream.stop()
    asyncio.set_event_loop(None)
    loop.close()


def test_scheduler_wakes_through_one_timerfd_that_stop_closes(loop):
    sched = stream.scheduler()
    fd = sched.fileno
    assert os.readlink(f"/proc/self/fd/{fd}") == TIMERFD
    assert stream.scheduler() is sched        # one wake source for every stream
    stream.stop()
    assert sched.fileno == -1
    assert fd not in timer_fds(os.getpid())
    sched.close()                             # closing twice is harmless
    again = stream.scheduler()                # a later stream gets a new one
    assert again is not sched and again.fileno >= 0


def test_closing_after_the_loop_closed_still_frees_the_descriptor():
    loop = uvloop.new_event_loop()
    sched = stream.Scheduler(loop)
    fd = sched.fileno
    loop.close()
    sched.close()
    assert fd not in timer_fds(os.getpid())


def chat_request(n_tokens):
    body = (b'{"model":"gpt-4o-mini","stream":true,"max_tokens":%d,'
            b'"messages":[{"role":"user","content":"go"}]}' % n_tokens)
    return (b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\n"
            b"Content-Type: application/json\r\nx-llmsim-latency: tokens=%d\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (n_tokens, len(body), body))


def read_stream(sock, deadline):
    """(monotonic ns of each read holding content deltas, deltas in it) to the last chunk."""
    reads, data = [], b""
    while not data.endswith(b"\r\n0\r\n\r\n"):
        assert time.monotonic() < deadline, "stream did not end"
        got = sock.recv(65536)
        assert got, "connection closed mid-stream"
        now = time.monotonic_ns()
        data += got
        if got.count(CONTENT):
            reads.append((now, got.count(CONTENT)))
    assert data.startswith(b"HTTP/1.1 200 ")
    return reads


def test_sub_millisecond_ttft_and_gaps_are_never_undercut(server):
    srv = server("--workers", "1", "--ttft", "1.3ms", "--itl", "0.3ms")
    n_tokens = 8
    deadline = time.monotonic() + 30
    with socket.create_connection(("127.0.0.1", srv.port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(20):
            sent = time.monotonic_ns()
            sock.sendall(chat_request(n_tokens))
            reads = read_stream(sock, deadline)
            assert sum(n for _, n in reads) == n_tokens
            assert reads[0][0] - sent >= TTFT_NS
            # the k-th delta (0-based) is never read before TTFT + k gaps
            seen = 0
            for t, n in reads:
                seen += n
                assert t - sent >= TTFT_NS + (seen - 1) * ITL_NS


def test_a_worker_has_one_timer_for_all_its_streams(server):
    srv = server("--workers", "1", "--ttft", "20ms", "--itl", "200ms")
    (worker,) = wait_for(lambda: list(srv.workers()), 10, "the worker")
    socks = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(3)]
    try:
        for s in socks:
            s.sendall(chat_request(20))
        for s in socks:
            assert s.recv(65536).startswith(b"HTTP/1.1 200 ")
        assert len(timer_fds(worker)) == 1
    finally:
        for s in socks:
            s.close()
