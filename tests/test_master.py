"""The prefork master end to end: real `llmsim serve` processes on loopback ports."""

import os
import re
import resource
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import psutil
import pytest

from conftest import wait_for
from llmsim import notify

CPUS = sorted(os.sched_getaffinity(0))
WORKERS = min(2, len(CPUS))


def titles(srv):
    return sorted(srv.workers().values())


def ready(srv):
    """GET /ready: every worker serves."""
    try:
        return httpx.get(srv.base_url + "/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def expected_titles(cpus):
    return sorted(f"llmsim: worker {i} cpu {c}" for i, c in enumerate(cpus))


def test_workers_have_titles_and_distinct_pinned_cpus(server):
    srv = server("--workers", WORKERS)
    want = expected_titles(CPUS[:WORKERS])
    wait_for(lambda: titles(srv) == want, 10, f"worker titles {want}")
    assert " ".join(psutil.Process(srv.pid).cmdline()).startswith(
        f"llmsim: master 127.0.0.1:{srv.port}")
    pinned = {}
    for pid, title in srv.workers().items():
        cpu = int(title.rsplit(" ", 1)[1])
        assert psutil.Process(pid).cpu_affinity() == [cpu]
        pinned[pid] = cpu
    assert sorted(pinned.values()) == CPUS[:WORKERS]


def test_affinity_off_leaves_workers_unpinned(server):
    srv = server("--workers", 1, "--cpu-affinity", "off")
    wait_for(lambda: titles(srv) == ["llmsim: worker 0"], 10, "an unpinned worker title")
    (pid,) = srv.workers()
    assert sorted(psutil.Process(pid).cpu_affinity()) == CPUS


def test_port_in_use_fails_fast(server, port):
    with socket.socket() as other:
        other.bind(("127.0.0.1", port))
        other.listen()
        srv = server("--workers", 1, port=port, wait=False)
        assert srv.wait_exit() == 1
    assert f"llmsim: port {port} on 127.0.0.1 is already in use" in srv.output()


def test_port_taken_by_another_llmsim_fails_fast(server):
    first = server("--workers", 1)
    second = server("--workers", 1, port=first.port, wait=False)
    assert second.wait_exit() == 1
    assert f"port {first.port} on 127.0.0.1 is already in use" in second.output()
    assert first.healthy()


def test_worker_that_cannot_boot_stops_the_master(server, tmp_path, port):
    # A real cause: so few file descriptors that the master starts but no worker can make
    # its event loop. The master must stop with the reason instead of respawning forever.
    def few_fds():
        resource.setrlimit(resource.RLIMIT_NOFILE, (9, 9))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSIM_")}
    proc = subprocess.Popen(
        [sys.executable, "-I", "-m", "llmsim", "serve", "--port", str(port), "--workers", "1"],
        env=env, cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True, preexec_fn=few_fds)
    try:
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 3, err
    assert "llmsim master pid" in err        # the master itself started
    assert re.search(r"ERROR worker 0 (failed to boot \(exit 3\)|exited with code \d+ before "
                     r"serving|was killed by SIG\w+ before serving); stopping", err), err
    assert "respawning" not in err


def test_killed_worker_is_respawned(server):
    srv = server("--workers", WORKERS)
    want = expected_titles(CPUS[:WORKERS])
    wait_for(lambda: ready(srv) and titles(srv) == want, 10, "every worker serving")
    victim, title = sorted(srv.workers().items())[0]
    os.kill(victim, signal.SIGKILL)

    def replaced():
        workers = srv.workers()
        return victim not in workers and sorted(workers.values()) == want
    wait_for(replaced, 15, f"a new '{title}'")
    wait_for(srv.healthy, 10, "GET /health after the respawn")
    assert f"(pid {victim}, cpu" in srv.output()
    assert "was killed by SIGKILL; respawning" in srv.output()


def test_workers_exit_when_the_master_is_killed(server):
    srv = server("--workers", WORKERS)
    wait_for(lambda: ready(srv) and len(srv.workers()) == WORKERS, 10, "every worker serving")
    workers = [psutil.Process(pid) for pid in srv.workers()]
    srv.proc.kill()            # SIGKILL: the master cannot stop its workers itself
    srv.proc.wait()

    def gone(p):
        try:
            return not p.is_running() or p.status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True
    wait_for(lambda: all(gone(p) for p in workers), 15, "the orphaned workers to exit")


def test_die_with_parent_signals_an_orphan():
    # A middle process forks a child that asks for SIGTERM on its parent's death and then
    # sleeps; the middle process exits at once, so the child must be gone well before 60 s.
    script = (
        "import os, sys, time\n"
        "from llmsim.core import proc\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    proc.die_with_parent(15)\n"
        "    time.sleep(60)\n"
        "    os._exit(0)\n"
        "print(pid, flush=True)\n"
        "time.sleep(0.3)\n")
    out = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    child = int(out)

    def gone():
        try:
            return psutil.Process(child).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True
    try:
        wait_for(gone, 10, "the orphan to get SIGTERM")
    finally:
        if not gone():
            os.kill(child, signal.SIGKILL)


def test_hung_worker_is_killed_and_replaced(server):
    srv = server("--workers", 1, "--heartbeat-timeout", 1)
    wait_for(lambda: ready(srv) and len(srv.workers()) == 1, 10, "one worker serving")
    (victim,) = srv.workers()
    os.kill(victim, signal.SIGSTOP)   # alive but silent: its heartbeat goes stale
    try:
        wait_for(lambda: srv.workers() and victim not in srv.workers(), 20, "a replacement")
    finally:
        if psutil.pid_exists(victim):
            os.kill(victim, signal.SIGCONT)
    assert "missed heartbeats" in srv.output()
    wait_for(srv.healthy, 10, "GET /health from the replacement")


def server_side_unread(port, client_port):
    """Bytes the server has not read yet on the connection from `client_port`, or None."""
    local = f"0100007F:{port:04X}"
    remote = f"0100007F:{client_port:04X}"
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1] == local and fields[2] == remote:
                return int(fields[4].split(":")[1], 16)
    return None


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except ConnectionRefusedError:
        return True


