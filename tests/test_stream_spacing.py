"""Catching up after a late write keeps the planned spacing (lower bounds only).

A worker that could not run for a while (here: stopped with SIGSTOP, as a busy machine
would hold it) sent what fell due meanwhile late and the next token at its planned time,
so the gap before it came out short. Now the next token leaves no sooner than its planned
gap less 1 ms after the late write; a worker a whole gap or more behind sends what is due
in one write and spaces the next from there. The worker's own ITL histogram (/metrics),
which times its writes, shows it: no gap shorter than that.
"""

import os
import re
import signal
import socket
import time

import httpx
import pytest

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


@pytest.mark.parametrize("stall", [1.5, 2.5], ids=["half-a-gap-late", "gaps-behind"])
def test_a_stream_served_late_catches_up_without_undercutting_its_gaps(server, stall):
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
        os.kill(worker, signal.SIGSTOP)   # the next token(s) leave late
        try:
            time.sleep(stall * ITL_NS / 1e9)
        finally:
            os.kill(worker, signal.SIGCONT)
        while not data.endswith(b"\r\n0\r\n\r\n"):
            got = sock.recv(65536)
            assert got, "connection closed mid-stream"
            data += got
    assert data.startswith(b"HTTP/1.1 200 ")
    assert data.count(CONTENT) == N_TOKENS
    buckets = itl_buckets(srv)
    assert buckets[-1][1] > 0   # writes after the first (late tokens may share one)
    # none sooner than its planned gap less 1 ms after the write before it
    short = [n for upper, n in buckets if upper < ITL_NS - CATCH_UP_NS]
    assert short[-1] == 0
