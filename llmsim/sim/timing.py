"""Planning: the output length and every delay of one response, decided when it arrives.

Handlers call `Planner.plan()` once per request and get a `Plan` (llmsim.core.plan, where the
per-request work runs in C): n tokens, the TTFT, the gap before each later token and the due
offset of each token from the request start, as int64 nanosecond arrays (no per-token Python
objects), plus a seeded `rng` stream for their own choices. A non-streamed answer is sent
after `total_ns`; a stream sends token i at `due_ns(i)`.

Determinism: the same `key` (request seed, or a hash of the body) under the same global
seed gives the same plan and the same `rng` draws in any worker and in any order; key None
draws a fresh key per request. `Planner.request_key(seed, body)` applies that rule.

Load model (profiles with `load`): `admit(plan, now_ns)` books the request on one of the
model's `capacity` slots in simulated time. With a free slot it starts at once, slowed by
`slowdown` per other running sequence; otherwise it waits for the earliest slot to free
(its TTFT grows by the wait) if fewer than `queue_limit` are already waiting, else 429.
`release(plan, now_ns)` frees the slot early when a response is cut short. Plans are fixed
when admitted, so a cancelled stream shortens the wait of later arrivals only.
"""

import heapq
import math

from llmsim.core.plan import Compiled, PlannerCore
from llmsim.errors import ApiError, ConfigError
from llmsim.sim.latency import HEADER, Ttft, load_catalog, parse_override

_CACHE_LIMIT = 1024


class _Pool:
    """The slots of one model's simulated server (see the module docstring)."""

    __slots__ = ("capacity", "slowdown", "queue_limit", "ends", "waiting")

    def __init__(self, load):
        self.capacity = load.capacity
        self.slowdown = load.slowdown
        self.queue_limit = load.queue_limit
        self.ends = []      # heap of [end_ns, live] per booked slot (len <= capacity)
        self.waiting = []   # heap of start_ns of booked requests not started yet

    def book(self, now_ns):
        """(start_ns, running sequences at start); ApiError 429 when the queue is full."""
        ends, waiting = self.ends, self.waiting
        while ends and ends[0][0] <= now_ns:
            heapq.heappop(ends)[1] = False
        while waiting and waiting[0] <= now_ns:
            heapq.heappop(waiting)
        if len(ends) < self.capacity:
            return now_ns, len(ends) + 1
        if len(waiting) >= self.queue_limit:
            retry = max(1, math.ceil((ends[0][0] - now_ns) / 1e9))
            raise ApiError(429, f"The server is overloaded: {self.capacity} requests running "
                                f"and {len(waiting)} queued. Please retry after {retry} s.",
                           headers=b"retry-after: %d\r\n" % retry)
        slot = heapq.heappop(ends)
        slot[1] = False
        heapq.heappush(waiting, slot[0])
        return slot[0], self.capacity

    def hold(self, end_ns):
        slot = [end_ns, True]
        heapq.heappush(self.ends, slot)
        return slot

    def free(self, slot, now_ns):
        if slot[1] and slot[0] > now_ns:
            slot[0] = now_ns
            heapq.heapify(self.ends)


class Planner(PlannerCore):
    """Plans responses for one worker from the `latency:` config section (the per-request
    work, `plan`, `request_key`, `admit` and `release`, is PlannerCore's)."""

    def __init__(self, latency_config, *, global_seed=None, no_latency=False, multiplier=1.0):
        super().__init__()
        self.catalog = load_catalog(latency_config)
        self.global_seed = global_seed
        self.no_latency = bool(no_latency)
        self.multiplier = multiplier
        self._compiled = {}    # id(Profile) -> Compiled; the catalog keeps profiles alive
        self._overrides = {}   # raw header -> (Override, {id(base Profile): Compiled})
        self._pools = {}       # model -> _Pool

    @property
    def multiplier(self):
        return self._multiplier

    @multiplier.setter
    def multiplier(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not 0 <= value < math.inf:
            raise ConfigError(f"config: latency_multiplier: expected a number >= 0, "
                              f"got {value!r}")
        self._multiplier = float(value)

    def _compile(self, profile):
        c = self._compiled.get(id(profile))
        if c is None:
            c = self._compiled[id(profile)] = Compiled(profile)
        return c

    def _profile(self, model):
        c = self._compile(self.catalog.lookup(model))
        if len(self._by_model) < _CACHE_LIMIT:
            self._by_model[model] = c
        return c

    def _override(self, raw, base):
        entry = self._overrides.get(raw)
        if entry is None:
            try:
                ov = parse_override(raw)
                if ov.profile is not None and ov.profile not in self.catalog.profiles:
                    raise ConfigError(f"{HEADER}: profile: unknown profile {ov.profile!r}; "
                                      f"known: {', '.join(sorted(self.catalog.profiles))}")
            except ConfigError as e:
                raise ApiError(400, str(e), param=HEADER) from None
            entry = (ov, {})
            if len(self._overrides) < _CACHE_LIMIT:
                self._overrides[raw] = entry
        ov, variants = entry
        if ov.profile is not None:
            base = self._compile(self.catalog.profiles[ov.profile])
        if ov.ttft is None and ov.itl is None:
            return ov, base
        c = variants.get(id(base.profile))
        if c is None:
            c = Compiled(base.profile, ttft=Ttft(sampled=ov.ttft) if ov.ttft else None,
                         itl=ov.itl)
            variants[id(base.profile)] = c
        return ov, c

    def _pool(self, model, c):
        """One simulated server per model name (past _CACHE_LIMIT names: per profile)."""
        key = model if len(self._pools) < _CACHE_LIMIT or model in self._pools else c.name
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = _Pool(c.load)
        return pool
