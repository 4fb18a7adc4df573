"""Planning: the output length and every delay of one response, decided when it arrives.

Handlers call `Planner.plan()` once per request and get a `Plan`: n tokens, the TTFT, the
gap before each later token and the due offset of each token from the request start, as
int64 nanosecond arrays (no per-token Python objects), plus a seeded `rng` stream for their
own choices. A non-streamed answer is sent after `total_ns`; a stream sends token i at
`due_ns(i)`.

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
import os

from llmsim.core.rng import Stream, hash64, plan_tokens, request_key, scale_timing, text_stream
from llmsim.errors import ApiError, ConfigError
from llmsim.sim.latency import HEADER, Ttft, load_catalog, parse_override

_CACHE_LIMIT = 1024
_SEED_BODY = 0x6c6c6d73696d2d62  # hash seed for request bodies


def _fresh_source():
    return Stream(int.from_bytes(os.urandom(8), "little"))


_fresh = _fresh_source()


def _reseed_after_fork():
    global _fresh
    _fresh = _fresh_source()


os.register_at_fork(after_in_child=_reseed_after_fork)


class Plan:
    """The timing of one response. itl_ns[j] is the gap before token j + 1 (n_tokens - 1
    gaps); due[i] is token i's offset from the request start (due[0] = ttft_ns)."""

    __slots__ = ("n_tokens", "truncated", "ttft_ns", "itl_ns", "due", "total_ns", "rng",
                 "profile", "_pool", "_slot")

    def due_ns(self, i):
        return self.due[i]

    def __repr__(self):
        return (f"Plan(n_tokens={self.n_tokens}, ttft_ns={self.ttft_ns}, "
                f"total_ns={self.total_ns}, profile={self.profile!r})")


class _Compiled:
    """A profile with its C samplers built once."""

    __slots__ = ("profile", "name", "overhead_ns", "per_token_ns", "ttft", "itl", "length",
                 "load")

    def __init__(self, profile, ttft=None, itl=None):
        ttft = ttft or profile.ttft
        self.profile = profile
        self.name = profile.name
        self.overhead_ns = ttft.overhead_ns
        self.per_token_ns = ttft.per_prompt_token_ns
        self.ttft = ttft.sampled.compile()
        self.itl = (itl or profile.itl).compile()
        self.length = profile.output_tokens.compile()
        self.load = profile.load


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


class Planner:
    """Plans responses for one worker from the `latency:` config section."""

    def __init__(self, latency_config, *, global_seed=None, no_latency=False, multiplier=1.0):
        self.catalog = load_catalog(latency_config)
        self.global_seed = global_seed
        self.no_latency = bool(no_latency)
        self.multiplier = multiplier
        self._compiled = {}    # id(Profile) -> _Compiled; the catalog keeps profiles alive
        self._by_model = {}    # model -> _Compiled
        self._overrides = {}   # raw header -> (Override, {id(base Profile): _Compiled})
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

    def request_key(self, seed, body):
        """The plan key of a request: its seed when given; else, under a global seed, a hash
        of the body (same request, same answer); else None (fresh randomness)."""
        if seed is not None:
            return seed
        if self.global_seed is not None:
            return hash64(body, _SEED_BODY)
        return None

    def _compile(self, profile):
        c = self._compiled.get(id(profile))
        if c is None:
            c = self._compiled[id(profile)] = _Compiled(profile)
        return c

    def _profile(self, model):
        c = self._by_model.get(model)
        if c is None:
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
            c = _Compiled(base.profile, ttft=Ttft(sampled=ov.ttft) if ov.ttft else None,
                          itl=ov.itl)
            variants[id(base.profile)] = c
        return ov, c

    def plan(self, model, prompt_tokens, max_tokens, key, override):
        """Plan one response (see the module docstring); `override` is the raw
        x-llmsim-latency header value or None. Bad override: ApiError 400."""
        c = self._profile(model)
        scale = 0.0 if self.no_latency else self._multiplier
        forced = -1
        if override is not None:
            ov, c = self._override(override, c)
            scale = 0.0 if ov.off else scale * ov.multiplier
            if ov.tokens is not None:
                forced = ov.tokens
        if key is None:
            key = _fresh.u64()
        rkey = request_key(0 if self.global_seed is None else self.global_seed, key)
        n, truncated, ttft, itl, due = plan_tokens(
            c.ttft, c.itl, c.length, rkey, c.overhead_ns + c.per_token_ns * prompt_tokens,
            scale, -1 if max_tokens is None else max(0, max_tokens), forced)
        p = Plan()
        p.n_tokens = n
        p.truncated = truncated
        p.ttft_ns = ttft
        p.itl_ns = itl
        p.due = due
        p.total_ns = due[n - 1] if n else ttft
        p.rng = text_stream(rkey)
        p.profile = c.name
        p._pool = self._pool(model, c) if c.load is not None else None
        p._slot = None
        return p

    def _pool(self, model, c):
        """One simulated server per model name (past _CACHE_LIMIT names: per profile)."""
        key = model if len(self._pools) < _CACHE_LIMIT or model in self._pools else c.name
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = _Pool(c.load)
        return pool

    def admit(self, plan, now_ns):
        """Book the plan on its model's simulated server (no-op without a load model):
        stretches its delays for the load and adds any queueing wait to its TTFT.
        Raises ApiError 429 when the queue is full."""
        pool = plan._pool
        if pool is None or plan._slot is not None:
            return
        start, running = pool.book(now_ns)
        factor = 1.0 + pool.slowdown * (running - 1)
        plan.ttft_ns = scale_timing(plan.itl_ns, plan.due, plan.ttft_ns, factor, start - now_ns)
        plan.total_ns = plan.due[plan.n_tokens - 1] if plan.n_tokens else plan.ttft_ns
        plan._slot = pool.hold(now_ns + plan.total_ns)

    def release(self, plan, now_ns):
        """The response ended at now_ns (finished or cut short): free its slot then."""
        slot = plan._slot
        if slot is not None:
            plan._pool.free(slot, now_ns)
            plan._slot = None
