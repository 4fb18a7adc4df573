"""Run wrk (closed loop, one thread, keep-alive, no pipelining) and read its result line."""
import json
import os
import re
import resource
import subprocess

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "request.lua")
MARK = "BENCH_RESULT "
# wrk's error counters; "status" counts answers with a status of 400 or more
ERRORS = {"connect": "connect errors", "read": "read errors", "write": "write errors",
          "timeout": "timeouts", "status": "HTTP ≥ 400 answers"}


def version():
    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    m = re.search(r"wrk (?:debian/)?(\d[\w.]*)", out.stdout + out.stderr)
    return f"wrk {m.group(1) if m else 'unknown'}"


def run(port, scenario, connections, duration_s, out_path):
    """One wrk run; returns a dict with rps, p50_us, p99_us, requests, client_cpu (wrk's CPU
    time, % of one core), answer_bytes (bytes read per answer), errors (by kind)."""
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration_s}s", "--latency",
            "--timeout", "5s", "-s", SCRIPT, f"http://127.0.0.1:{port}{scenario.path}"]
    env = dict(os.environ, BENCH_METHOD=scenario.method,
               BENCH_BODY=scenario.body.decode(), BENCH_CONTENT_TYPE=scenario.content_type,
               BENCH_HEADERS="".join(f"{n}: {v}\n" for n, v in scenario.headers))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(argv, capture_output=True, text=True, env=env,
                          timeout=duration_s + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)   # wrk is the one child reaped
    wrk_cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with open(out_path, "w") as f:
        f.write(" ".join(argv) + "\n" + proc.stdout + proc.stderr)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed (exit {proc.returncode}): {proc.stderr.strip()[-300:]}")
    r = json.loads(line[len(MARK):])
    errors = {label: r[k] for k, label in ERRORS.items() if r[k]}
    return {
        "requests": r["requests"],
        "rps": r["requests"] / (r["duration_us"] / 1e6),
        # wrk -t1 at ~100% of its core bounds requests/s for any server
        "client_cpu": 100 * wrk_cpu_s / (r["duration_us"] / 1e6),
        "answer_bytes": r["bytes"] / r["requests"] if r["requests"] else 0,
        "p50_us": r["p50_us"],
        "p99_us": r["p99_us"],
        "errors": errors,
    }
