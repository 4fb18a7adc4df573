# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Seeded random streams and delay distributions over the C Philox core.

`Stream` is a {key, counter} sequence of draws for handler choices (text). `Distribution`
is one configured distribution (constant, uniform, normal truncated at 0, log-normal,
exponential, Pareto, empirical percentiles) in the caller's unit; llmsim.core.plan fills a
response's timing from them in one C loop. Draw i of a key is the same in any process and
in any order (counter-based RNG).
"""

from cpython cimport array
from libc.math cimport isfinite, INFINITY
from libc.stdint cimport INT64_MAX

import array as _array

cdef array.array _I64 = _array.array("q")
cdef array.array _F64 = _array.array("d")

KINDS = {
    "constant": LLMSIM_DIST_CONSTANT, "uniform": LLMSIM_DIST_UNIFORM,
    "normal": LLMSIM_DIST_NORMAL, "lognormal": LLMSIM_DIST_LOGNORMAL,
    "exponential": LLMSIM_DIST_EXPONENTIAL, "pareto": LLMSIM_DIST_PARETO,
    "empirical": LLMSIM_DIST_EMPIRICAL,
}
# Parameter sets each kind accepts (lognormal has three alternative sets).
PARAMS = {
    "constant": (("value",),), "uniform": (("low", "high"),),
    "normal": (("mean", "stddev"),),
    "lognormal": (("mean", "stddev"), ("median", "p90"), ("median", "p95"),
                  ("median", "p99"), ("median", "p999"), ("mu", "sigma")),
    "exponential": (("mean",),), "pareto": (("scale", "alpha"),),
    "empirical": (("points",),),
}
_QUANTILE_Z = {"p90": LLMSIM_Z_P90, "p95": LLMSIM_Z_P95, "p99": LLMSIM_Z_P99,
               "p999": LLMSIM_Z_P999}

cdef uint64_t _u64(object value) except? 0:
    return <uint64_t>(value & 0xFFFFFFFFFFFFFFFF)


def philox4x32_10(ctr, key):
    """Raw Philox4x32-10 block: 4 counter words and 2 key words in, 4 words out."""
    cdef uint32_t c[4]
    cdef uint32_t k[2]
    cdef uint32_t o[4]
    for i in range(4):
        c[i] = ctr[i]
    k[0] = key[0]
    k[1] = key[1]
    llmsim_philox4x32_10(c, k, o)
    return (o[0], o[1], o[2], o[3])


def u64(key, counter):
    """Draw number `counter` of `key` (64 bits)."""
    return llmsim_rng_u64(_u64(key), _u64(counter))


def request_key(global_seed, key):
    """The RNG key of one request from the global seed and the request's key."""
    return llmsim_rng_key(_u64(global_seed), _u64(key))


def subkey(key, uint32_t domain):
    """An independent key for one use of `key`."""
    return llmsim_rng_subkey(_u64(key), domain)


def hash64(const unsigned char[::1] data, seed=0):
    """Keyed 64-bit hash of a bytes-like object (not cryptographic)."""
    cdef const unsigned char *p = &data[0] if data.shape[0] else NULL
    return llmsim_hash64(p, <size_t>data.shape[0], _u64(seed))


cdef class Stream:
    """Draws number counter, counter + 1, ... of `key`; the same key gives the same draws."""

    def __init__(self, key, counter=0):
        llmsim_stream_init(&self.s, _u64(key))
        self.s.counter = _u64(counter)

    @property
    def key(self):
        return self.s.key

    @property
    def counter(self):
        return self.s.counter

    def u64(self):
        """64 uniform bits."""
        return llmsim_stream_u64(&self.s)

    def random(self):
        """A float uniform in the open interval (0, 1)."""
        return llmsim_stream_double(&self.s)

    def below(self, uint64_t n):
        """An integer uniform in [0, n), without modulo bias; n must be > 0."""
        if n == 0:
            raise ValueError("below: n must be > 0")
        return llmsim_stream_below(&self.s, n)

    def below_array(self, uint64_t n, Py_ssize_t count):
        """array('q') of `count` integers uniform in [0, n) (the next `count`+ draws)."""
        if n == 0 or n > <uint64_t>INT64_MAX:
            raise ValueError("below_array: n must be in 1..2**63-1")
        if count < 0:
            raise ValueError("below_array: count must be >= 0")
        cdef array.array out = array.clone(_I64, count, zero=False)
        cdef long long *dst = out.data.as_longlongs
        cdef Py_ssize_t i
        for i in range(count):
            dst[i] = <long long>llmsim_stream_below(&self.s, n)
        return out

    def split(self, uint32_t domain):
        """A new stream over the sub-key `domain` of this stream's key."""
        return Stream(llmsim_rng_subkey(self.s.key, domain))

    def __repr__(self):
        return f"Stream(key={self.s.key:#x}, counter={self.s.counter})"


cdef double _number(str kind, str name, object value, double low, bint open_low) except? -1.0:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{kind}: {name} must be a number, got {value!r}") from None
    if not isfinite(x):
        raise ValueError(f"{kind}: {name} must be finite, got {value!r}")
    if x < low or (open_low and x == low):
        raise ValueError(f"{kind}: {name} must be {'>' if open_low else '>='} {low:g}, "
                         f"got {x:g}")
    return x


