"""Latency profiles, config parsing and the Planner (llmsim/sim/latency.py, timing.py)."""

import os
import statistics

import pytest

from llmsim.core import ids
from llmsim.errors import ApiError, ConfigError
from llmsim.sim import latency
from llmsim.sim.latency import Dist, load_catalog, parse_dist, parse_quantity
from llmsim.sim.timing import Planner

MS = 1_000_000

# A profile with exact delays, to check arithmetic.
EXACT = {"ttft": {"overhead": "100ms", "per_prompt_token": "10us", "sampled": "0ms"},
         "itl": "10ms", "output_tokens": "20"}


def planner(config=None, **kw):
    return Planner(config or {}, global_seed=kw.pop("global_seed", None),
                   no_latency=kw.pop("no_latency", False), multiplier=kw.pop("multiplier", 1.0))


# ---- parsing -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, ns", [
    ("200ms", 200 * MS), ("1.5s", 1_500 * MS), ("250us", 250_000), ("250µs", 250_000),
    ("3ns", 3), ("0.25 ms", 250_000), ("1m", 60_000 * MS), (40, 40 * MS), (0.5, 500_000),
    ("1e-3s", MS),
])
def test_durations(text, ns):
    assert parse_quantity(text, "x") == pytest.approx(ns)


@pytest.mark.parametrize("text", ["fast", "-5ms", "5 hours", "", "ms", True, None, [1]])
def test_bad_durations_name_the_field(text):
    with pytest.raises(ConfigError, match=r"^a: b: "):
        parse_quantity(text, "a: b")


@pytest.mark.parametrize("text, kind, params", [
    ("20ms", "constant", {"value": 20 * MS}),
    ("20ms±5ms", "normal", {"mean": 20 * MS, "stddev": 5 * MS}),
    ("20ms~5ms", "normal", {"mean": 20 * MS, "stddev": 5 * MS}),
    ("20ms +- 25%", "normal", {"mean": 20 * MS, "stddev": 5 * MS}),
    ("10ms..30ms", "uniform", {"low": 10 * MS, "high": 30 * MS}),
])
def test_shorthand_forms(text, kind, params):
    assert parse_dist(text, "x") == Dist(kind=kind, params=params)


def test_dict_forms_and_units():
    d = parse_dist({"dist": "lognormal", "median": "20ms", "p99": "80ms", "max": "1s"}, "x")
    assert d == Dist(kind="lognormal", params={"median": 20 * MS, "p99": 80 * MS}, max=1e9)
    d = parse_dist({"dist": "pareto", "scale": "5ms", "alpha": 2}, "x")
    assert d.params == {"scale": 5 * MS, "alpha": 2.0}
    d = parse_dist({"dist": "empirical", "percentiles": {"p50": "20ms", "p99.9": 50}}, "x")
    assert d.params["points"] == [(50.0, 20 * MS), (99.9, 50 * MS)]
    d = parse_dist({"dist": "empirical", "percentiles": [[90, 4], [10, 1]]}, "x")
    assert d.params["points"] == [(10.0, MS), (90.0, 4 * MS)]
    # lengths are plain counts
    assert parse_dist("300~50", "x", latency.COUNT).params == {"mean": 300.0, "stddev": 50.0}
    with pytest.raises(ConfigError, match="a token count takes no unit"):
        parse_dist("300ms", "x", latency.COUNT)


@pytest.mark.parametrize("spec, where", [
    ({"dist": "gamma"}, "p: dist: expected one of constant"),
    ({"dist": "normal", "mean": "5ms", "sd": "1ms"}, "p: sd: unknown key for normal"),
    ({"dist": "lognormal", "median": "50ms", "p99": "20ms"}, "p: lognormal: p99 must be >"),
    ({"dist": "lognormal", "median": "50ms"}, "p: lognormal takes"),
    ({"dist": "empirical", "percentiles": {"median": 5}}, "p: percentiles: percentile keys"),
    ({"dist": "uniform", "low": "1s", "high": "fast"}, "p: high: expected a duration"),
    ([1, 2], "p: expected a value like"),
])
def test_dist_errors_name_the_path(spec, where):
    with pytest.raises(ConfigError, match="^" + where):
        parse_dist(spec, "p")


# ---- catalog -----------------------------------------------------------------------------------

