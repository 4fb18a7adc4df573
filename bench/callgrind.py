"""Instructions per request under valgrind --tool=callgrind, for llmsim and nginx alike.

Counting instructions is repeatable on a noisy shared machine where timings are not.
Each server is launched twice under callgrind (every process of its tree is traced, one
output file per process) and driven over one keep-alive connection: once with N1 requests,
once with N2. Start-up, imports, warm-up and shutdown cost the same in both launches, so
(instructions of launch 2 - instructions of launch 1) / (N2 - N1) is the per-request cost
of the whole server (master included) at steady state.
"""
import contextlib
import glob
import logging
import os
import re
import selectors
import socket
import subprocess
import time

import http1
from scenarios import HEALTH_PATH

log = logging.getLogger("bench")
# Start-up varies by a few million instructions from launch to launch (hash seeds), so
# N2 - N1 is large enough to make that a few hundred per request at most.
N1, N2 = 500, 10500
VALGRIND = ("valgrind", "--tool=callgrind", "--trace-children=yes", "--vgdb=no",
            "--dump-instr=no", "--collect-jumps=no")
START_DEADLINE_S = 120.0
_TOTAL = re.compile(rb"^(?:summary|totals):\s+(\d+)", re.M)


def _total(path):
    with open(path, "rb") as f:
        m = _TOTAL.search(f.read())
    if m is None:
        raise RuntimeError(f"no instruction total in {path}")
    return int(m.group(1))


def _drive(port, requests):
    conn = http1.Connection(port, timeout=60.0)
    try:
        for raw in requests:
            status = conn.request(raw)[0]
            if status != 200:
                raise RuntimeError(f"status {status} under callgrind")
    finally:
        conn.close()


@contextlib.contextmanager
def _traced(start, out_dir, valgrind=VALGRIND):
    """A server started under valgrind (argv prefix `valgrind`, one output file per process
    in out_dir), answering; stopped on leaving."""
    os.makedirs(out_dir, exist_ok=True)
    server = start((*valgrind, f"--callgrind-out-file={out_dir}/callgrind.out.%p"), out_dir)
    try:
        health = http1.request_bytes("GET", HEALTH_PATH)
        http1.wait_ok(server.port, health, time.monotonic() + START_DEADLINE_S, server.alive,
                      retry_s=0.05)
        yield server
    finally:
        server.stop(timeout=60.0)


def _launch(start, out_dir, requests):
    """Run one traced server through requests; return the summed instruction count."""
    t0 = time.monotonic()
    with _traced(start, out_dir) as server:
        pids = server.pids()
        t1 = time.monotonic()
        _drive(server.port, requests)
        t2 = time.monotonic()
    log.info("callgrind %s: start %.1f s, %d requests %.1f s, stop %.1f s",
             os.path.basename(out_dir), t1 - t0, len(requests), t2 - t1, time.monotonic() - t2)
    files = glob.glob(os.path.join(out_dir, "callgrind.out.*"))
    missing = [p for p in pids if os.path.join(out_dir, f"callgrind.out.{p}") not in files]
    if missing:
        raise RuntimeError(f"no callgrind output from pids {missing} in {out_dir}")
    return sum(_total(p) for p in files)


def per_request(start, scenario, out_dir):
    """Instructions per request of scenario; start(wrapper, log_dir) -> procs.Server that
    runs the server under the wrapper argv prefix and serves scenario."""
    raw = scenario.request()
    counts = [_launch(start, os.path.join(out_dir, f"{scenario.name}-{n}"), [raw] * n)
              for n in (N1, N2)]
    return (counts[1] - counts[0]) / (N2 - N1)


# Streams timed event by event (latency on): STREAMS connections each run one streamed chat
# answer with gaps long enough for a server under valgrind (~50x slower) to send every delta
# on time in its own write. Counting is zeroed once every stream has sent its first delta
# and dumped when all have ended (callgrind_control), so the count covers steady streaming
# only: timer wakes, rendering, chunk framing, writes, and the streams' ends.
STREAMS = 50
STREAM_DELTAS = 60
STREAM_TTFT_MS, STREAM_ITL_MS = 100, 100
STREAM_DELTA = b'"delta":{"content":"'
# the scheduler's wake (one per timer expiry) and one stream's send within it (C names that
# Cython gives llmsim.core.stream's Scheduler.tick and Responder.fire)
WAKE_FN = re.compile(r"Scheduler_\d*tick$")
SEND_FN = re.compile(r"Responder_fire$")
STREAM_END = b"\r\n0\r\n\r\n"


