"""One worker process: a uvloop loop serving the master's listening socket for its slot.

The master imports this module (and through `preload`, every provider module) before it
forks, so a worker starts with everything imported and only builds its routes. It sets the
title and CPU pinning, then calls `run`. SIGTERM drains (stop accepting, answer what is in
flight, close), SIGINT/SIGQUIT stop at once.
"""

import asyncio
import importlib
import logging
import os
import signal
import time

import uvloop

from llmsim import api
from llmsim.config import planner
from llmsim.core import loopgil, stream
from llmsim.core.connection import Server
from llmsim.core.router import Router
from llmsim.sim.generators import Generators
from llmsim.sim.script import RuleUses

log = logging.getLogger("llmsim.worker")

BOOT_FAILED = 3
HEARTBEAT_INTERVAL = 0.5
# During a drain, a keep-alive connection idle this long is closed; busy ones finish first
# and carry `connection: close` on their last answer.
DRAIN_IDLE_CLOSE = 1.0
STATE_SERVING, STATE_DRAINING = 2, 3
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(now=None):
    """The Date header value (RFC 9110 IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT") of
    `now` (default: the current time); the package email.utils would pull in is not needed."""
    t = time.gmtime(now)
    return (f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT").encode()


def preload():
    """Import every provider module `build` uses; the master calls this before it forks."""
    for module in api.PROVIDERS:
        importlib.import_module(module)


class WorkerContext:
    """What API modules get to build their handlers: config, planner, segment, worker index,
    the segment's bank of rate-limit buckets (llmsim.policy.ratelimit) and the content
    generators, whose scripted rules count uses in the segment's bank `rule_bank`."""

    def __init__(self, config, index, segment, rate_bank=0, rule_bank=0):
        self.config = config
        self.worker_index = index
        self.segment = segment
        self.rate_bank = rate_bank
        self.generators = Generators(config.generators, RuleUses(segment, rule_bank))
        self.planner = None
        self.route_names = []


def build(config, index, segment, rate_bank=0, rule_bank=0):
    """The protocol server for this worker: routes compiled once, handlers bound to ctx."""
    ctx = WorkerContext(config, index, segment, rate_bank, rule_bank)
    ctx.planner = planner(config)
    router = Router(api.routes(ctx))
    ctx.route_names[:0] = router.names   # then the routes only a shared path's handler answers
    return Server(router, config, stream.start, segment, index)


def run(config, index, sock, segment, rate_bank=0, rule_bank=0, pin=None):
    """Serve until told to stop; returns the process exit code. `pin` (the master's CPU
    pinning) runs once the server is built, before the worker reports serving: a worker
    pinned while it boots waits for its CPU even when another one is idle (the master forks
    the next worker on it, or another process runs there)."""
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        server = build(config, index, segment, rate_bank, rule_bank)
        listener = loop.run_until_complete(
            loop.create_server(server.protocol_factory, sock=sock, backlog=config.backlog))
        if pin is not None:
            pin()
    except Exception as exc:  # the master reports this and stops instead of fork-looping
        log.error("worker %d failed to boot: %s", index, exc)
        return BOOT_FAILED
    worker = _Worker(loop, server, listener, config, index, segment)
    worker.start()
    try:
        loopgil.hold(loop)
    except RuntimeError as exc:   # a uvloop that does not export libuv: only slower
        log.warning("worker %d: the GIL is taken per callback: %s", index, exc)
    try:
        loop.run_forever()
    finally:
        loopgil.release()
        stream.stop()
        loop.close()
    return 0


class _Worker:
    def __init__(self, loop, server, listener, config, index, segment):
        self.loop = loop
        self.server = server
        self.listener = listener
        self.config = config
        self.index = index
        self.segment = segment
        self.deadline = None

    def start(self):
        loop = self.loop
        loop.add_signal_handler(signal.SIGTERM, self.drain)
        loop.add_signal_handler(signal.SIGINT, loop.stop)
        loop.add_signal_handler(signal.SIGQUIT, loop.stop)
        self.tick()
        self.heartbeat()
        if self.segment is not None:
            self.segment.set_worker(self.index, os.getpid(), STATE_SERVING)

    def tick(self):
        """Once a second: the cached Date header and the timeout reaper."""
        self.server.set_date(http_date())
        self.server.reap()
        self.loop.call_later(1.0, self.tick)

    def heartbeat(self):
        if self.segment is not None:
            self.segment.heartbeat(self.index)
        self.loop.call_later(HEARTBEAT_INTERVAL, self.heartbeat)

    def drain(self):
        if self.deadline is not None:
            return
        log.info("worker %d draining", self.index)
        self.deadline = time.monotonic() + self.config.graceful_timeout
        if self.segment is not None:
            self.segment.set_worker(self.index, os.getpid(), STATE_DRAINING)
        self.listener.close()
        self.server.drain(DRAIN_IDLE_CLOSE)
        self.check_drained()

    def check_drained(self):
        if self.server.connection_count == 0 or time.monotonic() >= self.deadline:
            if self.server.connection_count:
                log.warning("worker %d: graceful timeout, closing %d connections",
                            self.index, self.server.connection_count)
            self.loop.stop()
            return
        self.server.drain(DRAIN_IDLE_CLOSE)
        self.loop.call_later(0.05, self.check_drained)
