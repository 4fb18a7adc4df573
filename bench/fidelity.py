"""Streaming fidelity, the `streams` part of run.py: K concurrent streams, constant timing.

llmsim runs with `--ttft 200ms --itl 20ms` (constant, so the configured values are what
every stream should show). Client processes (sseclient.py, one per STREAMS_PER_PROC) open
K keep-alive connections at a bounded rate, each running streamed chat requests with
max_tokens 50 back to back; once all are open and streaming, a window of `duration`
seconds is measured: TTFT and ITL errors (client-observed minus configured), content
deltas per second, server CPU time (/proc, all server processes) per delta, and each
client process's CPU share. A run where any client process was over CLIENT_BOUND busy
is marked client-bound: its timings say more about the client than about the server.
There is no nginx equivalent of a simulated stream: the baseline is the configured
timing itself.
"""
import json
import logging
import os
import time

import clientproc
import http1
import procs
from hist import Histogram

log = logging.getLogger("bench")

TTFT_MS, ITL_MS, MAX_TOKENS = 200, 20, 50
STREAM_COUNTS = (100, 1000, 10000)
QUICK_MAX_STREAMS = 1000
STREAMS_PER_PROC = 2500
WORKERS_FROM = 10000  # K from which the server gets 2 workers (20,000 descriptors each)
# new connections per second, all client processes together: slow enough for a busy
# server to accept them before its listen queue fills (a dropped SYN costs a 1 s retry)
RAMP_PER_S = 2500
SETTLE_S = 0.5  # after the ramp, before the window: every stream past its first TTFT
START_S = 0.2  # from handing out the jobs to the first ramp slot
DEADLINE_SLACK_S = 10.0  # after the window: time for the last streams to end
CLIENT_BOUND = 0.80
# the profile under test; --llmsim-args (default --no-latency, for wrk) does not apply
SERVE_ARGS = ("--ttft", f"{TTFT_MS}ms", "--itl", f"{ITL_MS}ms")
CYCLE_S = (TTFT_MS + (MAX_TOKENS - 1) * ITL_MS) / 1e3  # one stream, request to [DONE]
REQUEST_BODY = json.dumps({
    "model": "gpt-4o-mini", "stream": True, "max_tokens": MAX_TOKENS,
    "messages": [{"role": "user", "content": "Tell me a story."}],
}, separators=(",", ":")).encode()
# the documented per-request override: exactly MAX_TOKENS tokens (the default profile
# draws an output length, often below max_tokens); timing stays the server's
LENGTH_HEADER = "x-llmsim-latency"


def stream_counts(args):
    """The K values of this run, and a note when --quick capped them."""
    if args.stream_counts:
        return [int(k) for k in args.stream_counts.split(",")], None
    if args.quick:
        ks = [k for k in STREAM_COUNTS if k <= QUICK_MAX_STREAMS]
        return ks, f"--quick: streams at K ≤ {QUICK_MAX_STREAMS:,} only"
    return list(STREAM_COUNTS), None


def workers_for(k):
    return 2 if k >= WORKERS_FROM else 1


def expected_rate(k):
    """Content deltas per second K closed-loop streams give with exact timing: each stream
    yields MAX_TOKENS deltas per CYCLE_S (its TTFT carries no delta)."""
    return k * MAX_TOKENS / CYCLE_S


