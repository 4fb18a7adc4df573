"""Shared fixtures: a free loopback port, and real `llmsim serve` processes.

`server(*args, env=None)` starts `python -I -m llmsim serve --port P *args` (the installed
package, never the repo directory), waits until GET /health answers 200 (start-up deadline),
and returns a `Server`. Every server started by a test is stopped by PID at teardown.
"""

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import psutil
import pytest
import yaml

START_DEADLINE = 30.0     # seconds; the machine is small and shared
STOP_DEADLINE = 15.0


def free_port():
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout, what):
    """Poll `predicate` until it returns a true value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.02)


class Server:
    """A running `llmsim serve`: .port, .pid, .proc, .base_url, and its combined output."""

    def __init__(self, proc, port, host, log_path):
        self.proc = proc
        self.pid = proc.pid
        self.port = port
        self.base_url = f"http://{host}:{port}"
        self.log_path = log_path

    def output(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def workers(self):
        """{pid: process title} of the master's live children."""
        out = {}
        for child in psutil.Process(self.pid).children():
            try:
                out[child.pid] = " ".join(child.cmdline()).strip()
            except psutil.NoSuchProcess:
                pass
        return out

    def reload(self, path, settings, workers=1):
        """Write `settings` (latency off) to the config file `path`, SIGHUP, and wait until
        `workers` new workers serve and none of the old ones is left."""
        before = set(self.workers())
        path.write_text(yaml.safe_dump({"no_latency": True, **settings}))
        self.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: len(self.workers()) == workers and not set(self.workers()) & before,
                 30, "the workers to be replaced")
        wait_for(self.healthy, 30, "the new workers to serve")

    def healthy(self):
        try:
            return httpx.get(self.base_url + "/health", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_healthy(self, timeout=START_DEADLINE):
        def ready():
            if self.proc.poll() is not None:
                pytest.fail(f"llmsim serve exited with {self.proc.returncode}:\n{self.output()}")
            return self.healthy()
        wait_for(ready, timeout, f"GET /health on {self.base_url}")

    def wait_exit(self, timeout=STOP_DEADLINE):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"llmsim serve still running after {timeout:.0f}s:\n{self.output()}")

    def stop(self):
        """Fast stop by PID; SIGKILL the master and its children if it does not exit."""
        if self.proc.poll() is not None:
            return
        try:
            children = psutil.Process(self.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        self.proc.send_signal(signal.SIGQUIT)
        try:
            self.proc.wait(STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for child in children:
            try:
                child.kill()
            except psutil.NoSuchProcess:
                pass


@pytest.fixture
def port():
    return free_port()


@pytest.fixture
def server(tmp_path):
    """Factory: server(*args, env=None, port=None, wait=True) -> Server."""
    started = []

    def start(*args, env=None, port=None, wait=True):
        port = port or free_port()
        host = "127.0.0.1"
        if "--host" in args:
            host = args[list(args).index("--host") + 1]
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSIM_")}
        full_env.update(env or {})
        log_path = tmp_path / f"llmsim-{port}-{len(started)}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-m", "llmsim", "serve", "--port", str(port),
                 *map(str, args)],
                env=full_env, cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT)
        srv = Server(proc, port, host, log_path)
        started.append(srv)
        if wait:
            srv.wait_healthy()
        return srv

    yield start
    for srv in started:
        srv.stop()
