"""Load-generating client processes: the parent's handle on them and the child's plumbing.

One client process holds at most a few thousand sockets (RLIMIT_NOFILE here is 20,000 per
process and cannot be raised), so a part spreads its connections over several. The
protocol is JSON lines: the child prints {"event": "loaded"} once imported, reads its job
(one JSON line) from stdin, may print {"event": "ready", ...}, and ends by writing its
result (histograms: too large for a pipe message) as JSON to the job's "result_path" and
printing {"event": "result"}. Closing its stdin tells a child that waits for it to finish.

Connections spread over several loopback source addresses (127.0.0.2, 127.0.0.3, ...)
with IP_BIND_ADDRESS_NO_PORT, so ephemeral ports are chosen per destination and do not run
out when many connections (and earlier runs' TIME_WAIT sockets) share one address.
"""
import asyncio
import json
import os
import resource
import selectors
import socket
import subprocess
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
# 16 addresses × ~28,000 ephemeral ports: 100,000 connections use under a quarter of the
# ports, where 4 addresses (~89% full) made connect() slow to find a free port.
SOURCE_ADDRESSES = tuple(f"127.0.0.{i}" for i in range(2, 18))
SOURCES_TEXT = f"{SOURCE_ADDRESSES[0]}–{SOURCE_ADDRESSES[-1].rpartition('.')[2]}"
RAMP_SLICE_S = 0.001


# parent side ------------------------------------------------------------------------------
class ClientProcs:
    """Client processes running bench/SCRIPT, one per job, stopped by PID."""

    def __init__(self, script, n, log_path):
        self.log = open(log_path, "ab")
        self.result_paths = [f"{os.path.splitext(log_path)[0]}-{i}.json" for i in range(n)]
        self.procs = [subprocess.Popen(
            [sys.executable, os.path.join(BENCH_DIR, script)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
        ) for _ in range(n)]
        self.bufs = [b""] * n  # bytes read from each child's stdout, not yet a line

    def pids(self):
        return [p.pid for p in self.procs]

    def _line(self, i, deadline):
        """The next JSON line of child i, waiting until deadline (monotonic s)."""
        proc, buf = self.procs[i], self.bufs[i]
        while b"\n" not in buf:
            with selectors.DefaultSelector() as sel:
                sel.register(proc.stdout, selectors.EVENT_READ)
                if not sel.select(max(0.0, deadline - time.monotonic())):
                    raise TimeoutError(f"client process {proc.pid} did not answer in time")
            data = os.read(proc.stdout.fileno(), 1 << 16)
            if not data:
                raise RuntimeError(f"client process {proc.pid} exited (status "
                                   f"{proc.wait()}); see {self.log.name}")
            buf += data
        line, _, self.bufs[i] = buf.partition(b"\n")
        return json.loads(line)

    def expect(self, event, deadline):
        """Wait for `event` from every child; return their messages in order."""
        out = []
        for i, p in enumerate(self.procs):
            msg = self._line(i, deadline)
            if msg.get("event") != event:
                raise RuntimeError(f"client process {p.pid} sent {msg.get('event')!r}, "
                                   f"expected {event!r}")
            out.append(msg)
        return out

    def send_jobs(self, jobs):
        for p, job, path in zip(self.procs, jobs, self.result_paths):
            p.stdin.write(json.dumps(dict(job, result_path=path)).encode() + b"\n")
            p.stdin.flush()

    def results(self, deadline):
        """Wait for every child's result; return them in order."""
        self.expect("result", deadline)
        out = []
        for path in self.result_paths:
            with open(path) as f:
                out.append(json.load(f))
        return out

    def release(self):
        """Close the children's stdin: children waiting for it finish."""
        for p in self.procs:
            if not p.stdin.closed:
                p.stdin.close()

    def stop(self, timeout=5.0):
        """Release, wait up to timeout, then kill what still runs (by PID)."""
        self.release()
        deadline = time.monotonic() + timeout
        for p in self.procs:
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            p.stdout.close()
        self.log.close()


def split(total, per_proc):
    """Connection counts per client process: at most per_proc each, as even as possible."""
    n = max(1, -(-total // per_proc))
    return [total // n + (1 if i < total % n else 0) for i in range(n)]


# child side -------------------------------------------------------------------------------
def emit(obj):
    """A short message to the parent (keep it well under PIPE_BUF)."""
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def finish(job, result):
    with open(job["result_path"], "w") as f:
        json.dump(result, f)
    emit({"event": "result"})


def start_child():
    """Raise RLIMIT_NOFILE to the hard limit, say loaded, return the job from stdin."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    emit({"event": "loaded", "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0]})
    line = sys.stdin.readline()
    if not line:
        raise SystemExit("client: no job on stdin")
    return json.loads(line)


async def connect(loop, factory, port, index):
    """A transport to 127.0.0.1:port from source address number index % len(SOURCES)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_BIND_ADDRESS_NO_PORT, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((SOURCE_ADDRESSES[index % len(SOURCE_ADDRESSES)], 0))
        await loop.sock_connect(sock, ("127.0.0.1", port))
        return await loop.create_connection(factory, sock=sock)
    except BaseException:
        sock.close()
        raise


async def ramp(n, first, stride, t0_ns, rate, deadline_ns, open_one):
    """Call open_one(i, slot_ns) for i in range(n) at slot t0 + (first + i*stride)/rate:
    connection number first + i*stride of all processes, so the processes interleave and
    the total opening rate is `rate`. Stops at deadline_ns; returns how many were opened."""
    step = 1e9 / rate
    i = 0
    while i < n:
        now = time.monotonic_ns()
        if now >= deadline_ns:
            break
        while i < n:
            slot = t0_ns + int((first + i * stride) * step)
            if slot > now:
                break
            open_one(i, slot)
            i += 1
        await asyncio.sleep(RAMP_SLICE_S)
    return i
