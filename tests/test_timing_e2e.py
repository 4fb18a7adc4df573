"""Simulated timing end to end: the openai SDK against the real server (lower bounds only)."""

import re
import socket
import time

import httpx
import openai
import pytest

from conftest import wait_for

TTFT, ITL = 0.150, 0.010


@pytest.fixture
def timed(server):
    return server("--workers", "1", "--ttft", "150ms", "--itl", "10ms")


def client(srv):
    return openai.OpenAI(base_url=srv.base_url + "/v1", api_key="x", max_retries=0)


def test_stream_never_undercuts_ttft_or_the_gaps_and_usage_matches(timed):
    start = time.monotonic()
    chunks = client(timed).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Count for me."}],
        max_tokens=12, stream=True, stream_options={"include_usage": True})
    first = None
    tokens = 0
    usage = None
    for chunk in chunks:
        if chunk.choices and chunk.choices[0].delta.content:
            tokens += 1
            if first is None:
                first = time.monotonic() - start
        if chunk.usage is not None:
            usage = chunk.usage
    total = time.monotonic() - start
    assert tokens >= 1 and usage is not None
    assert usage.completion_tokens == tokens
    assert first >= TTFT
    assert total >= TTFT + (tokens - 1) * ITL


def test_non_streamed_answer_waits_for_the_whole_generation(timed):
    start = time.monotonic()
    answer = client(timed).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello"}], max_tokens=8)
    elapsed = time.monotonic() - start
    n = answer.usage.completion_tokens
    assert n >= 1
    assert elapsed >= TTFT + (n - 1) * ITL


def open_streams(srv):
    text = httpx.get(srv.base_url + "/metrics").text
    return int(re.search(r"^llmsim_open_streams (\d+)", text, re.M).group(1))


def test_disconnect_mid_stream_frees_the_stream(server):
    srv = server("--workers", "1", "--ttft", "10ms", "--itl", "200ms")
    body = (b'{"model":"gpt-4o-mini","stream":true,"max_tokens":50,'
            b'"messages":[{"role":"user","content":"go"}]}')
    with socket.create_connection(("127.0.0.1", srv.port)) as s:
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\n"
                  b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                  % (len(body), body))
        assert s.recv(65536).startswith(b"HTTP/1.1 200 ")
        wait_for(lambda: open_streams(srv) == 1, 10, "the stream to be open")
    wait_for(lambda: open_streams(srv) == 0, 10, "the stream to be freed after disconnect")
    assert httpx.get(srv.base_url + "/health").status_code == 200


def test_term_lets_an_open_stream_finish(server):
    srv = server("--workers", "1", "--ttft", "10ms", "--itl", "40ms")
    stream = client(srv).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "go"}], max_tokens=20,
        stream=True)
    chunks = iter(stream)
    first = next(chunks)
    assert first.choices[0].delta.role == "assistant"
    srv.proc.terminate()   # graceful: the stream in flight must still complete
    rest = list(chunks)
    assert rest and rest[-1].choices[0].finish_reason in ("stop", "length")
    assert srv.wait_exit() == 0
