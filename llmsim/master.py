"""The prefork master: binds the listening sockets, forks and pins workers, keeps them alive.

It never serves a request. Signal handlers only enqueue; one loop handles the queue, reaps
children, watches heartbeats in shared memory and keeps the worker count:
  TERM       graceful stop: workers drain up to graceful_timeout, then are killed
  INT, QUIT  fast stop
  HUP        reload the config and replace every worker with no failed request (rate-limit
             buckets start full when the limits change, else keep their state)
  CHLD       a dead worker is respawned with exponential back-off
A worker that exits with BOOT_ERROR stops the master (or aborts the reload that started it)
instead of fork-looping. systemd is told READY / RELOADING / STOPPING.

The master binds one SO_REUSEPORT socket per worker slot before forking and keeps its copy,
so a replacement worker accepts the connections its predecessor left queued. Each live worker
writes its own shared-memory block (the `index` passed to `worker.run`): the lowest block no
live process uses, so a new worker and the draining one it replaces never share a block. A
block is reset (its counts folded into the node totals) once its process has been reaped.
"""

import collections
import errno
import functools
import logging
import os
import select
import signal
import socket
import sys
import time

from setproctitle import setproctitle

import llmsim.worker
from llmsim import config as configuration
from llmsim import notify, tuning
from llmsim.core import proc
from llmsim.core.shm import BOOTING, DRAINING, MAX_WORKERS, SERVING, Segment
from llmsim.errors import LlmsimError
from llmsim.policy import ratelimit
from llmsim.sim import script

log = logging.getLogger("llmsim.master")

BOOT_ERROR = 3                 # worker exit code: cannot boot, do not respawn
BACKOFF_FIRST = 0.1            # seconds before the first respawn of a slot
BACKOFF_MAX = 10.0
BACKOFF_RESET = 10.0           # a worker that served this long clears its slot's back-off
FAST_STOP_TIMEOUT = 5.0        # INT/QUIT: SIGKILL whatever is left after this
KILL_MARGIN = 1.0              # TERM: SIGKILL this long after graceful_timeout
HANDLED = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGCHLD)