cdef _set_lognormal(llmsim_dist_t *d, dict params):
    cdef double mu, sigma, median
    if "mean" in params:
        mean = _number("lognormal", "mean", params["mean"], 0.0, True)
        sd = _number("lognormal", "stddev", params["stddev"], 0.0, False)
        llmsim_lognormal_from_mean_sd(mean, sd, &mu, &sigma)
    elif "median" in params:
        median = _number("lognormal", "median", params["median"], 0.0, True)
        name = next(k for k in params if k != "median")
        q = _number("lognormal", name, params[name], median, True)
        llmsim_lognormal_from_median_q(median, q, _QUANTILE_Z[name], &mu, &sigma)
    else:
        mu = _number("lognormal", "mu", params["mu"], -INFINITY, False)
        sigma = _number("lognormal", "sigma", params["sigma"], 0.0, False)
    d.a = mu
    d.b = sigma

cdef _set_points(llmsim_dist_t *d, points):
    try:
        pairs = [(p, v) for p, v in points]
    except (TypeError, ValueError):
        raise ValueError("empirical: points must be (percent, value) pairs") from None
    if not 1 <= len(pairs) <= LLMSIM_DIST_MAX_POINTS:
        raise ValueError(f"empirical: needs 1 to {LLMSIM_DIST_MAX_POINTS} points, "
                         f"got {len(pairs)}")
    cdef double last_p = -1.0, last_v = 0.0, p, v
    cdef int i = 0
    for pct, value in pairs:
        p = _number("empirical", "percentile", pct, 0.0, False)
        if p > 100.0 or p <= last_p:
            raise ValueError("empirical: percentiles must increase within 0..100, "
                             f"got {pct!r} after {last_p:g}")
        v = _number("empirical", f"value at p{p:g}", value, last_v, False)
        d.p[i] = p / 100.0
        d.v[i] = v
        last_p, last_v = p, v
        i += 1
    d.npoints = i


cdef class Distribution:
    """One distribution, e.g. Distribution("lognormal", median=20e6, p99=80e6).

    Parameters by kind: constant(value), uniform(low, high), normal(mean, stddev),
    lognormal(mean, stddev | median, p90/p95/p99/p999 | mu, sigma), exponential(mean),
    pareto(scale, alpha), empirical(points=[(percent 0..100, value), ...]); every kind
    also takes min (default 0) and max (default inf) and is clamped to [min, max].
    Invalid parameters raise ValueError with a message naming the parameter.
    """

    def __init__(self, str kind, *, min=0.0, max=INFINITY, **params):
        if kind not in KINDS:
            raise ValueError(f"unknown distribution {kind!r}; expected one of "
                             + ", ".join(KINDS))
        self.kind = kind
        self.d.kind = KINDS[kind]
        self.d.npoints = 0
        given = tuple(sorted(params))
        allowed = PARAMS[kind]
        if given not in [tuple(sorted(names)) for names in allowed]:
            raise ValueError(f"{kind} takes " + " or ".join(", ".join(names) for names in allowed)
                             + (f", got {', '.join(given)}" if given else ", got nothing"))
        self.d.min = _number(kind, "min", min, 0.0, False)
        if max is None or max == INFINITY:
            self.d.max = INFINITY
        else:
            self.d.max = _number(kind, "max", max, self.d.min, False)
        if kind == "empirical":
            _set_points(&self.d, params["points"])
        elif kind == "lognormal":
            _set_lognormal(&self.d, params)
        elif kind == "constant":
            self.d.a = _number(kind, "value", params["value"], 0.0, False)
        elif kind == "uniform":
            self.d.a = _number(kind, "low", params["low"], 0.0, False)
            self.d.b = _number(kind, "high", params["high"], self.d.a, False)
        elif kind == "normal":
            self.d.a = _number(kind, "mean", params["mean"], 0.0, False)
            self.d.b = _number(kind, "stddev", params["stddev"], 0.0, False)
        elif kind == "exponential":
            self.d.a = _number(kind, "mean", params["mean"], 0.0, False)
        else:
            self.d.a = _number(kind, "scale", params["scale"], 0.0, True)
            self.d.b = _number(kind, "alpha", params["alpha"], 0.0, True)

    @property
    def params(self):
        """The C parameters (a, b, min, max): e.g. (mu, sigma, ...) for a log-normal."""
        return (self.d.a, self.d.b, self.d.min, self.d.max)

    def sample(self, Stream stream):
        """The stream's next draw from this distribution."""
        return llmsim_dist_sample(&self.d, &stream.s)

    def at(self, key, counter):
        """Draw number `counter` of `key`."""
        return llmsim_dist_at(&self.d, _u64(key), _u64(counter))

    def fill(self, key, first, Py_ssize_t n):
        """array('d') of draws first .. first + n - 1 of `key`."""
        if n < 0:
            raise ValueError("fill: n must be >= 0")
        cdef array.array out = array.clone(_F64, n, zero=False)
        llmsim_dist_fill(&self.d, _u64(key), _u64(first), <size_t>n, out.data.as_doubles)
        return out

    def __repr__(self):
        return f"Distribution({self.kind!r}, a={self.d.a:g}, b={self.d.b:g})"