def part(bench):
    """Run every K `repeats` times; return {k: [run metrics, ...]} and the workers per K."""
    args = bench.args
    ks, note = stream_counts(args)
    if note:
        bench.notes.append(note)
    results = {}
    for k in ks:
        server = bench.ready(bench.start_llmsim(
            workers=workers_for(k), serve_args=SERVE_ARGS))
        try:
            for rep in range(args.repeats):
                bench.wait_idle()
                r = run_once(bench, server, k, args.duration, f"{k}-{rep}")
                r["workers"] = workers_for(k)
                log.info("streams K=%d: TTFT error p50 %.2f p99 %.2f ms, ITL error p50 %.2f "
                         "p99 %.2f p1 %.2f ms, %.0f deltas/s, %.1f server CPU µs/delta (%.0f%% "
                         "in the kernel), %.0f server wakes/s, client CPU max %.0f%%%s", k,
                         r["ttft_p50"], r["ttft_p99"], r["itl_p50"], r["itl_p99"], r["itl_p1"],
                         r["events_per_s"], r["cpu_us"], r["server_kernel"] * 100,
                         r["server_wakes_per_s"], r["client_cpu_max"] * 100,
                         f", errors {r['errors']}" if r["errors"] else "")
                results.setdefault(k, []).append(r)
                if not server.alive():
                    raise SystemExit(f"bench: llmsim died under K={k}\n{server.log_tail()}")
        finally:
            server.stop()
    return results


def jobs(server, k, duration):
    """The client processes' jobs, with absolute window times (CLOCK_MONOTONIC is shared)."""
    counts = clientproc.split(k, STREAMS_PER_PROC)
    t0 = time.monotonic_ns() + int(START_S * 1e9)
    w0 = t0 + int((k / RAMP_PER_S + SETTLE_S) * 1e9)
    w1 = w0 + int(duration * 1e9)
    common = {
        "port": server.port, "rate": RAMP_PER_S, "t0_ns": t0, "w0_ns": w0, "w1_ns": w1,
        "hard_ns": w1 + int((CYCLE_S + DEADLINE_SLACK_S) * 1e9),
        "ttft_ns": TTFT_MS * 1_000_000, "itl_ns": ITL_MS * 1_000_000, "events": MAX_TOKENS,
        "request": http1.request_bytes(
            "POST", "/v1/chat/completions", REQUEST_BODY, "application/json",
            headers=[(LENGTH_HEADER, f"tokens={MAX_TOKENS}")]).decode("latin-1"),
        "stride": len(counts),
    }
    return [dict(common, n=n, first=i) for i, n in enumerate(counts)], w0, w1


def sleeps(pids):
    """Voluntary context switches of these processes: how often they slept and were woken
    (each timer wake of an idle worker is one). Processes that are gone count 0."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status", "rb") as f:
                for line in f:
                    if line.startswith(b"voluntary_ctxt_switches:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def sleep_until(t_ns):
    delay = (t_ns - time.monotonic_ns()) / 1e9
    if delay > 0:
        time.sleep(delay)


def run_once(bench, server, k, duration, tag):
    n_procs = len(clientproc.split(k, STREAMS_PER_PROC))
    clients = clientproc.ClientProcs("sseclient.py", n_procs,
                                     os.path.join(bench.out, f"sseclient-{tag}.log"))
    try:
        clients.expect("loaded", time.monotonic() + 30)
        job_list, w0, w1 = jobs(server, k, duration)
        clients.send_jobs(job_list)
        server_pids, client_pids = server.pids(), clients.pids()
        sleep_until(w0)
        t0, cpu0 = time.monotonic(), procs.cpu_seconds(server_pids)
        sys0 = procs.system_seconds(server_pids)
        wakes0 = sleeps(server_pids)
        ccpu0 = [procs.cpu_seconds([p]) for p in client_pids]
        sleep_until(w1)
        t1, cpu1 = time.monotonic(), procs.cpu_seconds(server_pids)
        sys1 = procs.system_seconds(server_pids)
        wakes1 = sleeps(server_pids)
        ccpu1 = [procs.cpu_seconds([p]) for p in client_pids]
        results = clients.results(time.monotonic() + CYCLE_S + DEADLINE_SLACK_S + 5)
    finally:
        clients.stop()
    r = metrics(k, results, duration, cpu1 - cpu0,
                [b - a for a, b in zip(ccpu0, ccpu1)], t1 - t0, wakes1 - wakes0)
    r["server_kernel"] = (sys1 - sys0) / (cpu1 - cpu0) if cpu1 > cpu0 else float("nan")
    return r


def metrics(k, results, window, server_cpu, client_cpu, cpu_window, server_wakes):
    """One run's numbers: window is the measured seconds, cpu_window the seconds between
    the /proc samples (about the same), server_wakes the server's sleeps in between."""
    hists = {name: Histogram() for name in ("ttft", "itl", "send_late")}
    errors = {}
    for r in results:
        for name, h in hists.items():
            h.merge_json(r[name])
        for kind, n in r["errors"].items():
            errors[kind] = errors.get(kind, 0) + n
    events = sum(r["events"] for r in results)

    def ms(h, q):
        v = h.percentile(q)
        return float("nan") if v is None else v / 1e6

    return {
        "k": k, "procs": len(results),
        "ttft_p50": ms(hists["ttft"], 0.5), "ttft_p99": ms(hists["ttft"], 0.99),
        "itl_p50": ms(hists["itl"], 0.5), "itl_p99": ms(hists["itl"], 0.99),
        "itl_p1": ms(hists["itl"], 0.01),
        "send_late_p99": ms(hists["send_late"], 0.99),
        "samples": hists["itl"].total(),
        "events_per_s": events / window,
        "expected_per_s": expected_rate(k),
        "configured_per_s": k * 1000 / ITL_MS,
        "cpu_us": server_cpu * 1e6 / events if events else float("nan"),
        "server_cpu": server_cpu / cpu_window,
        "server_wakes_per_s": server_wakes / cpu_window,
        "client_cpu_max": max(client_cpu) / cpu_window,
        "client_cpu_us": sum(client_cpu) * 1e6 / events if events else float("nan"),
        "machine_cpu": (server_cpu + sum(client_cpu)) / cpu_window,
        "cpus": os.cpu_count(),
        "client_bound": max(client_cpu) / cpu_window > CLIENT_BOUND,
        "streams_ok": sum(r["streams_ok"] for r in results),
        "errors": errors,
    }


