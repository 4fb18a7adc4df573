"""Timer wheel (csrc/llmsim_wheel.h) through its test binding, against a plain Python model."""

import os
import random
import shutil
import subprocess

import pytest

from llmsim.core.wheel import Wheel

CSRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "csrc")
MS = 1_000_000


def ceil_tick(due, origin, tick):
    return -((origin - due) // tick) if due >= origin else 0


class Model:
    """What the wheel promises: a node due at d leaves once the wheel has seen a time t with
    ceil((d - origin) / tick) <= floor((t - origin) / tick); nodes that were already late when
    inserted leave first (in insertion order), then by tick, insertion order within a tick."""

    def __init__(self, tick, origin):
        self.tick, self.origin = tick, origin
        self.cur = 0          # every tick < cur has been handed out
        self.armed = {}       # node -> (late, tick, seq)
        self.seq = 0

    def insert(self, node, due):
        t = ceil_tick(due, self.origin, self.tick)
        self.seq += 1
        self.armed[node] = (t < self.cur, t, self.seq)

    def cancel(self, node):
        self.armed.pop(node, None)

    def advance(self, now):
        if now >= self.origin:
            self.cur = max(self.cur, (now - self.origin) // self.tick + 1)
        due = [(not late, 0 if late else t, seq, node)
               for node, (late, t, seq) in self.armed.items() if late or t < self.cur]
        due.sort()
        for *_, node in due:
            del self.armed[node]
        return [node for *_, node in due]


def test_fires_at_tick_boundary_never_early():
    w = Wheel(MS, 0, 4)
    w.insert(0, int(2.5 * MS))   # tick 3
    w.insert(1, 3 * MS)          # exactly tick 3
    w.insert(2, 3 * MS + 1)      # tick 4
    assert w.next_due_ns() == 3 * MS
    assert w.advance(3 * MS - 1) == []
    assert w.advance(3 * MS) == [0, 1]
    assert w.next_due_ns() == 4 * MS
    assert w.advance(4 * MS + MS // 2) == [2]
    assert w.next_due_ns() is None
    assert len(w) == 0


def test_sub_millisecond_tick():
    w = Wheel(100_000, 0, 3)     # 0.1 ms ticks
    w.insert(0, 150_000)
    w.insert(1, 120_000)
    w.insert(2, 250_000)
    assert w.advance(199_999) == []
    assert w.advance(200_000) == [0, 1]  # same tick: insertion order
    assert w.advance(300_000) == [2]


def test_wake_time_is_the_first_instant_that_hands_a_node_out():
    rnd = random.Random(7)
    tick, origin = 100_000, 123_456_789
    w = Wheel(tick, origin, 200)
    for i in range(200):
        due = origin + rnd.randrange(0, 50 * tick)
        w.insert(i, due)
        wake = w.wake_ns(i)
        assert due <= wake < due + tick
    wakes = sorted((w.wake_ns(i), i) for i in range(200))
    now = origin
    for wake, i in wakes:
        if wake > now:
            assert i not in w.advance(wake - 1)   # one nanosecond earlier is too early
            now = wake
            assert i in w.advance(now)
        assert not w.armed(i)


def test_wake_time_of_an_overdue_node_is_already_past():
    w = Wheel(100_000, 0, 1)
    w.advance(1_000_000)
    w.insert(0, 500_000)
    assert w.wake_ns(0) <= 1_000_000
    assert w.advance(1_000_000) == [0]
    with pytest.raises(ValueError):
        w.wake_ns(0)


def test_far_future_across_revolutions_and_levels():
    origin = 10**12
    w = Wheel(MS, origin, 6)
    dues = {0: 63 * MS, 1: 64 * MS, 2: 4096 * MS + 7, 3: 3600 * 1000 * MS,
            4: 40 * 24 * 3600 * 1000 * MS, 5: 2**62}
    for node, d in dues.items():
        w.insert(node, origin + d)
    order = []
    now = origin
    while len(w):
        nxt = w.next_due_ns()
        assert nxt is not None and nxt >= now
        now = nxt
        order += w.advance(now)
    assert order == [0, 1, 2, 3, 4, 5]


def test_idle_jump_hands_out_everything_in_order():
    w = Wheel(MS, 0, 50)
    rng = random.Random(7)
    dues = [rng.randrange(0, 10**6 * MS) for _ in range(50)]
    for i, d in enumerate(dues):
        w.insert(i, d)
    out = w.advance(10**6 * MS)
    assert sorted(out) == list(range(50))
    ticks = [ceil_tick(dues[i], 0, MS) for i in out]
    assert ticks == sorted(ticks)


def test_cancel_and_rearm():
    w = Wheel(MS, 0, 3)
    w.insert(0, 5 * MS)
    w.insert(1, 5 * MS)
    with pytest.raises(ValueError):
        w.insert(0, 6 * MS)
    w.cancel(0)
    w.cancel(0)                  # idle: no-op
    assert not w.armed(0)
    w.insert(0, 9 * MS)
    assert len(w) == 2
    assert w.advance(5 * MS) == [1]
    w.cancel(0)
    assert w.next_due_ns() is None
    assert w.advance(10**9) == []


def test_late_insert_goes_out_on_next_advance():
    w = Wheel(MS, 0, 2)
    assert w.advance(10 * MS) == []
    w.insert(0, 3 * MS)          # already late
    assert w.next_due_ns() <= 10 * MS
    assert w.advance(10 * MS) == [0]
    w.insert(1, -5 * MS)         # before the origin
    assert w.advance(10 * MS) == [1]


def test_random_operations_match_model():
    """100k random inserts, cancels and advances with dues spread over many revolutions."""
    rng = random.Random(20240917)
    tick, origin, nodes = 250_000, 5 * 10**9, 512
    w, m = Wheel(tick, origin, nodes), Model(tick, origin)
    now = origin
    spans = [tick, 64 * tick, 4096 * tick, 262144 * tick, 10**7 * tick]
    for step in range(100_000):
        op = rng.random()
        node = rng.randrange(nodes)
        if op < 0.5:
            if node in m.armed:
                continue
            due = now + rng.randrange(-2 * tick, rng.choice(spans))
            w.insert(node, due)
            m.insert(node, due)
        elif op < 0.65:
            w.cancel(node)
            m.cancel(node)
        else:
            if rng.random() < 0.01:
                now += rng.randrange(0, 10**7 * tick)
            else:
                now += rng.randrange(0, 3 * tick)
            assert w.advance(now) == m.advance(now), f"step {step}"
            nxt = w.next_due_ns()
            if m.armed:   # after advance: strictly in the future, never after the earliest
                assert now < nxt <= min(origin + t * tick for _, t, _ in m.armed.values())
            else:
                assert nxt is None
        assert len(w) == len(m.armed)
    now += 2 * 10**7 * tick
    assert w.advance(now) == m.advance(now)
    assert len(w) == 0


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
@pytest.mark.parametrize("header", sorted(h for h in os.listdir(CSRC) if h.endswith(".h")))
def test_header_compiles_alone_with_werror(header):
    subprocess.run(["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-x", "c",
                    os.path.join(CSRC, header)], check=True)
