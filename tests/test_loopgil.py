"""llmsim.core.loopgil: a uvloop loop keeps the GIL through each poll, in-process."""
import asyncio
import socket
import threading
import time

import httpx
import pytest
import uvloop

from llmsim.core import loopgil


@pytest.fixture
def loop():
    loop = uvloop.new_event_loop()
    problems = []
    loop.set_exception_handler(lambda _loop, context: problems.append(context))
    yield loop
    loopgil.release()
    loop.close()
    assert problems == []   # closing the loop met no handle it did not know


async def echo_round_trips(loop, count):
    """`count` request/answer round trips over a socket pair, each through a poll."""
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    with a, b:
        for i in range(count):
            await loop.sock_sendall(a, b"ping %d" % i)
            got = await loop.sock_recv(b, 100)
            await loop.sock_sendall(b, got.upper())
            assert await loop.sock_recv(a, 100) == b"PING %d" % i


def test_polls_run_with_the_gil_held_and_callbacks_still_run(loop):
    loopgil.hold(loop)
    before = loopgil.polls_held()
    loop.run_until_complete(echo_round_trips(loop, 200))
    assert loopgil.polls_held() - before >= 200


def test_holding_twice_is_refused(loop):
    loopgil.hold(loop)
    with pytest.raises(RuntimeError, match="already held"):
        loopgil.hold(loop)


def test_released_loop_takes_the_gil_per_callback_again(loop):
    loopgil.hold(loop)
    loopgil.release()
    before = loopgil.polls_held()
    loop.run_until_complete(echo_round_trips(loop, 20))
    assert loopgil.polls_held() == before


def test_handles_still_closing_are_not_reused(loop):
    """The handles live in one place: a second loop waits until the first has closed them."""
    loopgil.hold(loop)
    loopgil.release()
    other = uvloop.new_event_loop()
    try:
        with pytest.raises(RuntimeError, match="still closing"):
            loopgil.hold(other)
        loop.run_until_complete(asyncio.sleep(0))   # the first loop finishes closing them
        loopgil.hold(other)
        before = loopgil.polls_held()
        other.run_until_complete(echo_round_trips(other, 5))
        assert loopgil.polls_held() > before
        loopgil.release()
    finally:
        other.close()


def test_another_thread_is_not_kept_waiting_by_a_blocked_poll(loop):
    """With a second Python thread alive, the poll gives the GIL back: the thread counts on
    while the loop blocks for 0.5 s waiting on a timer."""
    loopgil.hold(loop)
    stop = threading.Event()
    counts = [0]

    def count():
        while not stop.is_set():
            counts[0] += 1
            time.sleep(0.001)

    thread = threading.Thread(target=count)
    thread.start()
    try:
        time.sleep(0.05)
        before, held = counts[0], loopgil.polls_held()
        loop.run_until_complete(asyncio.sleep(0.5))
        during = counts[0] - before
    finally:
        stop.set()
        thread.join(5)
    assert loopgil.polls_held() == held
    assert during >= 50   # ~1 ms a step: a thread kept from the GIL would count none


def test_workers_hold_the_gil_through_their_polls(server):
    srv = server("--workers", "2", "--cpu-affinity", "off")
    for _ in range(20):
        assert httpx.get(srv.base_url + "/health").status_code == 200
    srv.stop()
    assert "the GIL is taken per callback" not in srv.output()
    assert "Traceback" not in srv.output()