@pytest.mark.parametrize("model, profile", [
    ("gpt-4o", "standard"), ("gpt-4o-2024-08-06", "standard"),
    ("gpt-4o-mini-2024-07-18", "fast-small"), ("gpt-4.1-nano", "fast-small"),
    ("o3", "reasoning"), ("o3-mini", "reasoning-fast"), ("o4-mini-2025-04-16", "reasoning-fast"),
    ("gpt-5", "reasoning"), ("gpt-5-mini", "reasoning-fast"), ("gpt-5-chat-latest", "standard"),
    ("claude-opus-4-1-20250805", "large"), ("claude-sonnet-4-5", "standard"),
    ("claude-3-5-haiku-20241022", "fast-small"), ("gemini-2.5-pro", "reasoning"),
    ("models/gemini-2.5-flash", "standard"), ("gemini-2.5-flash-lite", "fast-small"),
    ("gemini-2.0-flash-001", "fast-small"), ("text-embedding-3-small", "embedding"),
    ("gemini-embedding-001", "embedding"), ("my-local-model", "standard"),
])
def test_catalog_lookup(model, profile):
    assert load_catalog({}).lookup(model).name == profile


def test_builtin_profiles_are_ordered_by_speed():
    p = planner()
    medians = {}
    for model in ("gpt-4o-mini", "gpt-4o", "claude-opus-4-1", "o3"):
        ttfts = [p.plan(model, 100, 1, k, None).ttft_ns for k in range(300)]
        medians[model] = statistics.median(ttfts)
    assert medians["gpt-4o-mini"] < medians["gpt-4o"] < medians["claude-opus-4-1"] < medians["o3"]
    assert 0.2e9 < medians["gpt-4o"] < 1.5e9


def test_models_share_named_profiles():
    cat = load_catalog({"profiles": {"team": {"itl": "5ms"}},
                        "models": {"a": "team", "b": "team", "c": {"itl": "7ms"}}})
    assert cat.lookup("a") is cat.lookup("b")
    assert cat.lookup("a").name == "team" and cat.lookup("a").itl.params == {"value": 5 * MS}
    # a new profile extends "standard"; an inline model profile extends what the model had
    assert cat.lookup("a").ttft == cat.profiles["standard"].ttft
    assert cat.lookup("c").ttft == cat.profiles["standard"].ttft


def test_overriding_builtin_profile_and_model():
    cat = load_catalog({"profiles": {"fast-small": {"itl": "1ms"}},
                        "models": {"gpt-4o": {"itl": "3ms"}, "gpt-4o-mini-custom": "large"}})
    assert cat.lookup("gpt-4.1-mini").itl.params == {"value": MS}
    assert cat.lookup("gpt-4.1-mini").ttft == latency.BUILTIN["fast-small"].ttft
    assert cat.lookup("gpt-4o").itl.params == {"value": 3 * MS}
    assert cat.lookup("gpt-4o").ttft == latency.BUILTIN["standard"].ttft
    assert cat.lookup("gpt-4o-mini-custom-2").name == "large"  # config names are prefixes too


def test_default_profile_and_extends_chain():
    cat = load_catalog({"profiles": {"a": {"extends": "large", "itl": "2ms"},
                                     "b": {"extends": "a", "output_tokens": "9"}},
                        "default": "b"})
    p = cat.lookup("unknown-model")
    assert p.name == "b" and p.itl.params == {"value": 2 * MS}
    assert p.ttft == latency.BUILTIN["large"].ttft
    assert p.output_tokens.params == {"value": 9.0}


def test_cli_shortcuts_set_every_model():
    cat = load_catalog({"ttft": "200ms", "itl": "20ms~5ms"})
    for model in ("gpt-4o", "o3", "claude-opus-4", "whatever"):
        prof = cat.lookup(model)
        assert prof.ttft.overhead_ns == 0 and prof.ttft.per_prompt_token_ns == 0
        assert prof.ttft.sampled.params == {"value": 200 * MS}
        assert prof.itl.params == {"mean": 20 * MS, "stddev": 5 * MS}