def stream_request(tokens):
    """A streamed chat request with exactly `tokens` content deltas, timed by its header."""
    body = (b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}],'
            b'"max_tokens":%d,"stream":true}' % tokens)
    latency = f"ttft={STREAM_TTFT_MS}ms, itl={STREAM_ITL_MS}ms, tokens={tokens}"
    return http1.request_bytes("POST", "/v1/chat/completions", body, "application/json",
                               headers=[("x-llmsim-latency", latency)])


def _control(option, pids):
    for pid in pids:
        subprocess.run(["callgrind_control", option, str(pid)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)


def _drive_streams(port, raw, count, on_first, timeout=120.0):
    """Run `count` concurrent streams of request raw, calling on_first() once each has sent
    its first content delta; return (deltas after that, reads holding them)."""
    sel = selectors.DefaultSelector()
    left, waiting, deltas, reads = count, count, 0, 0
    socks = []
    try:
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            socks.append(s)
        for s in socks:
            s.sendall(raw)
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, [b"", False])
        deadline = time.monotonic() + timeout
        while left:
            events = sel.select(max(0.0, deadline - time.monotonic()))
            if not events:
                raise RuntimeError(f"{left} streams unfinished under callgrind")
            for key, _ in events:
                data = key.fileobj.recv(65536)
                if not data:
                    raise RuntimeError("server closed a stream under callgrind")
                state = key.data
                buf = state[0] + data
                n = buf.count(STREAM_DELTA) - state[0].count(STREAM_DELTA)
                state[0] = buf[-len(STREAM_END):]
                if n and not state[1]:
                    state[1] = True
                    n -= 1
                    waiting -= 1
                    if not waiting:
                        on_first()
                elif not waiting:
                    deltas += n
                    reads += n > 0
                if buf.endswith(STREAM_END):
                    sel.unregister(key.fileobj)
                    left -= 1
    finally:
        sel.close()
        for s in socks:
            s.close()
    return deltas, reads


def _calls(path, fn):
    """(calls, inclusive instructions) of the calls to functions whose name matches fn."""
    calls = cost = 0
    target, pending = False, False
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("cfn="):
                target = fn.search(line[4:].rstrip("\n")) is not None
            elif line.startswith("calls="):
                pending = target
                if target:
                    calls += int(line[6:].split()[0])
            elif pending and line[:1].isdigit() or pending and line[:1] in "+-*":
                cost += int(line.split()[1])
                pending = False
    return calls, cost


def per_delta(start, out_dir):
    """For start(wrapper, log_dir) -> procs.Server, a server with latency on: a dict of
    instructions per timed stream delta (`delta`), per stream send within a wake (`send`:
    rendering, framing, the write call, rescheduling), timer wakes per delta (`wakes`) and
    the share of deltas the client read one per read (`alone`). How many streams share a
    wake depends on how fast the server took their requests, so `delta` moves with the
    machine's load; `send` does not."""
    # callgrind_control needs vgdb; names in full, as each dump is read on its own
    valgrind = (*("--vgdb=yes" if a == "--vgdb=no" else a for a in VALGRIND),
                "--compress-strings=no")
    with _traced(start, out_dir, valgrind) as server:
        pids = server.pids()
        deltas, reads = _drive_streams(server.port, stream_request(STREAM_DELTAS), STREAMS,
                                       lambda: _control("-z", pids))
        _control("-d", pids)
    dumps = [p for p in glob.glob(os.path.join(out_dir, "callgrind.out.*.*"))]
    if len(dumps) != len(pids):
        raise RuntimeError(f"{len(dumps)} callgrind dumps for {len(pids)} processes")
    if deltas < STREAMS * (STREAM_DELTAS - 1) * 0.9:
        raise RuntimeError(f"only {deltas} deltas after every stream's first")
    wakes = sends = send_cost = 0
    for p in dumps:
        wakes += _calls(p, WAKE_FN)[0]
        n, cost = _calls(p, SEND_FN)
        sends, send_cost = sends + n, send_cost + cost
    return {"delta": sum(_total(p) for p in dumps) / deltas, "send": send_cost / sends,
            "wakes": wakes / deltas, "alone": reads / deltas}


def describe_streams():
    """How per_delta ran, for the RESULTS.md section."""
    return (f"llmsim `--workers 1` with latency on under callgrind; {STREAMS} concurrent "
            f"streamed chat answers on their own connections, `x-llmsim-latency: "
            f"ttft={STREAM_TTFT_MS}ms, itl={STREAM_ITL_MS}ms, tokens={STREAM_DELTAS}`; "
            f"user-space instructions of all server processes from the moment every stream "
            f"has sent its first content delta to the end of the last stream "
            f"(callgrind_control -z / -d), divided by the content deltas sent in between; "
            f"per send: inclusive instructions of one stream's send within a timer wake "
            f"(Responder.fire); kernel work (the write itself) not counted")