def test_term_finishes_the_in_flight_request(server):
    srv = server("--workers", WORKERS, "--graceful-timeout", 20)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=20) as conn:
        conn.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n12345")
        client_port = conn.getsockname()[1]
        # In flight: a worker has accepted the connection and read the head and half the body.
        wait_for(lambda: server_side_unread(srv.port, client_port) == 0, 10, "the worker to read")
        srv.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: refused(srv.port), 10, "every listener to close after SIGTERM")
        assert srv.proc.poll() is None      # still draining our request
        conn.sendall(b"67890")
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = conn.recv(4096)
            assert chunk, f"connection closed after {reply!r}"
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 200 ")
    assert srv.wait_exit() == 0


def test_hup_replaces_workers_without_a_failed_request(server):
    srv = server("--workers", WORKERS)
    wait_for(lambda: ready(srv) and len(srv.workers()) == WORKERS, 10, "every worker serving")
    before = set(srv.workers())
    results, errors = [], []
    done_before_hup = threading.Event()

    def client():
        fresh_limits = httpx.Limits(max_keepalive_connections=0)   # a new connection each time
        with httpx.Client(base_url=srv.base_url, timeout=10) as keepalive, \
                httpx.Client(base_url=srv.base_url, timeout=10, limits=fresh_limits) as fresh:
            for i in range(300):
                try:
                    results.append((keepalive if i % 2 else fresh).get("/health").status_code)
                except httpx.HTTPError as err:
                    errors.append(repr(err))
                if i == 100:
                    done_before_hup.set()
                time.sleep(0.005)

    thread = threading.Thread(target=client)
    thread.start()
    done_before_hup.wait(30)
    srv.proc.send_signal(signal.SIGHUP)
    thread.join(60)
    assert not thread.is_alive()
    assert errors == []
    assert results == [200] * 300
    wait_for(lambda: len(srv.workers()) == WORKERS and not set(srv.workers()) & before, 20,
             "the old workers to be replaced")
    assert titles(srv) == expected_titles(CPUS[:WORKERS])
    assert "reloaded: " in srv.output()
    assert ready(srv)


def test_hup_with_a_broken_config_keeps_serving(server, tmp_path):
    path = tmp_path / "llmsim.yaml"
    path.write_text("workers: 1\n")
    srv = server("--config", path)
    wait_for(lambda: ready(srv) and len(srv.workers()) == 1, 10, "one worker serving")
    before = set(srv.workers())
    path.write_text("workers: many\n")
    srv.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "reload failed" in srv.output(), 10, "the reload to fail")
    assert "workers: Expected `int`, got `str`; keeping the running workers" in srv.output()
    assert set(srv.workers()) == before and srv.healthy()


def test_hup_applies_a_changed_worker_count(server, tmp_path):
    if len(CPUS) < 2:
        pytest.skip("needs two CPUs")
    path = tmp_path / "llmsim.yaml"
    path.write_text("workers: 1\n")
    srv = server("--config", path)
    wait_for(lambda: ready(srv) and len(srv.workers()) == 1, 10, "one worker serving")
    path.write_text("workers: 2\n")
    srv.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: titles(srv) == expected_titles(CPUS[:2]), 20, "two workers")
    assert srv.healthy()
    assert ready(srv)


def test_sd_notify_ready_and_stopping(server, tmp_path):
    address = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(address)
        listener.settimeout(30)
        srv = server("--workers", WORKERS, env={"NOTIFY_SOCKET": address})
        first = listener.recv(4096).decode().split("\n")
        assert first[0] == "READY=1"
        assert first[1] == f"STATUS=serving on 127.0.0.1:{srv.port} with {WORKERS} workers"
        srv.proc.send_signal(signal.SIGTERM)
        assert listener.recv(4096) == b"STOPPING=1"
        assert srv.wait_exit() == 0


def test_notify_abstract_namespace():
    name = f"llmsim-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind("\0" + name)
        listener.settimeout(5)
        assert notify.notify("READY=1", "STATUS=x", environ={"NOTIFY_SOCKET": "@" + name})
        assert listener.recv(4096) == b"READY=1\nSTATUS=x"
    assert notify.notify("READY=1", environ={}) is False