@pytest.mark.parametrize("config, where", [
    ({"speed": 1}, "config: latency: speed: unknown key"),
    ({"profiles": {"x": {"itl": "fast"}}}, "config: latency: profiles: x: itl: expected a duration"),
    ({"profiles": {"x": {"ttft": {"overhead": "1s", "prefill": "1us"}}}},
     "config: latency: profiles: x: ttft: prefill: unknown key"),
    ({"profiles": {"x": {"itl": {"dist": "normal", "mean": "5ms", "stdev": "1ms"}}}},
     "config: latency: profiles: x: itl: stdev: unknown key for normal"),
    ({"profiles": {"x": {"extends": "nope"}}},
     "config: latency: profiles: x: extends: unknown profile 'nope'"),
    ({"profiles": {"x": {"extends": "y"}, "y": {"extends": "x"}}}, "in a cycle: x -> y -> x"),
    ({"profiles": {"x": {"output_tokens": "100ms"}}},
     "config: latency: profiles: x: output_tokens: a token count takes no unit"),
    ({"models": {"gpt-4o": "nope"}}, "config: latency: models: gpt-4o: unknown profile 'nope'"),
    ({"models": {"gpt-4o": 5}}, "config: latency: models: gpt-4o: expected a profile name"),
    ({"default": {"itl": "-1ms"}}, "config: latency: default: itl: expected a duration"),
    ({"load": {"capacity": 0}}, "config: latency: load: capacity: expected an integer >= 1"),
    ({"load": {"capacity": 4, "slowdown": -1}}, "config: latency: load: slowdown: must be >= 0"),
    ({"load": {"slowdown": 0.1}}, "config: latency: load: capacity: required"),
    ({"profiles": {"x": {"ttft": {"sampled": {"dist": "pareto", "scale": "1ms", "alpha": 0}}}}},
     "config: latency: profiles: x: ttft: sampled: pareto: alpha must be > 0"),
    ([], "config: latency: expected a mapping"),
])
def test_config_errors_name_the_field(config, where):
    with pytest.raises(ConfigError) as e:
        Planner(config, global_seed=None, no_latency=False, multiplier=1.0)
    assert str(e.value).startswith(where) or where in str(e.value), str(e.value)


def test_load_section_applies_unless_profile_turns_it_off():
    cat = load_catalog({"load": {"capacity": 8, "slowdown": 0.01, "queue_limit": 4},
                        "profiles": {"quiet": {"load": "off"}},
                        "models": {"m": "quiet", "n": {"load": {"capacity": 2}}}})
    assert cat.lookup("gpt-4o").load == latency.Load(capacity=8, slowdown=0.01, queue_limit=4)
    assert cat.lookup("m").load is None
    assert cat.lookup("n").load == latency.Load(capacity=2)
    assert load_catalog({}).lookup("gpt-4o").load is None  # off by default


# ---- planner -----------------------------------------------------------------------------------

def same(a, b):
    return (a.n_tokens, a.ttft_ns, list(a.itl_ns), a.total_ns, a.rng.u64()) == \
        (b.n_tokens, b.ttft_ns, list(b.itl_ns), b.total_ns, b.rng.u64())


def test_same_key_same_plan_in_any_order_and_any_planner():
    p1, p2 = planner(global_seed=11), planner(global_seed=11)
    a1 = p1.plan("gpt-4o", 50, None, 1234, None)
    for k in range(20):
        p2.plan("gpt-4o", 50, None, k, None)      # other requests first
    p2.plan("claude-sonnet-4", 50, None, 1234, None)
    a2 = p2.plan("gpt-4o", 50, None, 1234, None)
    assert same(a1, a2)
    assert a1.n_tokens > 1


def test_different_keys_seeds_and_fresh_randomness_differ():
    p = planner(global_seed=1)
    a, b = p.plan("gpt-4o", 50, None, 1, None), p.plan("gpt-4o", 50, None, 2, None)
    assert a.ttft_ns != b.ttft_ns and list(a.itl_ns[:5]) != list(b.itl_ns[:5])
    c = planner(global_seed=2).plan("gpt-4o", 50, None, 1, None)
    assert a.ttft_ns != c.ttft_ns
    f1, f2 = p.plan("gpt-4o", 50, None, None, None), p.plan("gpt-4o", 50, None, None, None)
    assert f1.ttft_ns != f2.ttft_ns and f1.rng.u64() != f2.rng.u64()


