"""The bench's streaming client counts content deltas and finds the end of a stream wherever
the socket reads split the bytes; its histograms merge across processes; its wrk scenarios
are answered by llmsim, sent by wrk with their extra headers, and served by nginx at their
path."""
import asyncio
import http.server
import json
import os
import random
import shutil
import sys
import threading

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "bench"))
import hist  # noqa: E402
import http1  # noqa: E402
import nginx  # noqa: E402
import sseclient  # noqa: E402
import wrk  # noqa: E402
from scenarios import SCENARIOS  # noqa: E402

N_DELTAS = 50


def _chunk(data):
    return b"%x\r\n%b\r\n" % (len(data), data)


def _event(delta):
    choice = {"index": 0, "delta": delta, "finish_reason": None}
    return b"data: " + json.dumps({"choices": [choice]}, separators=(",", ":")).encode() + \
        b"\n\n"


def _wire():
    """One streamed chat answer as llmsim frames it: role and first token in one chunk,
    a chunk per token, the finish chunk with [DONE], the last chunk."""
    body = _chunk(_event({"role": "assistant", "content": ""}) + _event({"content": "a"}))
    for i in range(N_DELTAS - 1):
        body += _chunk(_event({"content": f' "w{i}'}))
    body += _chunk(_event({}) + b"data: [DONE]\n\n") + b"0\r\n\r\n"
    return (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n"
            b"content-type: text/event-stream\r\n\r\n") + body


class _Transport:
    def __init__(self):
        self.sent = 0

    def write(self, data):
        self.sent += 1

    def close(self):
        raise AssertionError("the client closed a healthy connection")


@pytest.fixture
def client():
    loop = asyncio.new_event_loop()
    job = {"request": "GET / HTTP/1.1\r\n\r\n", "ttft_ns": 0, "itl_ns": 0,
           "events": N_DELTAS, "w0_ns": 0, "w1_ns": 1 << 62}
    yield sseclient.Client(job, loop)
    loop.close()


def _splits(rng, size, trial):
    if trial == 0:
        return list(range(1, size))  # byte by byte
    if trial == 1:
        return list(range(size - 30, size))  # every split near the end
    return sorted(rng.sample(range(1, size), rng.choice([0, 1, 2, 7, 60, 500])))


def test_streams_counted_at_any_split(client):
    wire = _wire()
    conn = sseclient.StreamConn(client)
    transport = _Transport()
    conn.connection_made(transport)
    conn.send(0)
    rng = random.Random(4)
    trials = 400
    for trial in range(trials):
        prev = 0
        for cut in _splits(rng, len(wire), trial) + [len(wire)]:
            conn.data_received(wire[prev:cut])
            prev = cut
    assert client.errors == {}
    assert client.streams_ok == trials
    assert client.events == trials * N_DELTAS
    assert transport.sent == trials + 1  # the next request after every [DONE]


def test_short_stream_and_bad_status_are_errors(client):
    wire = _wire()
    cut = wire.index(b'"w3')
    short = wire[:wire.rindex(b"\r\n", 0, cut) + 2] + \
        _chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n"
    conn = sseclient.StreamConn(client)
    conn.connection_made(_Transport())
    conn.send(0)
    conn.data_received(short)
    assert client.errors == {f"4 content deltas instead of {N_DELTAS}": 1}
    closed = []
    conn.transport.close = lambda: closed.append(True)
    conn.data_received(b"HTTP/1.1 503 Service Unavailable\r\n\r\n")
    assert client.errors["status 503"] == 1 and closed


def test_histogram_percentiles_and_merge():
    a, b = hist.Histogram(), hist.Histogram()
    for v in range(1000):
        a.add(v * 1000)  # 0 .. 999 µs
    b.add(-20_000_000, 10)
    b.add(5_000_000_000)  # coarse range
    b.add(-10**10)  # underflow
    b.add(10**12)  # overflow
    merged = hist.Histogram()
    for h in (a, b):
        merged.merge_json(json.loads(json.dumps(h.to_json())))
    assert merged.total() == 1013
    assert merged.percentile(0.5) == pytest.approx(495_000, abs=5_000)
    assert merged.percentile(1 / 1013) == float("-inf")
    assert merged.percentile(5 / 1013) == pytest.approx(-20_000_000, abs=5_000)
    assert merged.percentile(1012 / 1013) == pytest.approx(5_000_000_000, abs=500_000)
    assert merged.percentile(1.0) == float("inf")
    assert hist.Histogram().percentile(0.5) is None


def test_every_scenario_is_answered_and_compared_with_an_openai_one(server):
    srv = server("--workers", "1", "--no-latency")
    names = {s.name: s for s in SCENARIOS}
    for s in SCENARIOS:
        status, _, body, _ = http1.fetch(srv.port, s.request())
        assert status == 200, (s.name, body[:200])
        if s.against:
            base = names[s.against]
            assert base.path.startswith("/v1/") and not base.against   # an OpenAI scenario
            assert (b'"stream":true' in base.body) == ("stream" in s.name)
            assert ("embed" in base.path) == ("embed" in s.path)


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen = []

    def do_POST(self):
        self.rfile.read(int(self.headers["content-length"]))
        _Recorder.seen.append((self.path, dict(self.headers)))
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_wrk_sends_the_scenario_request_with_its_headers(tmp_path):
    scenario = next(s for s in SCENARIOS if s.name == "anthropic_stream")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        r = wrk.run(httpd.server_address[1], scenario, 1, 1, str(tmp_path / "wrk.txt"))
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert r["requests"] > 0 and not r["errors"]
    path, headers = _Recorder.seen[0]
    assert path == scenario.path
    assert headers["anthropic-version"] == "2023-06-01"
    assert headers["Content-Type"] == "application/json"


def test_nginx_serves_a_scenario_at_its_path_without_the_query(tmp_path):
    scenario = next(s for s in SCENARIOS if "?" in s.path)
    conf = nginx.write_config(str(tmp_path), 1, 1, scenario.path, "text/event-stream", b"x")
    with open(conf) as f:
        text = f.read()
    assert f"location = {scenario.path.partition('?')[0]} {{" in text and "?" not in text
