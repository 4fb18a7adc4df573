"""What the bench needs from the machine and what it records about it."""
import logging
import os
import shutil
import subprocess
import time

import nginx

log = logging.getLogger("bench")

# tool -> Debian package that provides it
TOOLS = {"wrk": "wrk", "nginx": "nginx", "valgrind": "valgrind", "objdump": "binutils"}


def _which(tool):
    if tool == "nginx":
        return nginx.binary()
    return shutil.which(tool)


def ensure_tools(tools):
    """Install the Debian packages for missing tools: apt-get update once, then install."""
    missing = sorted({TOOLS[t] for t in tools if _which(t) is None})
    if not missing:
        return
    log.info("installing %s", " ".join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", *missing], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    still = [t for t in tools if _which(t) is None]
    if still:
        raise SystemExit(f"bench: still missing after apt-get install: {', '.join(still)}")


def _cpu_times():
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]), idle  # guest time is already inside user


def busy_fraction(interval=0.5):
    total0, idle0 = _cpu_times()
    time.sleep(interval)
    total1, idle1 = _cpu_times()
    total = total1 - total0
    return 0.0 if total <= 0 else 1.0 - (idle1 - idle0) / total


def wait_idle(threshold=0.20, limit=10.0):
    """Wait until the whole machine is under threshold busy; return the last busy fraction
    and whether it got there within limit seconds."""
    deadline = time.monotonic() + limit
    while True:
        busy = busy_fraction()
        if busy < threshold:
            return busy, True
        if time.monotonic() >= deadline:
            return busy, False


def _server_python(python, code):
    out = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True)
    if out.returncode == 0:
        return out.stdout.strip()
    return "unknown: " + (out.stderr.strip().splitlines() or ["no output"])[-1]


def build_cflags(python):
    return _server_python(python, "import llmsim.core.buildinfo as b; print(b.BUILD_CFLAGS)")


def sse42_status(python):
    """Whether the pycohttpparser llmsim runs with has picohttpparser's SSE4.2 path
    (the pcmpestri instruction appears in its shared object)."""
    so = _server_python(python, "import pycohttpparser._pycohttpparser as m; print(m.__file__)")
    if not os.path.isfile(so):
        return f"unknown: {so}"
    dis = subprocess.run(["objdump", "-d", so], capture_output=True, text=True).stdout
    n = dis.count("pcmpestri")
    if n:
        return f"yes ({n} pcmpestri in {os.path.basename(so)})"
    return f"no (no pcmpestri in {os.path.basename(so)}; built without -msse4.2)"


def git_commit(repo):
    def git(*args):
        return subprocess.run(["git", "-C", repo, *args], capture_output=True,
                              text=True).stdout.strip()
    commit = git("rev-parse", "--short=12", "HEAD") or "unknown"
    return commit + (" (uncommitted changes)" if git("status", "--porcelain", "-uno") else "")


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def describe(python):
    version = _server_python(python, "import sys; print(sys.version.split()[0])")
    return f"{os.cpu_count()} CPUs ({cpu_model()}), Linux {os.uname().release}, " \
           f"server Python {version}"