@pytest.mark.parametrize("output_tokens", [
    "200±50", "40±60",   # the second truncates its normal: rejected pairs redrawn
    {"dist": "lognormal", "median": 200, "p99": 800}, {"dist": "exponential", "mean": 100},
])
def test_fresh_plans_draw_from_the_distributions_of_keyed_plans(output_tokens, monkeypatch,
                                                                request):
    """Plans of no key draw their first length and TTFT from fresh bits, not from Philox
    (normals by the polar method, not Box-Muller): the same distributions as keyed plans
    (means within 5 standard errors, spreads 5%, two-sample Kolmogorov-Smirnov distance
    under its 0.1% critical value). The fresh bits start from a fixed state, so the check is
    repeatable (sample spreads of heavy-tailed draws stray past 5% now and then)."""
    monkeypatch.setattr(os, "urandom", lambda n: bytes(range(7, 7 + n)))
    ids.reseed()
    monkeypatch.undo()
    request.addfinalizer(ids.reseed)
    sampled = {"dist": "lognormal", "median": "20ms", "p99": "80ms"}
    p = planner({"profiles": {"x": {"ttft": {"overhead": "1ms", "per_prompt_token": "0us",
                                             "sampled": sampled},
                                    "itl": "10ms", "output_tokens": output_tokens}},
                 "default": "x"})
    n = 20_000
    fresh = [p.plan("x", 0, None, None, None) for _ in range(n)]
    keyed = [p.plan("x", 0, None, k, None) for k in range(n)]
    for value in (lambda q: q.n_tokens, lambda q: q.ttft_ns):
        a, b = [value(q) for q in fresh], [value(q) for q in keyed]
        sd = statistics.stdev(b)
        assert abs(statistics.mean(a) - statistics.mean(b)) < 5 * sd * (2 / n) ** 0.5
        assert abs(statistics.stdev(a) / sd - 1) < 0.05
        assert ks_distance(a, b) < 1.95 * (2 / n) ** 0.5
    assert len({q.n_tokens for q in fresh}) > 50


def ks_distance(a, b):
    """The largest gap between the empirical distribution functions of samples a and b."""
    a, b = sorted(a), sorted(b)
    i = j = 0
    gap = 0.0
    while i < len(a) and j < len(b):
        x = min(a[i], b[j])
        while i < len(a) and a[i] == x:
            i += 1
        while j < len(b) and b[j] == x:
            j += 1
        gap = max(gap, abs(i / len(a) - j / len(b)))
    return gap


def test_request_key_rule():
    body = b'{"model":"gpt-4o","messages":[]}'
    assert planner().request_key(None, body) is None             # fresh randomness
    assert planner().request_key(42, body) == 42
    seeded = planner(global_seed=5)
    assert seeded.request_key(None, body) == seeded.request_key(None, body)
    assert seeded.request_key(None, body) != seeded.request_key(None, body + b" ")


def test_plan_arithmetic_prefill_and_length():
    p = planner({"profiles": {"exact": EXACT}, "default": "exact"})
    plan = p.plan("x", 1000, None, 1, None)
    assert plan.ttft_ns == 100 * MS + 1000 * 10_000
    assert plan.n_tokens == 20 and not plan.truncated
    assert list(plan.itl_ns) == [10 * MS] * 19
    assert plan.total_ns == plan.ttft_ns + 19 * 10 * MS == plan.due_ns(19)
    assert [plan.due_ns(i) for i in range(3)] == [110 * MS, 120 * MS, 130 * MS]
    short = p.plan("x", 0, 5, 1, None)
    assert short.n_tokens == 5 and short.truncated and len(short.itl_ns) == 4


def test_no_latency_and_multiplier():
    cfg = {"profiles": {"exact": EXACT}, "default": "exact"}
    zero = planner(cfg, no_latency=True).plan("x", 1000, None, 1, None)
    assert zero.ttft_ns == 0 and zero.total_ns == 0 and set(zero.itl_ns) == {0}
    assert zero.n_tokens == 20
    double = planner(cfg, multiplier=2).plan("x", 0, None, 1, None)
    assert double.ttft_ns == 200 * MS and set(double.itl_ns) == {20 * MS}
    p = planner(cfg)
    p.multiplier = 0.5
    assert p.plan("x", 0, None, 1, None).ttft_ns == 50 * MS
    with pytest.raises(ConfigError, match="latency_multiplier"):
        p.multiplier = -1


def test_random_profile_statistics_through_the_planner():
    p = planner({"default": {"ttft": {"dist": "lognormal", "median": "300ms", "p99": "2s"},
                             "itl": "20ms~5ms", "output_tokens": "1000"}})
    plan = p.plan("x", 0, None, 99, None)
    gaps = [g / MS for g in plan.itl_ns]
    assert abs(statistics.fmean(gaps) - 20) < 5 * 5 / len(gaps) ** 0.5
    assert abs(statistics.stdev(gaps) - 5) < 0.5
    ttfts = sorted(p.plan("x", 0, 1, k, None).ttft_ns for k in range(2000))
    assert 0.45 < sum(t <= 300 * MS for t in ttfts) / 2000 < 0.55


