"""Idle keep-alive connections: server RSS per connection, llmsim against nginx.

Each server is started alone with W workers (llmsim --workers W, nginx with W workers and
`reuseport`: both have one listening socket per worker and the kernel spreads connections
over them). W is the fewest workers that keep each below 3/4 of the per-process descriptor
limit, so counts above one process's limit (the issue's 100,000) fit: W = 1 up to ~15,000
here. After a settle the server's RSS (VmRSS of every process of the server, from
/proc/PID/status) and open descriptors are read; client processes (idleclient.py) open C
connections at a bounded rate, each sending `GET /health` and keeping the connection open;
after a settle RSS and descriptors are read again. RSS per connection = (after − before) /
C, so what a worker costs with no connection is in neither figure. Kernel socket memory is
not in RSS and not counted (the same for both servers).
"""
import logging
import os
import resource
import time

import clientproc
import http1
import nginx
import procs
from scenarios import HEALTH_PATH

log = logging.getLogger("bench")

ISSUE_COUNT = 100_000
DEFAULT_COUNT = ISSUE_COUNT
CONNS_PER_PROC = 7_500
RAMP_PER_S = 5_000
SETTLE_S = 1.0
START_S = 0.2
READY_SLACK_S = 30.0  # beyond the ramp, for every connection to get its answer
NGINX_SPARE = 64  # worker_connections beyond C (listeners, the readiness probe)


def nginx_worker_connections(count):
    """nginx starts closing idle keep-alive connections once fewer than 1/16 of its
    worker_connections are free ("worker_connections are not enough, reusing
    connections"): give it C + C/8 + spare."""
    return count + count // 8 + NGINX_SPARE


PER_WORKER_SHARE = 0.75  # of a process's descriptors: room for the kernel's uneven spread
FD_SPARE = 64  # descriptors a worker holds besides connections (listener, pipes, files)


def workers_for(count):
    """The fewest workers that hold count connections with none past its descriptor limit."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[1]  # the master raises soft to hard
    per_worker = int((soft - FD_SPARE) * PER_WORKER_SHARE)
    return max(1, -(-count // per_worker))


def reason(count):
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return (f"fewer than the issue's count: {count:,} were measured (--conn-count); the hard "
            f"RLIMIT_NOFILE here is {hard:,} per process, spread over "
            f"{workers_for(ISSUE_COUNT)} workers for {ISSUE_COUNT:,}.")


def rss_bytes(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            continue
    return total


def fd_count(pids):
    total = 0
    for pid in pids:
        try:
            total += len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            continue
    return total


def part(bench):
    """{server name: measurement} for llmsim and nginx, C = --conn-count."""
    count = bench.args.conn_count
    workers = workers_for(count)
    per_worker = -(-count // workers)
    out = {}
    for name in ("llmsim", "nginx"):
        if name == "llmsim":
            server = bench.start_llmsim(workers=workers)
        else:
            port = procs.free_port()
            server = nginx.start(os.path.join(bench.out, f"nginx-conns-{port}"), port, workers,
                                 HEALTH_PATH, "text/plain", b"ok",
                                 worker_connections=nginx_worker_connections(per_worker),
                                 reuseport=True)
        bench.ready(server)
        try:
            out[name] = measure(bench, server, count)
            out[name]["workers"] = workers
        finally:
            server.stop()
        r = out[name]
        log.info("conns %s: %d held, RSS %.1f → %.1f MB, %.0f bytes/connection", name,
                 r["conns"], r["rss0"] / 1e6, r["rss1"] / 1e6,
                 (r["rss1"] - r["rss0"]) / max(r["conns"], 1))
    return out


def measure(bench, server, count):
    counts = clientproc.split(count, CONNS_PER_PROC)
    clients = clientproc.ClientProcs("idleclient.py", len(counts),
                                     os.path.join(bench.out, f"idleclient-{server.name}.log"))
    try:
        clients.expect("loaded", time.monotonic() + 30)
        time.sleep(SETTLE_S)  # a fixed settle before reading memory, not a readiness wait
        pids = server.pids()
        rss0, fds0 = rss_bytes(pids), fd_count(pids)
        t0 = time.monotonic_ns() + int(START_S * 1e9)
        ramp_s = count / RAMP_PER_S
        common = {
            "port": server.port, "rate": RAMP_PER_S, "t0_ns": t0, "stride": len(counts),
            "ramp_deadline_ns": t0 + int((ramp_s + READY_SLACK_S) * 1e9),
            "hard_ns": t0 + int((ramp_s + 2 * READY_SLACK_S) * 1e9),
            "request": http1.request_bytes("GET", HEALTH_PATH).decode("latin-1"),
        }
        clients.send_jobs([dict(common, n=n, first=i) for i, n in enumerate(counts)])
        ready = clients.expect("ready", time.monotonic() + START_S + ramp_s + READY_SLACK_S)
        time.sleep(SETTLE_S)
        rss1, fds1 = rss_bytes(pids), fd_count(pids)
        clients.release()
        results = clients.results(time.monotonic() + 30)
    finally:
        clients.stop()
    errors = {}
    for msg in ready + results:
        for kind, n in msg["errors"].items():
            errors[kind] = errors.get(kind, 0) + n
    dropped = sum(r["dropped"] for r in results)
    if dropped:
        errors["dropped by the server while idle"] = dropped
    held = sum(r["ok"] for r in ready) - dropped
    if errors or held < count:
        bench.failures.append(f"conns {server.name}: {held:,} of {count:,} connections held; "
                              f"errors: {errors or 'none'}")
    return {"conns": held, "rss0": rss0, "rss1": rss1, "fds0": fds0, "fds1": fds1,
            "errors": errors}


def describe(args):
    """How the part ran, for the RESULTS.md section."""
    count = args.conn_count
    workers = workers_for(count)
    return (
        f"{count:,} idle keep-alive connections per server, each after one `GET "
        f"{HEALTH_PATH}` and its answer (nginx answers `ok` from memory), opened at "
        f"{RAMP_PER_S:,}/s from {clientproc.SOURCES_TEXT} by {len(clientproc.split(count, CONNS_PER_PROC))} "
        f"client processes; {workers} worker(s) each (the fewest that keep each under "
        f"{PER_WORKER_SHARE:.0%} of the descriptor limit): llmsim `--workers {workers} "
        f"--cpu-affinity off` + --llmsim-args, nginx with `reuseport` and "
        f"worker_connections {nginx_worker_connections(-(-count // workers)):,} per worker "
        f"(its share C/W + C/8W + {NGINX_SPARE}: "
        f"it closes idle connections when under 1/16 are free; it allocates its connection "
        f"array at start, so that memory is in its 'before' figure); RSS = VmRSS summed over "
        f"all server processes, {SETTLE_S} s after the last answer; kernel socket buffers are "
        f"not in RSS")