def _address(host, port):
    # An ASCII name goes as bytes: a str is IDNA-encoded first, which imports encodings.idna,
    # stringprep and unicodedata (about 1.5 ms of start-up) for nothing.
    name = host.encode() if host.isascii() else host
    try:
        family, _, _, _, addr = socket.getaddrinfo(
            name, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as err:
        raise LlmsimError(f"cannot resolve host {host!r}: {err.strerror}") from None
    return family, addr


def _bind_error(err, host, port):
    if err.errno == errno.EADDRINUSE:
        return LlmsimError(f"port {port} on {host} is already in use")
    if err.errno == errno.EACCES:
        return LlmsimError(f"permission denied binding port {port} on {host} "
                           f"(ports below 1024 need root or CAP_NET_BIND_SERVICE)")
    return LlmsimError(f"cannot bind {host}:{port}: {err.strerror}")


def probe_port(host, port):
    """Fail when anything listens on host:port, even another llmsim with SO_REUSEPORT."""
    family, addr = _address(host, port)
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no conflict
        try:
            probe.bind(addr)
        except OSError as err:
            raise _bind_error(err, host, port) from None


def listen_reuseport(host, port, backlog):
    """One bound, listening, non-blocking SO_REUSEPORT socket."""
    family, addr = _address(host, port)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(addr)
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError as err:
        sock.close()
        raise _bind_error(err, host, port) from None
    return sock


def _pin(slot, cpu):
    """Pin a worker to its CPU (None: leave it unpinned) and say so in its title."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
        setproctitle(f"llmsim: worker {slot} cpu {cpu}")


def _describe(code):
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


class Generation:
    """One configuration's worth of slots: the config, a socket and a CPU per slot."""

    def __init__(self, config, sockets, cpus):
        self.config = config
        self.sockets = sockets
        self.cpus = cpus
        self.rate_bank = 0                      # its workers' rate-limit buckets
        self.rule_bank = 0                      # and scripted rules' use counters
        self.backoff = [0.0] * len(cpus)        # next respawn delay per slot
        self.respawn_at = [0.0] * len(cpus)     # monotonic time a slot may respawn

    @classmethod
    def open(cls, config, previous=None):
        """Bind the sockets for `config`, reusing `previous`'s where host and port match."""
        cpus = configuration.worker_cpus(config)
        reused = []
        if previous and (previous.config.host, previous.config.port) == (config.host, config.port):
            reused = previous.sockets[:len(cpus)]
            for sock in reused:
                sock.listen(config.backlog)
        else:
            probe_port(config.host, config.port)
        sockets = list(reused)
        try:
            while len(sockets) < len(cpus):
                sockets.append(listen_reuseport(config.host, config.port, config.backlog))
        except LlmsimError:
            for sock in sockets[len(reused):]:
                sock.close()
            raise
        return cls(config, sockets, cpus)

    def close_sockets(self, keep=()):
        for sock in self.sockets:
            if sock not in keep:
                sock.close()


class Worker:
    """A live child process."""

    __slots__ = ("pid", "gen", "slot", "block", "started", "serving_since", "retiring",
                 "kill_at")

    def __init__(self, pid, gen, slot, block):
        self.pid = pid
        self.gen = gen
        self.slot = slot
        self.block = block
        self.started = time.monotonic()
        self.serving_since = None
        self.retiring = False     # being stopped on purpose: never respawned
        self.kill_at = None       # SIGKILL deadline once it is being stopped

    def __str__(self):
        cpu = self.gen.cpus[self.slot]
        return f"worker {self.slot} (pid {self.pid}" + (f", cpu {cpu})" if cpu is not None else ")")

    def signal(self, signum):
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            pass


class Master:
    def __init__(self, config, config_path=None, overrides=None):
        self.config = config
        self.config_path = config_path
        self.overrides = overrides or {}
        self.current = None        # the Generation whose slots are kept filled
        self.previous = None       # the one being replaced while a reload is in progress
        self.reload_again = False
        self.workers = {}          # pid -> Worker
        self.segment = None
        self.signals = collections.deque()
        self.wakeup = None         # self-pipe (read end, write end)
        self.stopping = None       # None | "graceful" | "fast"
        self.ready = False
        self.exit_code = 0
        self.pid = os.getpid()

    # ---- start-up -----------------------------------------------------------------------

    def run(self):
        """Serve until stopped; returns the process exit code."""
        pinned = {c for c in configuration.worker_cpus(self.config) if c is not None}
        tuning.report(tuning.apply(self.config, sorted(pinned or os.sched_getaffinity(0))))
        self.current = Generation.open(self.config)
        try:
            self.segment = Segment.create(len(self.current.cpus))
            self.segment.expected_workers = len(self.current.cpus)   # GET /ready
            self._install_signals()
            self._set_title()
            log.info("llmsim master pid %d: %d workers on http://%s:%d", os.getpid(),
                     len(self.current.cpus), self.config.host, self.config.port)
            self._loop()
        finally:
            self._cleanup()
        return self.exit_code

    def _set_title(self):
        setproctitle(f"llmsim: master {self.config.host}:{self.config.port} "
                     f"({len(self.current.cpus)} workers)")

    def _install_signals(self):
        read_end, write_end = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.wakeup = (read_end, write_end)
        # poll, not select: select.select's large on-stack fd sets crash the master under
        # valgrind (the callgrind benchmark) when a signal lands during the call.
        self.poller = select.poll()
        self.poller.register(read_end, select.POLLIN)
        signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
        for signum in HANDLED:
            signal.signal(signum, self._enqueue)

    def _enqueue(self, signum, frame):
        self.signals.append(signum)

    def _cleanup(self):
        if self.wakeup:
            signal.set_wakeup_fd(-1)
            for signum in HANDLED:
                signal.signal(signum, signal.SIG_DFL)
            for fd in self.wakeup:
                os.close(fd)
            self.wakeup = None
        for gen in (self.current, self.previous):
            if gen:
                gen.close_sockets()

    # ---- main loop ----------------------------------------------------------------------

    def _loop(self):
        while True:
            self._handle_signals()
            self._reap()
            self._enforce_deadlines()
            if self.stopping:
                if not self.workers:
                    return
            else:
                self._watch()
                self._fill_slots()
                self._finish_reload()
                self._check_ready()
                if self.reload_again and not self._reload_busy():
                    self.reload_again = False
                    self._reload()
            self._sleep()

    def _sleep(self):
        if self.stopping or self.previous or any(
                w.serving_since is None and not w.retiring for w in self.workers.values()):
            timeout = 0.05
        else:
            timeout = 0.5
            filled, now = self._filled(), time.monotonic()
            for slot, due in enumerate(self.current.respawn_at):
                if due > now and slot not in filled:
                    timeout = min(timeout, due - now)
        try:
            self.poller.poll(timeout * 1000)
            while os.read(self.wakeup[0], 4096):
                pass
        except BlockingIOError:
            pass

    def _handle_signals(self):
        while self.signals:
            signum = self.signals.popleft()
            if signum == signal.SIGTERM:
                log.info("SIGTERM: graceful stop (up to %.1fs)",
                         self.current.config.graceful_timeout)
                self._stop(graceful=True)
            elif signum in (signal.SIGINT, signal.SIGQUIT):
                log.info("%s: fast stop", signal.Signals(signum).name)
                self._stop(graceful=False)
            elif signum == signal.SIGHUP and not self.stopping:
                self._reload()
            # SIGCHLD only wakes the loop: reaping runs on every turn.

    def _reap(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            worker = self.workers.pop(pid, None)
            if worker is None:
                continue
            if worker.serving_since is None and self.segment.worker_state(worker.block) in (
                    SERVING, DRAINING):   # it served before this loop noticed
                worker.serving_since = time.monotonic()
            self.segment.reset_worker(worker.block)
            self._fit_segment()
            self._exited(worker, os.waitstatus_to_exitcode(status))

    def _exited(self, worker, code):
        if self.stopping or worker.retiring:
            log.info("%s %s", worker, _describe(code))
            return
        if worker.gen is not self.current:
            log.warning("%s %s while being replaced", worker, _describe(code))
            return
        starting = not self.ready or self.previous is not None
        if code == BOOT_ERROR or (starting and worker.serving_since is None):
            # Cannot boot, or died before serving while starting or reloading: a respawn
            # would most likely fail the same way.
            reason = f"worker {worker.slot} " + (
                f"failed to boot (exit {BOOT_ERROR})" if code == BOOT_ERROR
                else f"{_describe(code)} before serving")
            if self.previous:
                self._abort_reload(reason)
            else:
                log.error("%s; stopping", reason)
                self.exit_code = BOOT_ERROR
                self._stop(graceful=False)
            return
        gen, slot, now = worker.gen, worker.slot, time.monotonic()
        if worker.serving_since is not None and now - worker.serving_since >= BACKOFF_RESET:
            gen.backoff[slot] = 0.0
        delay = gen.backoff[slot] or BACKOFF_FIRST
        gen.backoff[slot] = min(delay * 2, BACKOFF_MAX)
        gen.respawn_at[slot] = now + delay
        log.warning("%s %s; respawning in %.1fs", worker, _describe(code), delay)

    def _watch(self):
        """Note workers that started serving; kill those that hang at boot or stop beating."""
        now = time.monotonic()
        for worker in self.workers.values():
            if worker.kill_at is not None:
                continue
            timeout = worker.gen.config.heartbeat_timeout
            if worker.serving_since is None:
                if self.segment.worker_state(worker.block) == SERVING:
                    worker.serving_since = now
                    log.debug("%s serving", worker)
                elif timeout and now - worker.started > timeout:
                    log.warning("%s not serving after %.1fs; killing", worker, timeout)
                    self._kill(worker)
            elif timeout and self.segment.heartbeat_age(worker.block) > timeout:
                log.warning("%s missed heartbeats for %.1fs; killing", worker, timeout)
                self._kill(worker)

    def _kill(self, worker):
        worker.signal(signal.SIGKILL)
        worker.kill_at = float("inf")   # reaped soon; respawned as any dead worker

    def _filled(self):
        return {w.slot for w in self.workers.values() if w.gen is self.current and not w.retiring}

    def _fill_slots(self):
        filled, now = self._filled(), time.monotonic()
        for slot, due in enumerate(self.current.respawn_at):
            if slot not in filled and now >= due:
                self._spawn(self.current, slot)

    # ---- workers ------------------------------------------------------------------------

    def _fit_segment(self, block=-1):
        """Size the segment's slot count to cover `block`, every live worker's block and the
        current generation (blocks above are only used while workers are being replaced)."""
        top = max([block, len(self.current.cpus) - 1, *(w.block for w in self.workers.values())])
        if top + 1 != self.segment.nworkers:
            self.segment.resize(top + 1)

    def _spawn(self, gen, slot):
        used = {w.block for w in self.workers.values()}
        block = min(b for b in range(MAX_WORKERS + 1) if b not in used)
        if block == MAX_WORKERS:
            log.error("cannot spawn worker %d: all %d shared-memory blocks in use",
                      slot, MAX_WORKERS)
            gen.respawn_at[slot] = time.monotonic() + BACKOFF_MAX
            return
        self._fit_segment(block)
        self.segment.set_worker(block, 0, BOOTING)
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)
        try:
            pid = os.fork()
        except OSError as err:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            log.error("cannot fork worker %d: %s", slot, err)
            gen.respawn_at[slot] = time.monotonic() + BACKOFF_MAX
            return
        if pid == 0:
            self._child(gen, slot, block, mask)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        self.workers[pid] = Worker(pid, gen, slot, block)

    def _child(self, gen, slot, block, mask):
        """In the forked child: become worker `slot` and never return."""
        code = BOOT_ERROR
        try:
            # Follow the master if it dies without stopping us (SIGKILL, OOM): drain and exit.
            proc.die_with_parent(signal.SIGTERM)
            if os.getppid() != self.pid:
                os.kill(os.getpid(), signal.SIGTERM)
            signal.set_wakeup_fd(-1)
            for signum in HANDLED:
                signal.signal(signum, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            for fd in self.wakeup:
                os.close(fd)
            sock = gen.sockets[slot]
            for other in (self.current, self.previous):
                if other:
                    other.close_sockets(keep=(sock,))
            setproctitle(f"llmsim: worker {slot}")
            code = 1   # from here on a crash is respawned, not a boot error
            code = llmsim.worker.run(gen.config, block, sock, self.segment, gen.rate_bank,
                                     gen.rule_bank, functools.partial(_pin, slot, gen.cpus[slot]))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            log.exception("worker %d crashed", slot)
        finally:
            logging.shutdown()
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, ValueError):
                    pass
            os._exit(code if isinstance(code, int) else 1)

    # ---- stop ---------------------------------------------------------------------------

    def _stop(self, graceful):
        if self.stopping == "fast" or (self.stopping and graceful):
            return
        if not self.stopping:
            notify.notify("STOPPING=1")
        self.stopping = "graceful" if graceful else "fast"
        deadline = time.monotonic() + (
            self.current.config.graceful_timeout + KILL_MARGIN if graceful else FAST_STOP_TIMEOUT)
        for worker in self.workers.values():
            worker.signal(signal.SIGTERM if graceful else signal.SIGQUIT)
            worker.kill_at = min(worker.kill_at or deadline, deadline)
        # Workers stop accepting; closing the master's copies lets queued connections go.
        for gen in (self.current, self.previous):
            if gen:
                gen.close_sockets()
        self.previous = None

    def _enforce_deadlines(self):
        """SIGKILL workers being stopped that outlive their deadline."""
        now = time.monotonic()
        for worker in self.workers.values():
            if worker.kill_at is not None and now >= worker.kill_at:
                log.warning("%s did not stop in time; killing", worker)
                worker.signal(signal.SIGKILL)
                worker.kill_at = float("inf")

    # ---- reload -------------------------------------------------------------------------

    def _reload_busy(self):
        """A reload is under way, or the workers it replaced still drain (and hold blocks)."""
        return self.previous is not None or any(w.retiring for w in self.workers.values())

    def _reload(self):
        if self._reload_busy():
            log.info("SIGHUP: the last reload is still completing; reloading again after it")
            self.reload_again = True
            return
        log.info("SIGHUP: reloading %s", self.config_path or "the configuration")
        notify.reloading()
        try:
            config = configuration.load(self.config_path, self.overrides)
            gen = Generation.open(config, self.current)
        except LlmsimError as err:
            log.error("reload failed: %s; keeping the running workers", err)
            notify.notify("READY=1")
            return
        # No other generation's workers are left (_reload_busy): the bank it does not use
        # is free to be emptied for the new limits (and rules).
        gen.rate_bank = ratelimit.bank_after_reload(self.current.rate_bank, self.current.config,
                                                    config, self.segment)
        gen.rule_bank = script.bank_after_reload(self.current.rule_bank, self.current.config,
                                                 config, self.segment)
        logging.getLogger().setLevel(config.log_level.upper())
        self.previous, self.current = self.current, gen

    def _finish_reload(self):
        if not self.previous or not self._all_serving():
            return
        old, self.previous = self.previous, None
        deadline = time.monotonic() + old.config.graceful_timeout + KILL_MARGIN
        for worker in self.workers.values():
            if worker.gen is old:
                worker.retiring = True
                worker.kill_at = deadline
                worker.signal(signal.SIGTERM)
        old.close_sockets(keep=self.current.sockets)
        self.config = self.current.config
        self.segment.expected_workers = len(self.current.cpus)
        self._set_title()
        log.info("reloaded: %d workers serving", len(self.current.cpus))
        notify.notify("READY=1", self._status())

    def _abort_reload(self, reason):
        log.error("reload failed: %s; keeping the running workers", reason)
        failed, self.current, self.previous = self.current, self.previous, None
        for worker in self.workers.values():
            if worker.gen is failed:
                worker.retiring = True
                worker.kill_at = time.monotonic() + FAST_STOP_TIMEOUT
                worker.signal(signal.SIGQUIT)
        failed.close_sockets(keep=self.current.sockets)
        logging.getLogger().setLevel(self.config.log_level.upper())
        notify.notify("READY=1", self._status())

    # ---- readiness ----------------------------------------------------------------------

    def _all_serving(self):
        serving = {w.slot for w in self.workers.values()
                   if w.gen is self.current and not w.retiring and w.serving_since is not None}
        return len(serving) == len(self.current.cpus)

    def _status(self):
        return (f"STATUS=serving on {self.config.host}:{self.config.port} "
                f"with {len(self.current.cpus)} workers")

    def _check_ready(self):
        if not self.ready and self._all_serving():
            self.ready = True
            log.info("serving on http://%s:%d with %d workers", self.config.host,
                     self.config.port, len(self.current.cpus))
            notify.notify("READY=1", self._status())
