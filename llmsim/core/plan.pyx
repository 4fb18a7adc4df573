# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The plan of one response, made in C: output length, every delay, and the request's own
random stream.

`Plan` holds n tokens, the TTFT, the gap before each later token and the due offset of each
token from the request start (int64 ns arrays), and `rng`, the stream a handler draws its
choices from. `PlannerCore` is the per-request half of `llmsim.sim.timing.Planner`: model ->
compiled profile, request key, the plan, and booking on the load model; the Planner adds the
configuration, the latency-override header and the load model's slots.

With latency off every delay is 0: the arrays are then made only if someone reads them, and
`rng` is an object only once someone asks for it (`draw()` serves the common single draw).
Draw i of a key is the same in any process and in any order (counter-based RNG).
"""

cimport cython

from cpython cimport array
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.long cimport PyLong_AsUnsignedLongLongMask
from libc.math cimport exp, log, sqrt
from libc.stdint cimport INT64_MAX, int64_t, uint32_t, uint64_t

import array as _array
import os

from llmsim.core.ids cimport random_next, random_state
from llmsim.core.rng cimport (Distribution, Stream, DOMAIN_ITL, DOMAIN_LENGTH, DOMAIN_TEXT,
                              DOMAIN_TTFT, LLMSIM_DIST_CONSTANT, LLMSIM_DIST_LOGNORMAL,
                              LLMSIM_DIST_NORMAL, LLMSIM_NORMAL_ATTEMPTS, llmsim_dist_at,
                              llmsim_dist_clamp, llmsim_dist_fill, llmsim_dist_from_block,
                              llmsim_hash64, llmsim_rng_key, llmsim_rng_subkey, llmsim_stream_init,
                              llmsim_stream_u64, llmsim_u01)

cdef array.array _I64 = _array.array("q")

# Delays are capped so that sums stay far from int64 overflow (10^15 ns is 11.6 days).
cdef double MAX_DELAY_NS = 1e15
# Longest response planned, whatever the length distribution says.
MAX_TOKENS = 1 << 20
cdef Py_ssize_t _MAX_TOKENS = MAX_TOKENS
cdef uint64_t _SEED_BODY = 0x6c6c6d73696d2d62  # hash seed for request bodies
cdef uint64_t *_ids = random_state()     # llmsim.core.ids's generator, drawn from inline



cdef inline uint64_t _subkey(uint64_t key, bint fresh, uint32_t domain) noexcept:
    """Sub-key `domain` of a request key. A request without a key (nothing to reproduce)
    takes fresh random numbers instead (llmsim.core.ids, reseeded in every worker): as
    random as derived ones, and no Philox call."""
    return random_next(_ids) if fresh else llmsim_rng_subkey(key, domain)


cdef double _spare = 0.0     # the second normal of the last fresh pair ...
cdef bint _has_spare = False    # ... while no draw has taken it


def _forget_spare():
    """A forked child draws its own normals (llmsim.core.ids reseeds its bits)."""
    global _has_spare
    _has_spare = False


os.register_at_fork(after_in_child=_forget_spare)


cdef double _fresh_normal() noexcept:
    """A standard normal of fresh random bits by Marsaglia's polar method: no sine or
    cosine, and each accepted pair gives two independent normals (the second is kept for
    the next call)."""
    global _spare, _has_spare
    cdef double u, v, s, f
    if _has_spare:
        _has_spare = False
        return _spare
    while True:
        u = 2.0 * llmsim_u01(random_next(_ids)) - 1.0
        v = 2.0 * llmsim_u01(random_next(_ids)) - 1.0
        s = u * u + v * v
        if 0.0 < s < 1.0:
            break
    f = sqrt(-2.0 * log(s) / s)
    _spare = v * f
    _has_spare = True
    return u * f


cdef double _fresh(Distribution d) noexcept:
    """A draw from d made of fresh random bits, not of a key (no Philox call): the normal
    kinds from _fresh_normal (a normal truncated at zero redraws, as llmsim_dist.h's does),
    the others from one uniform, as llmsim_dist_from_block makes them."""
    cdef uint64_t b[2]
    cdef double x
    cdef int attempt
    if d.d.kind == LLMSIM_DIST_LOGNORMAL:
        return llmsim_dist_clamp(&d.d, exp(d.d.a + d.d.b * _fresh_normal()))
    if d.d.kind == LLMSIM_DIST_NORMAL:
        x = 0.0
        for attempt in range(LLMSIM_NORMAL_ATTEMPTS):
            x = d.d.a + d.d.b * _fresh_normal()
            if x >= 0.0:
                break
        return llmsim_dist_clamp(&d.d, x if x >= 0.0 else 0.0)
    b[0] = random_next(_ids) if d.d.kind != LLMSIM_DIST_CONSTANT else 0
    b[1] = 0
    return llmsim_dist_from_block(&d.d, b, 0, 0)


cdef inline double _first(Distribution d, uint64_t key, bint fresh, uint32_t domain) noexcept:
    """Draw 0 of sub-key `domain` of a request key; without a key, a draw from the same
    distribution made of fresh random bits (_fresh)."""
    if not fresh:
        return llmsim_dist_at(&d.d, llmsim_rng_subkey(key, domain), 0)
    return _fresh(d)


cdef inline int64_t _ns(double x) noexcept nogil:
    if not x > 0.0:  # also NaN
        return 0
    if x > MAX_DELAY_NS:
        x = MAX_DELAY_NS
    return <int64_t>(x + 0.5)


cdef inline int64_t _add_sat(int64_t a, int64_t b) noexcept nogil:
    return INT64_MAX if a > INT64_MAX - b else a + b


cdef enum:
    CHUNK = 256


@cython.freelist(64)
@cython.no_gc   # what it holds (str, arrays, a Stream, the load model's pool and slot) never
                # holds a plan: no cycle to collect, and no GC bookkeeping per request
cdef class Plan:
    """The timing of one response. itl_ns[j] is the gap before token j + 1 (n_tokens - 1
    gaps); due[i] is token i's offset from the request start (due[0] = ttft_ns).

    Plan(ttft, itl, length, key, fixed_ns, scale, max_tokens=-1, forced_n=-1): n tokens come
    from `length` (draw 0 of the length sub-key, rounded, at least 1) or `forced_n` when
    >= 0, then capped at `max_tokens` when >= 0 (`truncated` says so) and at MAX_TOKENS.
    TTFT = (fixed_ns + draw 0 of `ttft`) * scale; gap j is draw j of `itl` * scale.
    scale == 0 (no latency) skips the delay draws.
    """

    def __init__(self, Distribution ttft, Distribution itl, Distribution length, key,
                 double fixed_ns, double scale, Py_ssize_t max_tokens=-1,
                 Py_ssize_t forced_n=-1):
        self.fill(ttft, itl, length, PyLong_AsUnsignedLongLongMask(key), False, fixed_ns, scale,
                  max_tokens, forced_n)

    cdef int fill(self, Distribution ttft, Distribution itl, Distribution length, uint64_t key,
                  bint fresh, double fixed_ns, double scale, Py_ssize_t max_tokens,
                  Py_ssize_t forced_n) except -1:
        """The plan of request key `key`, or of no key when `fresh` (see _subkey)."""
        cdef Py_ssize_t n, gaps, done = 0, m, j
        cdef double x
        cdef double buf[CHUNK]
        cdef long long *g
        cdef long long *due
        cdef int64_t at
        cdef uint64_t ikey
        if forced_n >= 0:
            n = forced_n
        else:
            x = _first(length, key, fresh, DOMAIN_LENGTH)
            n = <Py_ssize_t>(x + 0.5) if x < <double>_MAX_TOKENS else _MAX_TOKENS
            if n < 1:
                n = 1
        if n > _MAX_TOKENS:
            n = _MAX_TOKENS
        self.truncated = 0 <= max_tokens < n
        if self.truncated:
            n = max_tokens
        self.n_tokens = n
        self.fresh = fresh
        llmsim_stream_init(&self.text, _subkey(key, fresh, DOMAIN_TEXT))
        if scale == 0.0:
            return 0   # every delay 0: arrays on demand
        gaps = n - 1 if n > 1 else 0
        self._itl = array.clone(_I64, gaps, zero=False)
        self._due = array.clone(_I64, n, zero=False)
        at = _ns((fixed_ns + _first(ttft, key, fresh, DOMAIN_TTFT)) * scale)
        self.ttft_ns = at
        g = self._itl.data.as_longlongs
        due = self._due.data.as_longlongs
        ikey = _subkey(key, fresh, DOMAIN_ITL)
        if n:
            due[0] = at
        with nogil:
            while done < gaps:
                m = gaps - done if gaps - done < CHUNK else CHUNK
                llmsim_dist_fill(&itl.d, ikey, <uint64_t>done, <size_t>m, buf)
                for j in range(m):
                    g[done + j] = _ns(buf[j] * scale)
                    at = _add_sat(at, g[done + j])
                    due[done + j + 1] = at
                done += m
        self.total_ns = at
        return 0

    cdef int _arrays(self) except -1:
        if self._due is None:
            self._itl = array.clone(_I64, self.n_tokens - 1 if self.n_tokens > 1 else 0,
                                    zero=True)
            self._due = array.clone(_I64, self.n_tokens, zero=True)
        return 0

    @property
    def itl_ns(self):
        self._arrays()
        return self._itl

    @property
    def due(self):
        self._arrays()
        return self._due

    @property
    def rng(self):
        """The stream (llmsim.core.rng.Stream) the handler draws its own choices from: a
        sub-key of the request key independent of every timing draw."""
        cdef Stream s
        if self._rng is None:
            s = Stream.__new__(Stream)
            s.s = self.text
            self._rng = s
        return self._rng

    cdef uint64_t draw(self) noexcept:
        """The next u64 of `rng`, without making the object; a plan of no key (nothing to
        reproduce) takes it from the ids generator instead, until `rng` is made."""
        if self._rng is not None:
            return llmsim_stream_u64(&self._rng.s)
        if self.fresh:
            return random_next(_ids)
        return llmsim_stream_u64(&self.text)

    cdef int64_t due_at(self, Py_ssize_t i) except? -1:
        if i < 0:
            i += self.n_tokens
        if not 0 <= i < self.n_tokens:
            raise IndexError(i)
        return self._due.data.as_longlongs[i] if self._due is not None else 0

    def due_ns(self, Py_ssize_t i):
        """Token i's offset from the request start (ns)."""
        return self.due_at(i)

    cpdef stretch(self, double factor, int64_t wait_ns):
        """Multiply every delay by `factor` and add `wait_ns` before the first token."""
        cdef Py_ssize_t n = self.n_tokens, j
        cdef long long *g
        cdef long long *due
        cdef int64_t at = _add_sat(_ns(self.ttft_ns * factor), wait_ns if wait_ns > 0 else 0)
        self._arrays()
        g = self._itl.data.as_longlongs
        due = self._due.data.as_longlongs
        self.ttft_ns = at
        if n:
            due[0] = at
        for j in range(n - 1):
            g[j] = _ns(g[j] * factor)
            at = _add_sat(at, g[j])
            due[j + 1] = at
        self.total_ns = at

    def __repr__(self):
        return (f"Plan(n_tokens={self.n_tokens}, ttft_ns={self.ttft_ns}, "
                f"total_ns={self.total_ns}, profile={self.profile!r})")


cpdef int64_t gap(plan) except? -1:
    """The plan's mean inter-token gap (ns)."""
    cdef Py_ssize_t n = plan.n_tokens
    return (plan.total_ns - plan.ttft_ns) // (n - 1) if n > 1 else 0


cpdef int64_t due(plan, Py_ssize_t i) except? -1:
    """When token i is due (ns after the request), continuing past the planned tokens at the
    plan's mean gap (content such as tool arguments may outgrow the plan). The streams of
    llmsim.core.sse apply the same rule. Any object with Plan's attributes will do."""
    cdef Py_ssize_t n
    if type(plan) is Plan:
        n = (<Plan>plan).n_tokens
        if i < n:
            return (<Plan>plan).due_at(i)
    else:
        n = plan.n_tokens
        if i < n:
            return plan.due_ns(i)
    if n == 0:
        return plan.ttft_ns
    return plan.total_ns + (i - n + 1) * gap(plan)


cdef class Compiled:
    """A profile (llmsim.sim.latency.Profile) with its C samplers built once; `ttft` or
    `itl` replace the profile's (an override)."""

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


cdef class PlannerCore:
    """The per-request work of a Planner. Subclasses provide `_profile(model)` (the
    Compiled of a model not in `_by_model` yet), `_override(raw, compiled)` -> (Override,
    Compiled) and `_pool(model, compiled)` (the model's load-model slots). Compiled handlers
    call a planner through this type; a stand-in (tests, benchmarks) subclasses it and
    overrides request_key, plan, admit and release (book() then calls them; it calls
    PlannerCore's own directly when the class overrides none)."""

    def __init__(self):
        self._by_model = {}
        self._global_seed = None
        self.no_latency = False
        self._multiplier = 1.0
        cls = type(self)
        self.native = all(getattr(cls, name) is getattr(PlannerCore, name)
                          for name in ("request_key", "plan", "admit"))

    @property
    def global_seed(self):
        return self._global_seed

    @global_seed.setter
    def global_seed(self, value):
        self.seed = 0 if value is None else PyLong_AsUnsignedLongLongMask(value)
        self._global_seed = value

    cpdef request_key(self, seed, bytes body):
        """The plan key of a request: its seed when given; else, under a global seed, a hash
        of the body (same request, same answer); else None (fresh randomness)."""
        if seed is not None:
            return seed
        if self._global_seed is not None:
            return llmsim_hash64(PyBytes_AS_STRING(body), <size_t>PyBytes_GET_SIZE(body),
                                 _SEED_BODY)
        return None

    cpdef plan(self, model, Py_ssize_t prompt_tokens, max_tokens, key, override):
        """Plan one response; `override` is the raw x-llmsim-latency header value or None.
        Bad override: ApiError 400."""
        cdef Compiled c
        cdef double scale = 0.0 if self.no_latency else self._multiplier
        cdef Py_ssize_t forced = -1, cap = -1
        cdef uint64_t k
        cdef Plan p = Plan.__new__(Plan)
        if model is self._last_model and self._last_compiled is not None:
            c = self._last_compiled   # the same name object again: no hashing
        else:
            c = self._by_model.get(model)
            if c is None:
                c = self._profile(model)
            self._last_model, self._last_compiled = model, c
        if override is not None:
            ov, c = self._override(override, c)
            scale = 0.0 if ov.off else scale * ov.multiplier
            if ov.tokens is not None:
                forced = ov.tokens
        if max_tokens is not None:
            cap = max_tokens    # as a C int: no Python comparison
            if cap < 0:
                cap = 0
        k = 0 if key is None else llmsim_rng_key(self.seed, PyLong_AsUnsignedLongLongMask(key))
        p.fill(c.ttft, c.itl, c.length, k, key is None,
               c.overhead_ns + c.per_token_ns * prompt_tokens, scale, cap, forced)
        p.profile = c.name
        if c.load is not None:
            p.pool = self._pool(model, c)
        return p

    cdef book(self, model, Py_ssize_t prompt_tokens, max_tokens, seed, bytes body, override,
              int64_t now_ns):
        """The plan of a request (request_key(seed, body), then plan()) admitted at now_ns.
        A planner whose class overrides none of these (`native`) has them called directly:
        no look-up for a Python override on each call."""
        if not self.native:
            plan = self.plan(model, prompt_tokens, max_tokens, self.request_key(seed, body),
                             override)
            self.admit(plan, now_ns)
            return plan
        plan = PlannerCore.plan(self, model, prompt_tokens, max_tokens,
                                PlannerCore.request_key(self, seed, body), override)
        PlannerCore.admit(self, plan, now_ns)
        return plan

    cpdef admit(self, plan, int64_t now_ns):
        """Book the plan on its model's simulated server (no-op without a load model):
        stretches its delays for the load and adds any queueing wait to its TTFT.
        Raises ApiError 429 when the queue is full."""
        cdef Plan p = plan
        pool = p.pool
        if pool is None or p.slot is not None:
            return
        start, running = pool.book(now_ns)
        p.stretch(1.0 + pool.slowdown * (running - 1), start - now_ns)
        p.slot = pool.hold(now_ns + p.total_ns)

    cpdef release(self, plan, int64_t now_ns):
        """The response ended at now_ns (finished or cut short): free its slot then."""
        cdef Plan p = plan
        if p.slot is not None:
            p.pool.free(p.slot, now_ns)
            p.slot = None
