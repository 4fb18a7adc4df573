"""Server processes for the bench: free ports, start/stop by PID, process trees, CPU time.

Everything reads /proc directly so that the numbers mean the same for llmsim and nginx:
utime + stime of every process in the server's tree (master and workers).
"""
import os
import signal
import socket
import subprocess
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stat_fields(pid):
    """Fields of /proc/PID/stat after the command name (index 0 is the state)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    return data[data.rindex(b")") + 2:].split()


def descendants(pid):
    """pid and every live process below it, found by walking parent links in /proc."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            ppid = int(_stat_fields(name)[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(name))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, ()))
    return tree


def cpu_seconds(pids):
    """Sum of utime + stime of the given processes, in seconds (processes gone count 0)."""
    ticks = 0
    for pid in pids:
        try:
            f = _stat_fields(pid)
        except OSError:
            continue
        ticks += int(f[11]) + int(f[12])  # fields 14 and 15 of proc(5): utime, stime
    return ticks / CLK_TCK


def system_seconds(pids):
    """Sum of stime (time in the kernel) of the given processes, in seconds."""
    ticks = 0
    for pid in pids:
        try:
            ticks += int(_stat_fields(pid)[12])
        except OSError:
            continue
    return ticks / CLK_TCK


def sched_ms(pid):
    """(CPU time, time spent runnable but waiting for a CPU) of one process so far, in ms,
    from /proc/PID/schedstat (nanoseconds, unlike the clock ticks of /proc/PID/stat)."""
    with open(f"/proc/{pid}/schedstat") as f:
        on_cpu, waiting, _ = f.read().split()
    return int(on_cpu) / 1e6, int(waiting) / 1e6


class Server:
    """One server process tree started with Popen and stopped by PID."""

    def __init__(self, name, argv, port, log_path):
        self.name, self.argv, self.port = name, argv, port
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.started = time.monotonic()
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )

    def pids(self):
        return descendants(self.proc.pid)

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=10.0):
        """Stop the tree: SIGTERM to the top process; once it is gone, SIGTERM to any process
        of the tree it left behind (e.g. if it crashed), then SIGKILL to what still lives."""
        tree = self.pids()
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        left = [pid for pid in tree[1:] if _alive_pid(pid)]
        for pid in left:
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for pid in [tree[0], *left]:
            while _alive_pid(pid) and time.monotonic() < deadline:
                time.sleep(0.01)
            if _alive_pid(pid):
                os.kill(pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.wait()
        return self.proc.returncode

    def log_tail(self, n=2000):
        """The last n bytes of what the server wrote to stdout/stderr."""
        with open(self.log_path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - n))
            return f.read().decode(errors="replace")


def _alive_pid(pid):
    try:
        return _stat_fields(pid)[0] != b"Z"
    except OSError:
        return False