def test_override_header():
    p = planner({"profiles": {"exact": EXACT}, "default": "exact"})
    off = p.plan("x", 1000, None, 1, b"off")
    assert off.ttft_ns == 0 and off.total_ns == 0
    o = p.plan("x", 1000, None, 1, b"ttft=50ms, itl=1ms, tokens=3")
    assert (o.ttft_ns, list(o.itl_ns), o.n_tokens) == (50 * MS, [MS, MS], 3)
    assert p.plan("x", 0, None, 1, b"x=3").ttft_ns == 300 * MS
    assert p.plan("x", 0, 2, 1, b"tokens=9").n_tokens == 2
    assert p.plan("x", 0, None, 1, b"profile=embedding").profile == "embedding"
    normal = p.plan("x", 0, None, 1, b"itl=10ms~2ms")
    assert normal.ttft_ns == 100 * MS and len(set(normal.itl_ns)) > 10


@pytest.mark.parametrize("raw, words", [
    (b"ttft", "x-llmsim-latency: expected 'off' or key=value"),
    (b"ttft=soon", "x-llmsim-latency: ttft: expected a duration"),
    (b"speed=2", "x-llmsim-latency: speed: unknown key"),
    (b"x=-1", "x-llmsim-latency: x: expected a factor"),
    (b"tokens=many", "x-llmsim-latency: tokens: expected a token count"),
    (b"profile=nope", "x-llmsim-latency: profile: unknown profile 'nope'"),
    (b"itl=1ms,itl=2ms", "x-llmsim-latency: itl: given twice"),
    (b"\xff", "x-llmsim-latency: not valid UTF-8"),
])
def test_bad_override_is_a_400(raw, words):
    with pytest.raises(ApiError) as e:
        planner().plan("gpt-4o", 0, None, 1, raw)
    assert e.value.status == 400 and e.value.message.startswith(words), e.value.message
    assert e.value.param == "x-llmsim-latency"


def test_load_model_slowdown_queue_and_429():
    p = planner({"default": dict(EXACT, load={"capacity": 2, "slowdown": 0.5,
                                             "queue_limit": 1})})
    t0 = 10**12
    a = p.plan("m", 0, None, 1, None)
    p.admit(a, t0)
    assert a.ttft_ns == 100 * MS and a.total_ns == 290 * MS          # alone: no slowdown
    b = p.plan("m", 0, None, 1, None)
    p.admit(b, t0 + 10 * MS)
    assert b.ttft_ns == 150 * MS and set(b.itl_ns) == {15 * MS}       # 2 running: x1.5
    assert b.total_ns == 150 * MS + 19 * 15 * MS
    c = p.plan("m", 0, None, 1, None)
    p.admit(c, t0 + 20 * MS)                                          # queued for a's slot
    assert c.ttft_ns == (290 - 20) * MS + 150 * MS
    d = p.plan("m", 0, None, 1, None)
    with pytest.raises(ApiError) as e:
        p.admit(d, t0 + 30 * MS)
    assert e.value.status == 429 and b"retry-after: 1\r\n" == e.value.headers
    # b is cut short: its slot frees at once and the next request starts at once
    p.release(b, t0 + 40 * MS)
    e2 = p.plan("m", 0, None, 1, None)
    p.admit(e2, t0 + 41 * MS)
    assert e2.ttft_ns == 150 * MS


def test_load_model_drains_with_time_and_is_per_model():
    p = planner({"default": dict(EXACT, load={"capacity": 1, "queue_limit": 0})})
    t0 = 10**12
    a = p.plan("m", 0, None, 1, None)
    p.admit(a, t0)
    with pytest.raises(ApiError):
        p.admit(p.plan("m", 0, None, 1, None), t0 + MS)
    p.admit(p.plan("other", 0, None, 1, None), t0 + MS)               # its own server
    late = p.plan("m", 0, None, 1, None)
    p.admit(late, t0 + a.total_ns)                                    # a has finished
    assert late.ttft_ns == 100 * MS


def test_admit_without_load_model_changes_nothing():
    p = planner({"profiles": {"exact": EXACT}, "default": "exact"})
    plan = p.plan("x", 0, None, 1, None)
    for _ in range(100):
        p.admit(plan, 0)
    assert plan.ttft_ns == 100 * MS
    p.release(plan, 0)
