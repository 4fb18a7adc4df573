"""Instructions per request under valgrind --tool=callgrind, for llmsim and nginx alike.

Counting instructions is repeatable on a noisy shared machine where timings are not.
Each server is launched twice under callgrind (every process of its tree is traced, one
output file per process) and driven over one keep-alive connection: once with N1 requests,
once with N2. Start-up, imports, warm-up and shutdown cost the same in both launches, so
(instructions of launch 2 - instructions of launch 1) / (N2 - N1) is the per-request cost
of the whole server (master included) at steady state.
"""
import glob
import logging
import os
import re
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


def _launch(start, out_dir, requests):
    """Run one traced server through requests; return the summed instruction count."""
    os.makedirs(out_dir, exist_ok=True)
    wrapper = (*VALGRIND, f"--callgrind-out-file={out_dir}/callgrind.out.%p")
    t0 = time.monotonic()
    server = start(wrapper, out_dir)
    try:
        health = http1.request_bytes("GET", HEALTH_PATH)
        http1.wait_ok(server.port, health, time.monotonic() + START_DEADLINE_S, server.alive,
                      retry_s=0.05)
        pids = server.pids()
        t1 = time.monotonic()
        _drive(server.port, requests)
        t2 = time.monotonic()
    finally:
        server.stop(timeout=60.0)
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
