"""The HTTP/1.1 core end to end: the real prefork server on loopback, raw sockets and httpx."""

import json
import re
import random
import socket
import threading
import time

import httpx
import psutil
import pytest


def exchange(port, data, *, expect_close=True, timeout=5.0):
    """Send raw bytes, read until the server closes (or `timeout`), return what came back."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        if not expect_close:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def read_responses(sock, count, timeout=5.0):
    """Read exactly `count` Content-Length-framed responses from `sock`."""
    buf = b""
    out = []
    sock.settimeout(timeout)
    while len(out) < count:
        head_end = buf.find(b"\r\n\r\n")
        if head_end >= 0:
            head = buf[:head_end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            if len(buf) >= head_end + 4 + length:
                status = int(head.split(" ", 2)[1])
                out.append((status, head, buf[head_end + 4:head_end + 4 + length]))
                buf = buf[head_end + 4 + length:]
                continue
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed after {len(out)} of {count} answers")
        buf += chunk
    return out, buf


@pytest.fixture
def srv(server):
    return server("--workers", "2")


def worker_pids(master_pid):
    return sorted(p.pid for p in psutil.Process(master_pid).children())


def test_health_version_and_404_shapes(srv):
    with httpx.Client(base_url=srv.base_url) as client:
        assert client.get("/health").json() == {"status": "ok"}
        version = client.get("/version").json()
        assert version["name"] == "llmsim" and version["version"]
        r = client.get("/v1/nothing-here")
        assert r.status_code == 404
        err = r.json()["error"]
        assert err["type"] == "invalid_request_error" and "GET /v1/nothing-here" in err["message"]
        assert r.headers["x-request-id"].startswith("req_")
        assert r.headers["openai-version"] == "2020-10-01"
        bad = client.post("/v1/chat/completions", content=b"{nope")
        assert bad.status_code == 400 and bad.headers["x-request-id"].startswith("req_")
        r = client.delete("/health")
        assert r.status_code == 405 and r.headers["allow"] == "GET"
        assert "date" in r.headers


def test_pipelined_requests_answered_in_order_in_one_write(srv):
    paths = ["/health", "/version", "/nope", "/health", "/version"] * 4
    data = b"".join(b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % p.encode() for p in paths)
    with socket.create_connection(("127.0.0.1", srv.port)) as s:
        s.sendall(data)
        answers, rest = read_responses(s, len(paths))
    assert rest == b""
    expected = {"/health": 200, "/version": 200, "/nope": 404}
    assert [a[0] for a in answers] == [expected[p] for p in paths]
    assert all(json.loads(a[2]) for a in answers)


def test_pipelined_answers_stay_in_order_when_the_socket_fills(srv):
    """A client that does not read while it sends fills the server's socket: answers the
    socket did not take wait in the transport, and every later answer queues behind them."""
    paths = ["/v1/models", "/health", "/v1/models/gpt-4o", "/nope"] * 300
    data = b"".join(b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % p.encode() for p in paths)
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", srv.port))
        sender = threading.Thread(target=s.sendall, args=(data,))
        sender.start()
        time.sleep(0.5)   # the server answers into a socket nobody reads
        answers, rest = read_responses(s, len(paths), timeout=30.0)
        sender.join(30.0)
    assert rest == b"" and not sender.is_alive()
    models = httpx.get(srv.base_url + "/v1/models").content
    assert len(data) < len(models) * 300   # the answers are larger than what was sent
    expected = {"/v1/models": (200, models), "/health": (200, b'{"status":"ok"}'),
                "/v1/models/gpt-4o": (200, None), "/nope": (404, None)}
    for path, (status, _, body) in zip(paths, answers):
        want_status, want_body = expected[path]
        assert status == want_status, path
        if want_body is not None:
            assert body == want_body, path
        elif status == 200:
            assert json.loads(body)["id"] == "gpt-4o"


def test_repeated_route_then_other_method_or_path(srv):
    """The router recalls the last exact route: a request differing only by method, by a
    path sharing its prefix, or by a query still gets its own answer."""
    reqs = [("GET", "/health"), ("DELETE", "/health"), ("GET", "/health"), ("GET", "/healt"),
            ("GET", "/healthz"), ("GET", "/health?x=1"), ("GET", "/version"), ("GET", "/health")]
    data = b"".join(b"%s %s HTTP/1.1\r\nHost: t\r\n\r\n" % (m.encode(), p.encode())
                    for m, p in reqs)
    with socket.create_connection(("127.0.0.1", srv.port)) as s:
        s.sendall(data)
        answers, _ = read_responses(s, len(reqs))
    assert [a[0] for a in answers] == [200, 405, 200, 404, 404, 200, 200, 200]


def test_repeated_parameterised_route_keeps_its_parameters(server):
    """The router also recalls the last route with parameters ({model}:generateContent):
    the same path again, another model, another method on it and an unknown model each get
    their own answer."""
    srv = server("--workers", "1", "--no-latency")
    contents = b'{"contents":[{"parts":[{"text":"Hi"}]}]'
    generate = contents + b',"generationConfig":{"maxOutputTokens":3}}'
    reqs = [("POST", "gemini-2.5-flash:generateContent"),
            ("POST", "gemini-2.5-flash:generateContent"),
            ("POST", "gemini-2.5-pro:generateContent"),
            ("GET", "gemini-2.5-pro:generateContent"),
            ("POST", "gemini-2.5-pro:countTokens"),
            ("POST", "no-such-model:generateContent"),
            ("POST", "gemini-2.5-flash:generateContent")]
    bodies = [contents + b"}" if p.endswith("countTokens") else generate for _, p in reqs]
    head = b"%s /v1beta/models/%s HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n"
    data = b"".join(head % (m.encode(), p.encode(), len(b)) + b
                    for (m, p), b in zip(reqs, bodies))
    with socket.create_connection(("127.0.0.1", srv.port)) as s:
        s.sendall(data)
        answers, _ = read_responses(s, len(reqs))
    assert [a[0] for a in answers] == [200, 200, 200, 405, 200, 404, 200]
    models = [json.loads(a[2]).get("modelVersion") for a in answers]
    assert models[:3] == ["gemini-2.5-flash", "gemini-2.5-flash", "gemini-2.5-pro"]
    assert models[6] == "gemini-2.5-flash"
    assert json.loads(answers[4][2])["totalTokens"] > 0
    assert "no-such-model" in json.loads(answers[5][2])["error"]["message"]


def test_keep_alive_close_and_http10(srv):
    raw = exchange(srv.port, b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200 ") and b"connection: close" in raw.lower()
    raw = exchange(srv.port, b"GET /health HTTP/1.0\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200 ") and raw.endswith(b'{"status":"ok"}')
    # HTTP/1.0 with keep-alive stays open for a second request.
    with socket.create_connection(("127.0.0.1", srv.port)) as s:
        s.sendall(b"GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        (first,), _ = read_responses(s, 1)
        assert "connection: keep-alive" in first[1].lower()
        s.sendall(b"GET /version HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        (second,), _ = read_responses(s, 1)
        assert second[0] == 200


def test_chunked_body_and_expect_continue(srv):
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        s.sendall(b"POST /health HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        assert s.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        s.sendall(b"abcd")
        (answer,), _ = read_responses(s, 1)
        assert answer[0] == 405  # the body was read, then the route refused the method
        s.sendall(b"POST /health HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"3\r\nabc\r\n0\r\n\r\nGET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        answers, _ = read_responses(s, 2)
        assert [a[0] for a in answers] == [405, 200]


@pytest.mark.parametrize("request_bytes,status", [
    (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX Y: z\r\n\r\n", 400),
    (b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    (b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n", 413),
    (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 150 + b"\r\n", 431),
    (b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 431),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40, 400),
])
def test_malformed_requests_get_json_errors_and_close(srv, request_bytes, status):
    raw = exchange(srv.port, request_bytes)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d " % status), raw[:200]
    assert b"connection: close" in head.lower()
    assert json.loads(body)["error"]["message"]


def test_a_thousand_malformed_requests_kill_no_worker(srv):
    before = worker_pids(srv.pid)
    rng = random.Random(1234)
    good = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
    statuses = []
    for i in range(1000):
        kind = i % 5
        if kind == 0:      # random garbage
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))) + b"\r\n\r\n"
        elif kind == 1:    # a valid request with one byte flipped to a control character
            pos = rng.randrange(len(good) - 4)
            data = good[:pos] + bytes([rng.choice([0, 1, 0x7f, 0x0b])]) + good[pos + 1:]
        elif kind == 2:    # truncated after the head with a lying length, then closed
            data = good[:-1]
        elif kind == 3:    # bad chunked framing
            data = (b"POST /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + rng.choice([b"zz\r\n", b"3\r\nabcd\r\n", b"fffffffffffffffff\r\n"]))
        else:              # invalid header names
            data = b"GET /health HTTP/1.1\r\nHost: x\r\n%s: v\r\n\r\n" % rng.choice(
                [b"a b", b"a\x7fb", b"(x)", b"", b"a\tb"])
        raw = exchange(srv.port, data, expect_close=kind != 2, timeout=3.0)
        if kind == 2:
            continue   # the client gave up mid-body: nothing to answer
        statuses.append(int(raw.split(b" ", 2)[1]) if raw.startswith(b"HTTP/1.1 ") else None)
    assert all(s is not None and 400 <= s < 500 or s in (501, 505) for s in statuses), (
        sorted(set(statuses), key=str))
    assert worker_pids(srv.pid) == before
    assert httpx.get(srv.base_url + "/health").status_code == 200


def test_slow_header_times_out_with_408(server):
    srv = server("--workers", "1", "--header-timeout", "1")
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        start = time.monotonic()
        raw = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            raw += chunk
    assert raw.startswith(b"HTTP/1.1 408 ")
    assert time.monotonic() - start >= 0.9


def test_metrics_totals_equal_the_requests_made_across_workers(srv):
    def served(path_label):
        text = httpx.get(srv.base_url + "/metrics").text
        total = 0
        for line in text.splitlines():
            if line.startswith("llmsim_requests_total{") and f'route="{path_label}"' in line:
                total += int(line.rsplit(" ", 1)[1])
        return total

    pids = set()
    # A fresh connection per request: SO_REUSEPORT spreads them over both workers.
    with httpx.Client(base_url=srv.base_url, headers={"connection": "close"}) as client:
        for _ in range(200):
            assert client.get("/version").status_code == 200
        for _ in range(50):
            assert client.get("/nope").status_code == 404
    assert served("admin.version") == 200
    assert served("none.unmatched") == 50
    text = httpx.get(srv.base_url + "/metrics").text
    for line in text.splitlines():
        if line.startswith("llmsim_worker_up{") and line.endswith(" 1"):
            pids.add(line)
    assert len(pids) == 2
    received = int(re.search(r"^llmsim_bytes_received_total (\d+)", text, re.M).group(1))
    assert received > 250 * len(b"GET /version HTTP/1.1\r\n\r\n")


def test_pipelined_stream_with_latency_off_stays_in_order(server):
    srv = server("--workers", "1", "--no-latency")
    body = (b'{"model":"gpt-4o-mini","stream":true,"max_tokens":5,'
            b'"messages":[{"role":"user","content":"hi"}]}')
    chat = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    health = b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n"
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        s.sendall(health + chat + health)
        raw = b""
        while raw.count(b'{"status":"ok"}') < 2:
            chunk = s.recv(65536)
            assert chunk, raw
            raw += chunk
    first, rest = raw.split(b"\r\n\r\n", 1)
    assert first.startswith(b"HTTP/1.1 200 ")
    stream_at = rest.index(b"transfer-encoding: chunked")
    assert rest.index(b"data: [DONE]") > stream_at
    assert rest.rindex(b'{"status":"ok"}') > rest.index(b"0\r\n\r\n", stream_at)