def describe(args):
    """How the part ran, for the RESULTS.md section."""
    return (
        f"llmsim `--workers 1` (`--workers 2` from K = {WORKERS_FROM:,}: each worker may "
        f"hold 20,000 descriptors here; two stay well under it and use both CPUs) "
        f"`--cpu-affinity off {' '.join(SERVE_ARGS)}` (constant profile; --llmsim-args not "
        f"applied). Each "
        f"of K keep-alive connections runs `POST /v1/chat/completions` with `\"stream\": "
        f"true, \"max_tokens\": {MAX_TOKENS}` and `{LENGTH_HEADER}: tokens={MAX_TOKENS}` "
        f"(so every stream has exactly {MAX_TOKENS} content deltas) back to back (closed "
        f"loop, no pipelining), reading every stream to `data: [DONE]`. Connections open at "
        f"{RAMP_PER_S:,}/s from "
        f"{clientproc.SOURCES_TEXT}, then {SETTLE_S} s settle, then a {args.duration} s window, "
        f"{args.repeats} runs per K, each after waiting for < 20% machine CPU. Client: raw "
        f"asyncio protocol on uvloop, one process per {STREAMS_PER_PROC:,} streams, "
        f"RLIMIT_NOFILE raised to the hard limit, time.monotonic_ns() at each read, content "
        f"deltas found by byte search (no JSON decoding). TTFT error = first content delta − "
        f"request sent − {TTFT_MS} ms; ITL error = gap between consecutive content deltas − "
        f"{ITL_MS} ms (deltas read together count as a gap of 0); percentiles over every "
        f"sample in the window, 10 µs buckets. Exact-timing rate = K × {MAX_TOKENS} / "
        f"{CYCLE_S:g} s per stream (K / ITL = K × {1000 // ITL_MS}/s while tokens flow, none "
        f"during TTFT). Send lateness = request written − when it was due (its ramp slot, "
        f"or the previous [DONE]). A run is client-bound when any client process used "
        f"> {CLIENT_BOUND:.0%} of a CPU in the window; its timings are not claimed. Server "
        f"CPU from /proc (master and workers). No baseline server: the configured timing is "
        f"the baseline")
