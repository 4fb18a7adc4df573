"""Streaming client process for the streams part (run by fidelity.py, one per 2,500 streams).

Each connection sends the streamed chat request, reads the chunked SSE answer to its end
and sends the next one at once (closed loop) until the measurement window closes. Raw
asyncio protocol on uvloop, minimal parsing: receive times are time.monotonic_ns() taken
first thing in data_received; content deltas are counted with bytes.count of a fixed
marker (no JSON decoding). Of what arrives inside the window [w0, w1) it keeps
histograms of the TTFT error (first content delta − request sent − configured TTFT) and
ITL error (gap between content deltas − configured ITL), and counts the content deltas.
Several deltas in one read share its timestamp (gaps of 0: the client saw them together).
The send timing is checked too: how late each request left compared with when it was
meant to (its ramp slot for the first, the receipt of the previous [DONE] afterwards).
"""
import asyncio
import time

import uvloop

import clientproc
from hist import Histogram

DELTA = b'"delta":{"content":"'  # a content delta; the role chunk has {"role":... first
DONE = b"data: [DONE]"
END = b"\r\n0\r\n\r\n"  # the last chunk of a chunked body (data chunks hold no \r\n)
CHUNK_END = b"\n\n\r\n"  # the end of a chunk of SSE events: nothing split at the read's end
# bytes carried over a read that ends mid-chunk: enough for a split content marker, or for
# "data: [DONE]\n\n\r\n" followed by part of END
KEEP = max(len(DELTA) - 1, len(DONE) + len(CHUNK_END) + len(END) - 1)
STATUS_OK = b"HTTP/1.1 200 "
monotonic_ns = time.monotonic_ns


class Client:
    """What one process measures, shared by its connections."""

    def __init__(self, job, loop):
        self.request = job["request"].encode("latin-1")
        self.ttft_ns, self.itl_ns, self.expect = job["ttft_ns"], job["itl_ns"], job["events"]
        self.w0, self.w1 = job["w0_ns"], job["w1_ns"]
        self.ttft, self.itl, self.send_late = Histogram(), Histogram(), Histogram()
        self.events = 0  # content deltas received inside the window
        self.streams_ok = 0
        self.errors = {}
        self.conns = set()  # connections opening or open
        self.ramped = False
        self.all_done = loop.create_future()

    def error(self, kind):
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def closed(self, conn):
        self.conns.discard(conn)
        self.check_done()

    def check_done(self):
        if self.ramped and not self.conns and not self.all_done.done():
            self.all_done.set_result(None)


class StreamConn(asyncio.Protocol):
    """One keep-alive connection running streams back to back."""

    __slots__ = ("c", "transport", "active", "sent", "last", "n", "tail", "prev", "first")

    def __init__(self, client):
        self.c = client
        self.transport = None
        self.active = False  # a request sent and its answer not finished

    def connection_made(self, transport):
        self.transport = transport

    def send(self, intended_ns):
        self.n, self.tail, self.prev, self.first, self.last = 0, b"", b"", True, 0
        self.active = True
        self.transport.write(self.c.request)
        self.sent = now = monotonic_ns()
        if self.c.w0 <= now < self.c.w1:
            self.c.send_late.add(now - intended_ns)

    def data_received(self, data):
        now = monotonic_ns()
        seen = 0  # content markers already counted (in the carried-over tail)
        if self.tail:  # the previous read ended inside a chunk
            seen = self.tail.count(DELTA)
            data = self.tail + data
            self.tail = b""
        if self.first:
            if len(data) < len(STATUS_OK):
                self.tail = data
                return
            self.first = False
            if not data.startswith(STATUS_OK):
                self.c.error("status " + data[9:12].decode("latin-1", "replace"))
                self.active = False
                self.transport.close()
                return
        n = data.count(DELTA) - seen
        if n:
            c = self.c
            if c.w0 <= now < c.w1:
                if self.n == 0:
                    c.ttft.add(now - self.sent - c.ttft_ns)
                else:
                    c.itl.add(now - self.last - c.itl_ns)
                if n > 1:
                    c.itl.add(-c.itl_ns, n - 1)
                c.events += n
            self.n += n
            self.last = now
        if data.endswith(CHUNK_END):  # the usual read: whole event chunks
            self.prev = data
        elif data.endswith(END) or (self.prev + data).endswith(END):
            self.finished(now, DONE in data or DONE in self.prev)
        else:
            self.tail = data[-KEEP:]

    def finished(self, now, done_seen):
        c = self.c
        self.active = False
        if self.n == c.expect and done_seen:
            c.streams_ok += 1
        else:
            c.error("no [DONE]" if not done_seen else
                    f"{self.n} content deltas instead of {c.expect}")
        if now < c.w1:
            self.send(now)
        else:
            self.transport.close()

    def connection_lost(self, exc):
        if self.active:
            self.c.error("closed mid-stream")
        self.c.closed(self)


async def run(job):
    loop = asyncio.get_running_loop()
    c = Client(job, loop)
    connecting = set()

    async def open_one(i, slot):
        conn = StreamConn(c)
        c.conns.add(conn)
        try:
            await clientproc.connect(loop, lambda: conn, job["port"],
                                     job["first"] + i * job["stride"])
        except OSError as e:
            c.error(f"connect: {e.strerror or e}")
            c.closed(conn)
            return
        conn.send(slot)

    def start(coro):
        task = loop.create_task(coro)
        connecting.add(task)
        task.add_done_callback(connecting.discard)

    opened = await clientproc.ramp(
        job["n"], job["first"], job["stride"], job["t0_ns"], job["rate"], job["w0_ns"],
        lambda i, slot: start(open_one(i, slot)))
    if opened < job["n"]:
        c.error("ramp not finished before the window")
    c.ramped = True
    c.check_done()
    try:
        await asyncio.wait_for(asyncio.shield(c.all_done),
                               max(0.0, (job["hard_ns"] - monotonic_ns()) / 1e9))
    except asyncio.TimeoutError:
        c.errors["unfinished at the deadline"] = len(c.conns)
        for task in list(connecting):
            task.cancel()
        for conn in list(c.conns):
            conn.active = False
            if conn.transport is not None:
                conn.transport.abort()
    return {
        "opened": opened, "streams_ok": c.streams_ok,
        "events": c.events, "errors": c.errors,
        "ttft": c.ttft.to_json(), "itl": c.itl.to_json(), "send_late": c.send_late.to_json(),
    }


def main():
    job = clientproc.start_child()
    clientproc.finish(job, uvloop.run(run(job)))


if __name__ == "__main__":
    main()
