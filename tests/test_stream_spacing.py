"""Catching up after a late write keeps the planned spacing (lower bounds only).

A worker that could not run for a while (here: stopped with SIGSTOP for half a gap past a
token's time, as a busy machine would hold it) sent that token late and the next one at
its planned time, so the gap between them came out half a gap short. Now the next one
leaves no sooner than its planned gap less 1 ms after the late write. The worker's own ITL
histogram (/metrics), which times its writes, shows it: no gap shorter than that (had
the worker resumed a whole gap late, it would have sent both tokens in one write and
spaced the next).
"""

import os
import re
import signal
import socket
import time

import httpx

from conftest import wait_for
from test_stream_timer import CONTENT, chat_request

ITL_NS = 100_000_000
CATCH_UP_NS = 1_000_000
N_TOKENS = 8
BUCKET = re.compile(rb'^llmsim_itl_seconds_bucket\{le="([^"]+)"\} (\d+)', re.M)


def itl_buckets(srv):
    """(upper bound in ns, cumulative count) of the node's ITL histogram."""
    text = httpx.get(srv.base_url + "/metrics").content
    return [(float(le) * 1e9, int(n)) for le, n in BUCKET.findall(text)]


def test_a_stream_served_late_catches_up_without_undercutting_its_gaps(server):
    srv = server("--workers", "1", "--ttft", "20ms", "--itl", "100ms")
    (worker,) = wait_for(lambda: list(srv.workers()), 10, "the worker")
    with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(chat_request(N_TOKENS))
        data = b""
        while data.count(CONTENT) == 0:
            got = sock.recv(65536)
            assert got, "connection closed before the first token"
            data += got
        os.kill(worker, signal.SIGSTOP)   # the next token leaves ~half a gap late
        try:
            time.sleep(1.5 * ITL_NS / 1e9)
        finally:
            os.kill(worker, signal.SIGCONT)
        while not data.endswith(b"\r\n0\r\n\r\n"):
            got = sock.recv(65536)
            assert got, "connection closed mid-stream"
            data += got
    assert data.startswith(b"HTTP/1.1 200 ")
    assert data.count(CONTENT) == N_TOKENS
    buckets = itl_buckets(srv)
    assert buckets[-1][1] > 0   # writes after the first (fewer than the tokens if the
                                # worker resumed a whole gap late: then it sends both)
    # none sooner than its planned gap less 1 ms after the write before it
    short = [n for upper, n in buckets if upper < ITL_NS - CATCH_UP_NS]
    assert short[-1] == 0
