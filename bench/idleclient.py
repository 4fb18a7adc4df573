"""Idle-connection client process for the connections part (run by conns.py).

Opens its share of the connections at a bounded rate, sends `GET /health` on each, reads
the answer and then leaves the connection open and idle (keep-alive). Prints
{"event": "ready"} once every connection has its answer, keeps them until its stdin
closes (or the hard deadline), then closes them; its result says how many the server
dropped meanwhile.
"""
import asyncio
import sys
import time

import uvloop

import clientproc

HEAD_END = b"\r\n\r\n"


class IdleConn(asyncio.Protocol):
    """Sends one request, waits for the whole answer, then stays idle."""

    def __init__(self, request, answered):
        self.request, self.answered = request, answered
        self.transport, self.buf, self.length = None, b"", None
        self.ok = self.lost = False  # answered 200 in full; closed since

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data):
        if self.answered.done():
            return
        self.buf += data
        if self.length is None and HEAD_END in self.buf:
            head, _, self.buf = self.buf.partition(HEAD_END)
            if not head.startswith(b"HTTP/1.1 200 "):
                self.answered.set_exception(RuntimeError(head[:12].decode("latin-1")))
                return
            self.length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    self.length = int(value)
        if self.length is not None and len(self.buf) >= self.length:
            self.ok = True
            self.answered.set_result(None)

    def connection_lost(self, exc):
        self.lost = True
        if not self.answered.done():
            self.answered.set_exception(ConnectionError("closed before the answer"))


async def run(job):
    loop = asyncio.get_running_loop()
    request = job["request"].encode("latin-1")
    conns, waits, errors = [], [], {}

    def open_one(i, slot):
        answered = loop.create_future()
        conn = IdleConn(request, answered)
        conns.append(conn)
        waits.append(loop.create_task(opened(conn, answered, job["first"] + i * job["stride"])))

    async def opened(conn, answered, index):
        try:
            await clientproc.connect(loop, lambda: conn, job["port"], index)
            await answered
            return True
        except (OSError, RuntimeError) as e:
            kind = type(e).__name__ + ": " + str(e)[:60]
            errors[kind] = errors.get(kind, 0) + 1
            return False

    n = await clientproc.ramp(job["n"], job["first"], job["stride"], job["t0_ns"],
                              job["rate"], job["ramp_deadline_ns"], open_one)
    timeout = max(0.0, (job["hard_ns"] - time.monotonic_ns()) / 1e9)
    done, pending = await asyncio.wait(waits, timeout=timeout) if waits else (set(), set())
    for task in pending:
        task.cancel()
    ok = sum(1 for t in done if t.result())
    clientproc.emit({"event": "ready", "slots": n, "ok": ok, "errors": errors})

    released = loop.create_future()
    loop.add_reader(sys.stdin.fileno(), lambda: released.done() or released.set_result(None))
    try:
        await asyncio.wait_for(released, max(0.0, (job["hard_ns"] - time.monotonic_ns()) / 1e9))
    except asyncio.TimeoutError:
        errors["not released before the deadline"] = 1
    dropped = sum(1 for c in conns if c.ok and c.lost)
    for c in conns:
        if c.transport is not None:
            c.transport.close()
    return {"dropped": dropped, "errors": errors}


def main():
    job = clientproc.start_child()
    clientproc.finish(job, uvloop.run(run(job)))


if __name__ == "__main__":
    main()
