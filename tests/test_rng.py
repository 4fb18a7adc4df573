"""Counter-based RNG and distribution samplers (csrc/llmsim_rng.h, llmsim_dist.h, core/rng)."""

import math
import os
import shutil
import statistics
import subprocess

import pytest

from llmsim.core import ids, rng
from llmsim.core.plan import Plan
from llmsim.core.rng import Distribution, Stream

CSRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "csrc")
N = 20_000
KEY = 0x5EED


# ---- RNG ---------------------------------------------------------------------------------

@pytest.mark.parametrize("ctr, key, out", [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
])
def test_philox_known_answers(ctr, key, out):
    """Random123's published vectors for Philox4x32-10."""
    assert rng.philox4x32_10(ctr, key) == out


def test_alnum_ids_use_every_character_evenly_at_every_position():
    """Response ids (core/ids): digits come two at a time, so check each position."""
    alphabet = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
    assert [len(ids.alnum(n)) for n in range(13)] == list(range(13))
    drawn = [ids.alnum(29) for _ in range(N)]
    assert len(set(drawn)) == N
    for pos in range(29):
        counts = {c: 0 for c in alphabet}
        for d in drawn:
            counts[d[pos]] += 1
        assert len(counts) == 62   # nothing outside the alphabet
        mean = N / 62              # about 323, standard deviation about 18
        assert all(abs(k - mean) < 6 * math.sqrt(mean) for k in counts.values()), pos


def test_stream_is_the_counter_sequence():
    s = Stream(KEY)
    draws = [s.u64() for _ in range(9)]
    assert draws == [rng.u64(KEY, i) for i in range(9)]
    assert s.counter == 9
    assert Stream(KEY, counter=4).u64() == draws[4]
    assert len(set(draws)) == 9


def test_same_key_same_sequence_different_key_different():
    a, b, c = Stream(1), Stream(1), Stream(2)
    seq_a = [a.u64() for _ in range(100)]
    assert seq_a == [b.u64() for _ in range(100)]
    assert not set(seq_a) & {c.u64() for _ in range(100)}


def test_uniform_double_is_open_interval_and_uniform():
    s = Stream(KEY)
    xs = [s.random() for _ in range(N)]
    assert all(0.0 < x < 1.0 for x in xs)
    assert abs(statistics.fmean(xs) - 0.5) < 5 * math.sqrt(1 / 12 / N)
    assert abs(sum(x < 0.25 for x in xs) / N - 0.25) < 5 * math.sqrt(0.25 * 0.75 / N)


def test_below_is_in_range_and_unbiased():
    s = Stream(KEY)
    counts = [0] * 10
    for _ in range(N):
        counts[s.below(10)] += 1
    chi2 = sum((c - N / 10) ** 2 / (N / 10) for c in counts)
    assert chi2 < 30  # 9 degrees of freedom: p ~ 0.0004
    arr = Stream(KEY).below_array(10, N)
    assert arr.typecode == "q" and len(arr) == N and min(arr) == 0 and max(arr) == 9
    again = Stream(KEY)
    assert list(arr[:50]) == [again.below(10) for _ in range(50)]
    big = Stream(3).below_array(2**63 - 1, 100)
    assert all(0 <= x < 2**63 - 1 for x in big)
    with pytest.raises(ValueError):
        s.below(0)


def test_keys_and_subkeys_are_distinct_and_stable():
    k = rng.request_key(7, 42)
    assert k == rng.request_key(7, 42)
    assert len({k, rng.request_key(8, 42), rng.request_key(7, 43), rng.request_key(42, 7)}) == 4
    subs = {rng.subkey(k, d) for d in range(1, 9)}
    assert len(subs) == 8 and k not in subs
    assert Stream(k).split(3).key == rng.subkey(k, 3)
    assert rng.request_key(0, -1) == rng.request_key(0, 2**64 - 1)  # keys are taken mod 2^64


def test_hash64_distinguishes_lengths_content_and_seed():
    data = bytes(range(256)) * 2
    hashes = {rng.hash64(data[:n]) for n in range(len(data) + 1)}
    assert len(hashes) == len(data) + 1
    assert rng.hash64(b"a") != rng.hash64(b"a\x00")
    assert rng.hash64(b"body", seed=1) != rng.hash64(b"body", seed=2)
    assert rng.hash64(bytearray(b"body")) == rng.hash64(b"body") == rng.hash64(memoryview(b"body"))


