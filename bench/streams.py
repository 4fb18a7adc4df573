"""Streamed answers of the three APIs side by side, as ratios to OpenAI's.

    python bench/streams.py [--tokens 50] [--connections 16] [--seconds 5] [--repeats 3]

Starts llmsim (`--workers 1 --cpu-affinity off --no-latency`), then for each API runs a
closed loop for a fixed time: `--connections` keep-alive connections, each sending the next
streamed request (every answer forced to `--tokens` tokens with `x-llmsim-latency`) as soon
as the previous stream has been read to its last chunk. Reports streams/s, events/s and the
server's CPU time per stream (from /proc), median of the repeats, and each API's ratio to
OpenAI's chat completions stream. The client is Python (asyncio): it may be the bottleneck
for streams/s on a small machine, which is why server CPU per stream is the number to
compare. In-process handler costs (no sockets) are in `--micro` mode.
"""

import argparse
import asyncio
import os
import statistics
import sys
import time
from types import SimpleNamespace

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from machine import wait_idle  # noqa: E402
from procs import Server, cpu_seconds, free_port  # noqa: E402

HELLO = "Hello! How are you today?"


def cases(tokens):
    """(name, route name, path, extra header lines, body, event marker) per API."""
    return (
        ("openai chat", "openai.chat_completions", "/v1/chat/completions", "",
         ('{"model":"gpt-4o-mini","stream":true,"max_tokens":%d,"messages":[{"role":"user",'
          '"content":"%s"}]}' % (tokens, HELLO)).encode(), b"data: "),
        ("anthropic messages", "anthropic.messages", "/v1/messages",
         "anthropic-version: 2023-06-01\r\n",
         ('{"model":"claude-haiku-4-5","stream":true,"max_tokens":%d,"messages":[{"role":'
          '"user","content":"%s"}]}' % (tokens, HELLO)).encode(), b"event: "),
        ("gemini sse", "gemini.stream_generate_content",
         "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", "",
         ('{"contents":[{"parts":[{"text":"%s"}]}],"generationConfig":{"maxOutputTokens":%d}}'
          % (HELLO, tokens)).encode(), b"data: "),
    )


async def _stream_once(reader, writer, raw, marker):
    """Send one request, read its chunked answer to the end; the number of events."""
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(head.decode(errors="replace"))
    events = 0
    while True:
        size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
        data = await reader.readexactly(size + 2)
        if size == 0:
            return events
        events += data.count(marker)


async def _loop(port, raw, marker, connections, seconds):
    stop = time.monotonic() + seconds
    totals = [0, 0]

    async def one():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.monotonic() < stop:
                events = await _stream_once(reader, writer, raw, marker)
                totals[0] += 1
                totals[1] += events
        finally:
            writer.close()

    await asyncio.gather(*(one() for _ in range(connections)))
    return totals


def run_wire(args):
    port = free_port()
    os.makedirs(os.path.join(os.path.dirname(__file__), "out"), exist_ok=True)
    log = os.path.join(os.path.dirname(__file__), "out", "streams-llmsim.log")
    srv = Server("llmsim", [sys.executable, "-I", "-m", "llmsim", "serve", "--port", str(port),
                            "--workers", "1", "--cpu-affinity", "off", "--no-latency"],
                 port, log)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                asyncio.run(asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1))
                break
            except OSError:
                if time.monotonic() > deadline or not srv.alive():
                    raise SystemExit(f"llmsim did not start:\n{srv.log_tail()}")
                time.sleep(0.05)
        rows = {}
        for name, _, path, extra, body, marker in cases(args.tokens):
            raw = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                   f"\r\nx-llmsim-latency: tokens={args.tokens}\r\n{extra}"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body
            runs = []
            for _ in range(args.repeats):
                wait_idle()
                cpu0, t0 = cpu_seconds(srv.pids()), time.monotonic()
                streams, events = asyncio.run(_loop(port, raw, marker, args.connections,
                                                    args.seconds))
                wall, cpu = time.monotonic() - t0, cpu_seconds(srv.pids()) - cpu0
                runs.append((streams / wall, events / wall, cpu / max(streams, 1) * 1e6))
            rows[name] = tuple(statistics.median(r[i] for r in runs) for i in range(3))
    finally:
        srv.stop()
    base = rows["openai chat"]
    sys.stdout.write(f"{'stream (' + str(args.tokens) + ' tokens)':24s} {'streams/s':>10s} "
                     f"{'events/s':>10s} {'server us/stream':>17s}   ratios to openai\n")
    for name, (sps, eps, us) in rows.items():
        sys.stdout.write(f"{name:24s} {sps:10.0f} {eps:10.0f} {us:17.1f}   streams/s "
                         f"{sps / base[0]:.2f}x, server CPU/stream {us / base[2]:.2f}x\n")


def run_micro(args):
    """CPU per streamed call in-process: decode, plan (latency off), render every event."""
    from llmsim import api
    from llmsim.sim.timing import Planner
    ctx = SimpleNamespace(config=SimpleNamespace(models={}, generators={}, api_keys=[]),
                          planner=Planner({}, no_latency=True), worker_index=0, segment=None,
                          route_names=[])
    hs = {r.name: r.handler for r in api.routes(ctx)}
    results = {}
    for name, route, path, extra, body, _ in cases(args.tokens):
        query = path.partition("?")[2].encode()
        params = (b"gemini-2.5-flash",) if route.startswith("gemini") else ()
        req = SimpleNamespace(method=b"POST", path=path.encode(), query=query, body=body,
                              headers={b"x-llmsim-latency": b"tokens=%d" % args.tokens},
                              params=params, route=0, received_ns=time.monotonic_ns())
        h = hs[route]
        best = float("inf")
        for _ in range(5):
            t0 = time.thread_time_ns()
            for _ in range(args.n):
                out = h(req)[2]
                out.render(0, out.n_events)
                out.close()
            best = min(best, (time.thread_time_ns() - t0) / args.n / 1000)
        results[name] = best
    base = results["openai chat"]
    for name, us in results.items():
        sys.stdout.write(f"{name:24s} {us:8.2f} us/stream in-process  ({us / base:.2f}x openai)\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=50)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--micro", action="store_true", help="in-process handler cost only")
    ap.add_argument("--n", type=int, default=5000, help="calls per round in --micro mode")
    args = ap.parse_args()
    (run_micro if args.micro else run_wire)(args)


if __name__ == "__main__":
    main()