def test_hash64_avalanche():
    """Flipping any one input bit flips about half of the 64 output bits."""
    msg = bytearray(b'{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}')
    base = rng.hash64(msg)
    flips = []
    for bit in range(len(msg) * 8):
        m = bytearray(msg)
        m[bit // 8] ^= 1 << (bit % 8)
        flips.append(bin(base ^ rng.hash64(m)).count("1"))
    assert 30 < statistics.fmean(flips) < 34
    assert min(flips) >= 12


# ---- distributions -------------------------------------------------------------------------

def draws(dist, key=KEY):
    return list(dist.fill(key, 0, N))


def ecdf(xs, x):
    return sum(v <= x for v in xs) / len(xs)


def assert_quantile(xs, value, q):
    """The empirical CDF at the theoretical q-quantile is q within 5 standard errors."""
    assert abs(ecdf(xs, value) - q) < 5 * math.sqrt(q * (1 - q) / len(xs)), (value, q)


def assert_mean(xs, mean, sd):
    assert abs(statistics.fmean(xs) - mean) < 5 * sd / math.sqrt(len(xs)), mean


def phi(x):
    return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def big_phi(x):
    return 0.5 * math.erfc(-x / math.sqrt(2))


def test_constant():
    assert set(draws(Distribution("constant", value=1.5e6))) == {1.5e6}


def test_uniform():
    xs = draws(Distribution("uniform", low=10.0, high=30.0))
    assert min(xs) >= 10 and max(xs) <= 30
    assert_mean(xs, 20, 20 / math.sqrt(12))
    for q in (0.1, 0.5, 0.9):
        assert_quantile(xs, 10 + 20 * q, q)


def test_normal():
    xs = draws(Distribution("normal", mean=100.0, stddev=10.0))
    assert_mean(xs, 100, 10)
    assert abs(statistics.stdev(xs) - 10) < 0.3
    for q, z in ((0.5, 0.0), (0.9, 1.2815515655446004), (0.01, -2.3263478740408408)):
        assert_quantile(xs, 100 + 10 * z, q)


def test_normal_is_truncated_not_clamped_at_zero():
    mu, sd = 5.0, 10.0
    xs = draws(Distribution("normal", mean=mu, stddev=sd))
    assert min(xs) >= 0
    assert sum(x == 0 for x in xs) == 0  # no point mass at 0
    a = -mu / sd
    z = 1 - big_phi(a)
    mean = mu + sd * phi(a) / z
    var = sd * sd * (1 + a * phi(a) / z - (phi(a) / z) ** 2)
    assert_mean(xs, mean, math.sqrt(var))
    # P(X <= mu) for the truncated law
    assert_quantile(xs, mu, (0.5 - big_phi(a)) / z)


def test_lognormal_by_median_and_p99():
    xs = draws(Distribution("lognormal", median=20e6, p99=80e6))
    assert_quantile(xs, 20e6, 0.5)
    assert_quantile(xs, 80e6, 0.99)


@pytest.mark.parametrize("name, q", [("p90", 0.9), ("p95", 0.95), ("p999", 0.999)])
def test_lognormal_by_median_and_other_quantiles(name, q):
    xs = draws(Distribution("lognormal", median=1.0, **{name: 3.0}))
    assert_quantile(xs, 1.0, 0.5)
    assert_quantile(xs, 3.0, q)


def test_lognormal_by_mean_and_stddev():
    xs = draws(Distribution("lognormal", mean=50.0, stddev=20.0))
    assert_mean(xs, 50, 20)
    assert abs(statistics.stdev(xs) - 20) < 2
    mu, sigma, _, _ = Distribution("lognormal", mean=50.0, stddev=20.0).params
    assert_quantile(xs, math.exp(mu), 0.5)
    assert sigma == pytest.approx(math.sqrt(math.log(1 + 0.16)))


def test_exponential():
    xs = draws(Distribution("exponential", mean=50.0))
    assert_mean(xs, 50, 50)
    assert_quantile(xs, 50 * math.log(2), 0.5)
    assert_quantile(xs, -50 * math.log(0.01), 0.99)


def test_pareto():
    xs = draws(Distribution("pareto", scale=10.0, alpha=3.0))
    assert min(xs) >= 10
    assert_quantile(xs, 10 * 2 ** (1 / 3), 0.5)
    assert_quantile(xs, 10 * 0.1 ** (-1 / 3), 0.9)
    assert abs(statistics.fmean(xs) - 15) < 0.5  # alpha 3: finite variance, heavy-ish tail


def test_empirical_interpolates_between_percentiles():
    pts = [(0, 5.0), (50, 20.0), (90, 40.0), (100, 100.0)]
    xs = draws(Distribution("empirical", points=pts))
    assert min(xs) >= 5 and max(xs) <= 100
    for p, v in pts[1:-1]:
        assert_quantile(xs, v, p / 100)
    assert_quantile(xs, 12.5, 0.25)   # halfway between p0 and p50
    assert_quantile(xs, 30.0, 0.7)


def test_empirical_outside_listed_percentiles_sits_at_the_ends():
    xs = draws(Distribution("empirical", points=[(50, 20.0), (90, 40.0)]))
    assert abs(sum(x == 20.0 for x in xs) / N - 0.5) < 0.02
    assert abs(sum(x == 40.0 for x in xs) / N - 0.1) < 0.01


def test_min_max_clamp():
    xs = draws(Distribution("exponential", mean=10.0, min=2.0, max=30.0))
    assert min(xs) == 2.0 and max(xs) == 30.0
    assert_quantile(xs, 20.0, 1 - math.exp(-2))


ALL_KINDS = [
    Distribution("constant", value=3.0),
    Distribution("uniform", low=1.0, high=2.0),
    Distribution("normal", mean=1.0, stddev=2.0),
    Distribution("lognormal", median=1.0, p99=5.0),
    Distribution("exponential", mean=2.0),
    Distribution("pareto", scale=1.0, alpha=1.5, max=1e6),
    Distribution("empirical", points=[(0, 1.0), (100, 9.0)]),
]


@pytest.mark.parametrize("dist", ALL_KINDS, ids=lambda d: d.kind)
@pytest.mark.parametrize("first", [0, 1, 6, 2**40 + 3])
def test_fill_equals_single_draws(dist, first):
    xs = dist.fill(KEY, first, 37)
    assert list(xs) == [dist.at(KEY, first + i) for i in range(37)]


@pytest.mark.parametrize("dist", ALL_KINDS, ids=lambda d: d.kind)
def test_sample_uses_the_stream_counter(dist):
    s = Stream(KEY, counter=5)
    assert [dist.sample(s) for _ in range(4)] == [dist.at(KEY, i) for i in range(5, 9)]
    assert s.counter == 9


def test_same_seed_same_draws_different_seed_different():
    d = Distribution("lognormal", median=1.0, p99=5.0)
    assert list(d.fill(1, 0, 100)) == list(d.fill(1, 0, 100))
    assert not set(d.fill(1, 0, 100)) & set(d.fill(2, 0, 100))


@pytest.mark.parametrize("kind, params, words", [
    ("gamma", {}, "unknown distribution 'gamma'"),
    ("uniform", {"low": 5.0, "high": 1.0}, "high must be >= 5"),
    ("normal", {"mean": -1.0, "stddev": 1.0}, "mean must be >= 0"),
    ("normal", {"mean": 1.0}, "normal takes mean, stddev, got mean"),
    ("lognormal", {"median": 5.0, "p99": 2.0}, "p99 must be > 5"),
    ("lognormal", {"median": 5.0, "p42": 9.0}, "lognormal takes"),
    ("pareto", {"scale": 1.0, "alpha": 0.0}, "alpha must be > 0"),
    ("exponential", {"mean": float("nan")}, "mean must be finite"),
    ("constant", {"value": "x"}, "value must be a number"),
    ("empirical", {"points": [(50, 2.0), (40, 3.0)]}, "percentiles must increase"),
    ("empirical", {"points": [(10, 2.0), (40, 1.0)]}, "value at p40 must be >= 2"),
    ("empirical", {"points": [(p, float(p)) for p in range(40)]}, "1 to 32 points"),
])
def test_invalid_parameters_are_named(kind, params, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        Distribution(kind, **params)


def test_min_above_max_is_rejected():
    with pytest.raises(ValueError, match="max must be >= 3"):
        Distribution("constant", value=1.0, min=3.0, max=2.0)


# ---- planning loop (llmsim.core.plan.Plan) ----------------------------------------------------

def test_plan_arrays():
    ttft = Distribution("constant", value=1e6)
    itl = Distribution("lognormal", median=1e6, p99=4e6)
    length = Distribution("constant", value=40)
    p = Plan(ttft, itl, length, 9, 5e5, 1.0)
    assert (p.n_tokens, p.truncated, p.ttft_ns) == (40, False, 1_500_000)
    gaps, due = p.itl_ns, p.due
    assert gaps.typecode == due.typecode == "q" and len(gaps) == 39 and len(due) == 40
    assert due[0] == p.ttft_ns and all(due[i + 1] - due[i] == gaps[i] for i in range(39))
    assert list(gaps) == [round(x) for x in itl.fill(rng.subkey(9, 2), 0, 39)]
    assert p.total_ns == due[39] == p.due_ns(39) == p.due_ns(-1)
    with pytest.raises(IndexError):
        p.due_ns(40)


def test_plan_caps_forces_and_zero_scale():
    c = Distribution("constant", value=7e6)
    length = Distribution("constant", value=40)

    def plan(fixed_ns, scale, max_tokens=-1, forced=-1, length=length):
        return Plan(c, c, length, 1, fixed_ns, scale, max_tokens, forced)

    assert (plan(0.0, 1.0, 10).n_tokens, plan(0.0, 1.0, 10).truncated) == (10, True)
    assert (plan(0.0, 1.0, 40).n_tokens, plan(0.0, 1.0, 40).truncated) == (40, False)
    assert (plan(0.0, 1.0, -1, 3).n_tokens, plan(0.0, 1.0, -1, 3).truncated) == (3, False)
    off = plan(1e9, 0.0)
    assert off.n_tokens == 40 and off.ttft_ns == off.total_ns == 0
    assert set(off.itl_ns) == {0} and set(off.due) == {0} and len(off.due) == 40
    assert off.due_ns(39) == 0
    slow = plan(0.0, 2.5)
    assert slow.ttft_ns == 17_500_000 and set(slow.itl_ns) == {17_500_000}
    assert plan(0.0, 1.0, length=Distribution("constant", value=0.0)).n_tokens == 1
    none = plan(0.0, 1.0, 0)
    assert none.n_tokens == 0 and len(none.itl_ns) == 0 and len(none.due) == 0
    assert none.total_ns == none.ttft_ns == 7_000_000


def test_plan_rng_continues_draws_made_before_it_was_asked_for():
    c = Distribution("constant", value=1.0)
    assert Plan(c, c, c, 5, 0.0, 0.0).rng.key == rng.subkey(5, 4)
    a, b = Plan(c, c, c, 5, 0.0, 0.0), Plan(c, c, c, 5, 0.0, 1.0)
    assert [a.rng.u64() for _ in range(3)] == [b.rng.u64() for _ in range(3)]


def test_stretch_in_place():
    c = Distribution("constant", value=1e6)
    p = Plan(c, c, Distribution("constant", value=4), 1, 0.0, 1.0)
    gaps, due = p.itl_ns, p.due
    p.stretch(1.5, 10)
    assert p.ttft_ns == 1_500_010 and p.total_ns == 6_000_010
    assert list(gaps) == [1_500_000] * 3
    assert list(due) == [1_500_010, 3_000_010, 4_500_010, 6_000_010]
    off = Plan(c, c, Distribution("constant", value=2), 1, 0.0, 0.0)
    off.stretch(2.0, 7)
    assert list(off.due) == [7, 7] and off.total_ns == 7


def test_sub_millisecond_resolution_is_kept():
    d = Distribution("uniform", low=1e6, high=2e6)
    gaps = Plan(d, d, Distribution("constant", value=200), 3, 0.0, 1.0).itl_ns
    assert len({g % 1_000_000 for g in gaps}) > 150


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
@pytest.mark.parametrize("header", ["llmsim_rng.h", "llmsim_dist.h"])
def test_header_compiles_alone_with_werror(header):
    subprocess.run(["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-x", "c",
                    os.path.join(CSRC, header)], check=True)
