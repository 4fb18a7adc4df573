"""The shared-memory segment: cross-process sums, histogram buckets, retired-worker folding,
runtime switches, the Prometheus text, and that the C headers compile on their own."""

import bisect
import importlib.util
import math
import os
import re
import select
import shutil
import subprocess
import sys
import textwrap
import traceback
from pathlib import Path

import pytest

from llmsim import metrics
from llmsim.core import shm

REPO = Path(__file__).resolve().parent.parent
CSRC = REPO / "csrc"
INF_BUCKET = len(shm.BUCKET_UPPER_NS)


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    """tests/shm_probe.pyx compiled against csrc/ and llmsim/core/shm.pxd: a Cython module
    that writes worker blocks through the .pxd API, like the connection code."""
    build = tmp_path_factory.mktemp("shm_probe")
    shutil.copy(Path(__file__).with_name("shm_probe.pyx"), build)
    script = textwrap.dedent(f"""
        from Cython.Build import cythonize
        from setuptools import Extension, setup
        ext = Extension("shm_probe", ["shm_probe.pyx"], include_dirs=[{str(CSRC)!r}])
        setup(script_args=["build_ext", "--inplace"],
              ext_modules=cythonize([ext], include_path=[{str(REPO)!r}], language_level=3))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=build, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    (so,) = build.glob("shm_probe*.so")
    spec = importlib.util.spec_from_file_location("shm_probe", so)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fork_call(fn, *args):
    """Run fn(*args) in a forked child; return the child's pid (exit 0 = fn returned)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            fn(*args)
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    return pid


def wait_ok(pid):
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


# ---- segment lifecycle and blocks --------------------------------------------------------

def test_create_checks_worker_count():
    for bad in (0, -1, shm.MAX_WORKERS + 1):
        with pytest.raises(ValueError):
            shm.Segment.create(bad)
    seg = shm.Segment.create(shm.MAX_WORKERS)
    assert seg.nworkers == shm.MAX_WORKERS
    assert seg.version == shm.LAYOUT_VERSION


def test_block_methods_reject_out_of_range():
    seg = shm.Segment.create(2)
    for call in (seg.worker_state, seg.worker_pid, seg.heartbeat, seg.heartbeat_age,
                 seg.reset_worker):
        with pytest.raises(IndexError):
            call(2)
        with pytest.raises(IndexError):
            call(-1)
    with pytest.raises(ValueError):
        seg.set_worker(0, 1, 4)


def test_states_and_ready():
    seg = shm.Segment.create(3)
    assert seg.expected_workers == 3
    assert seg.worker_state(0) == shm.EMPTY and not seg.all_serving()
    for i in range(3):
        seg.set_worker(i, 1000 + i, shm.BOOTING)
    assert not seg.all_serving()
    for i in range(3):
        seg.set_worker(i, 1000 + i, shm.SERVING)
    assert seg.all_serving()
    assert [seg.worker_pid(i) for i in range(3)] == [1000, 1001, 1002]
    seg.set_worker(1, 1001, shm.DRAINING)
    assert not seg.all_serving()
    assert seg.worker_state(1) == shm.DRAINING


def test_ready_counts_serving_blocks_when_there_are_spare_blocks():
    # Two workers, four blocks: a replacement gets a fresh block while the old one drains.
    seg = shm.Segment.create(4)
    seg.expected_workers = 2
    seg.set_worker(0, 10, shm.SERVING)
    assert not seg.all_serving()
    seg.set_worker(3, 11, shm.SERVING)
    assert seg.all_serving()
    seg.set_worker(1, 12, shm.BOOTING)            # reload: new workers boot beside the old
    seg.set_worker(2, 13, shm.BOOTING)
    assert seg.all_serving()
    seg.set_worker(0, 10, shm.DRAINING)
    assert not seg.all_serving()
    seg.set_worker(1, 12, shm.SERVING)
    assert seg.all_serving()
    for bad in (0, shm.MAX_WORKERS + 1):
        with pytest.raises(ValueError):
            seg.expected_workers = bad


def test_heartbeat_written_by_a_child_is_seen_by_the_parent(probe):
    seg = shm.Segment.create(2)
    assert seg.heartbeat_age(1) == math.inf

    def worker():
        seg.set_worker(1, os.getpid(), shm.SERVING)
        seg.heartbeat(1)

    pid = fork_call(worker)
    wait_ok(pid)
    assert 0.0 <= seg.heartbeat_age(1) < math.inf
    assert seg.worker_pid(1) == pid
    assert seg.worker_state(1) == shm.SERVING
    probe.set_state(seg, 1, shm.DRAINING)
    assert seg.worker_state(1) == shm.DRAINING


# ---- counters across processes -----------------------------------------------------------

def test_two_forked_writers_sum_in_the_parent(probe):
    seg = shm.Segment.create(2)

    def writer_a():
        probe.count_requests(seg, 0, 5000, 3, 200, 1500)
        probe.traffic(seg, 0, 1000)

    def writer_b():
        probe.count_requests(seg, 1, 3000, 3, 503, 2_000_000)
        probe.count_requests(seg, 1, 2000, 7, 404, 10)
        probe.traffic(seg, 1, 500)

    pids = [fork_call(writer_a), fork_call(writer_b)]
    for pid in pids:
        wait_ok(pid)
    snap = seg.snapshot()
    assert snap["requests"] == {(3, "2xx"): 5000, (3, "5xx"): 3000, (7, "4xx"): 2000}
    assert snap["bytes_in"] == 1500 * 100
    assert snap["bytes_out"] == 1500 * 1000
    assert snap["parse_errors"] == 1500
    assert snap["tokens_out"] == 1500 * 7
    assert snap["open_connections"] == 1500
    assert snap["open_streams"] == 1500
    assert snap["queued"] == 0
    duration = snap["request_duration"]
    assert duration["count"] == 10000
    assert duration["sum_ns"] == 5000 * 1500 + 3000 * 2_000_000 + 2000 * 10
    assert duration["buckets"][shm.BUCKET_UPPER_NS.index(1536)] == 5000  # (1280, 1536]
    assert duration["buckets"][0] == 2000


def test_rule_uses_are_granted_times_times_across_processes():
    seg = shm.Segment.create(2)
    r, w = os.pipe()

    def taker():   # 1,000 tries each; the 3 processes share the rule's 700 uses
        os.write(w, b"%04d" % sum(seg.rule_use(5, 700) for _ in range(1000)))

    pids = [fork_call(taker) for _ in range(3)]
    for pid in pids:
        wait_ok(pid)
    os.close(w)
    got = os.read(r, 12)
    os.close(r)
    assert sum(int(got[i:i + 4]) for i in range(0, 12, 4)) == 700
    assert seg.rule_use(5, 700) is False and seg.rule_use(6, 1) is True
    seg.rule_reset(5, 1)
    assert seg.rule_use(5, 1) is True and seg.rule_use(5, 1) is False
    with pytest.raises(IndexError):
        seg.rule_use(shm.RULE_COUNTERS, 1)


def test_status_classes_and_unmatched_route(probe):
    seg = shm.Segment.create(1)
    for status in (100, 199, 200, 301, 404, 429, 599, 99, 600, 0, -200):
        probe.count_requests(seg, 0, 1, 5, status, 0)
    probe.count_requests(seg, 0, 1, shm.MAX_ROUTES + 2, 200, 0)   # out of range: unmatched
    assert seg.snapshot()["requests"] == {
        (5, "1xx"): 2, (5, "2xx"): 1, (5, "3xx"): 1, (5, "4xx"): 2, (5, "5xx"): 1,
        (5, "other"): 4, (63, "2xx"): 1}


# ---- histogram buckets -------------------------------------------------------------------

def test_bucket_bounds_are_four_per_power_of_two_from_1us_to_2min():
    bounds = shm.BUCKET_UPPER_NS
    assert bounds[0] == 1024
    assert all(a < b for a, b in zip(bounds, bounds[1:]))
    assert all(bounds[i + 4] == 2 * bounds[i] for i in range(len(bounds) - 4))
    assert bounds[-1] >= 120e9
    empty = shm.Segment.create(1).snapshot()["ttft"]
    assert empty["buckets"] == [0] * (len(bounds) + 1)   # the last one is +Inf


def test_bucket_index_puts_each_bound_in_its_own_bucket(probe):
    bounds = shm.BUCKET_UPPER_NS
    for i, b in enumerate(bounds):
        assert probe.hist_index(b) == i
        assert probe.hist_index(b + 1) == i + 1
        assert probe.hist_index(b - 1) == i
    assert probe.hist_index(0) == 0
    assert probe.hist_index(1) == 0
    assert probe.hist_index(2**64 - 1) == INF_BUCKET
    # Against the definition: the first bucket whose upper bound is >= the value.
    values = [v for b in bounds for v in (b - 1, b, b + 1)] + [7**k for k in range(23)]
    for v in values:
        assert probe.hist_index(v) == bisect.bisect_left(bounds, v), v


def test_observations_land_in_the_right_buckets(probe):
    seg = shm.Segment.create(1)
    for b in shm.BUCKET_UPPER_NS:
        probe.observe(seg, 0, "ttft", b)
    probe.observe(seg, 0, "ttft", shm.BUCKET_UPPER_NS[-1] + 1)
    probe.observe(seg, 0, "itl", 5_000_000)
    probe.observe(seg, 0, "e2e", 3 * 10**9)
    snap = seg.snapshot()
    assert snap["ttft"]["buckets"] == [1] * (INF_BUCKET + 1)
    assert snap["ttft"]["sum_ns"] == sum(shm.BUCKET_UPPER_NS) + shm.BUCKET_UPPER_NS[-1] + 1
    assert snap["itl"]["count"] == 1
    assert snap["itl"]["buckets"][bisect.bisect_left(shm.BUCKET_UPPER_NS, 5_000_000)] == 1
    assert snap["e2e"]["sum_ns"] == 3 * 10**9
    assert snap["request_duration"]["count"] == 0


# ---- retiring replaced workers -----------------------------------------------------------

def test_reset_worker_keeps_counts_and_drops_gauges(probe):
    seg = shm.Segment.create(2)
    seg.set_worker(0, 4242, shm.SERVING)
    probe.count_requests(seg, 0, 10, 1, 200, 2000)
    probe.traffic(seg, 0, 4)
    probe.observe(seg, 0, "ttft", 50_000)
    probe.count_requests(seg, 1, 3, 1, 200, 2000)
    before = seg.snapshot()

    seg.reset_worker(0)
    after = seg.snapshot()
    assert seg.worker_state(0) == shm.EMPTY and seg.worker_pid(0) == 0
    assert seg.heartbeat_age(0) == math.inf
    for key in ("requests", "bytes_in", "bytes_out", "parse_errors", "tokens_out",
                "request_duration", "ttft", "itl", "e2e"):
        assert after[key] == before[key], key
    assert before["open_connections"] == 4 and after["open_connections"] == 0
    assert before["open_streams"] == 4 and after["open_streams"] == 0

    # The block's next worker starts from zero and adds on top of the retired totals.
    probe.count_requests(seg, 0, 5, 1, 200, 2000)
    probe.traffic(seg, 0, 1)
    later = seg.snapshot()
    assert later["requests"] == {(1, "2xx"): 18}
    assert later["bytes_in"] == 500
    assert later["open_connections"] == 1
    seg.reset_worker(0)
    assert seg.snapshot()["requests"] == {(1, "2xx"): 18}


def test_resizing_keeps_every_count(probe):
    seg = shm.Segment.create(3)
    for i in range(3):
        probe.count_requests(seg, i, i + 1, 0, 200, 0)
    seg.resize(1)
    assert seg.nworkers == 1
    assert seg.snapshot()["requests"] == {(0, "2xx"): 6}
    with pytest.raises(IndexError):
        probe.count_requests(seg, 2, 1, 0, 200, 0)
    seg.resize(3)
    assert seg.worker_state(2) == shm.EMPTY
    probe.count_requests(seg, 2, 1, 0, 200, 0)
    assert seg.snapshot()["requests"] == {(0, "2xx"): 7}
    with pytest.raises(ValueError):
        seg.resize(0)


def _watch_totals(seg, stop_fd, max_reads):
    """Read totals until stop_fd is readable; fail if they ever go backwards."""
    last = 0
    for _ in range(max_reads):
        total = sum(seg.snapshot()["requests"].values())
        assert total >= last, (total, last)
        last = total
        if select.select([stop_fd], [], [], 0)[0]:
            return


def test_totals_never_go_backwards_while_workers_are_retired(probe):
    seg = shm.Segment.create(2)
    stop_r, stop_w = os.pipe()
    reader = fork_call(_watch_totals, seg, stop_r, 200_000)
    try:
        for _ in range(2000):
            probe.count_requests(seg, 0, 3, 0, 200, 0)
            seg.reset_worker(0)
    finally:
        os.write(stop_w, b"x")
        wait_ok(reader)
        os.close(stop_r)
        os.close(stop_w)
    assert seg.snapshot()["requests"] == {(0, "2xx"): 6000}


# ---- runtime switches --------------------------------------------------------------------

def test_runtime_switches_reach_every_process(probe):
    seg = shm.Segment.create(2)
    assert probe.switches(seg) == (0, 0, 1000, 0)
    assert seg.latency_multiplier == 1.0

    def admin():
        seg.chaos_enabled = True
        seg.chaos_rate_ppm = 25_000
        seg.latency_multiplier = 2.5
        seg.config_generation = 7

    wait_ok(fork_call(admin))
    assert probe.switches(seg) == (1, 25_000, 2500, 7)
    assert (seg.chaos_enabled, seg.chaos_rate_ppm, seg.latency_multiplier,
            seg.config_generation) == (True, 25_000, 2.5, 7)
    with pytest.raises(ValueError):
        seg.chaos_rate_ppm = 1_000_001
    with pytest.raises(ValueError):
        seg.latency_multiplier = -1.0


# ---- Prometheus text ---------------------------------------------------------------------

SAMPLE = re.compile(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)')


def parse_prometheus(text):
    """Parse exposition format 0.0.4: {family: type} and [(name, labels, value)] in order."""
    types, samples = {}, []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name not in types, f"duplicate TYPE for {name}"
            types[name] = kind
            continue
        if line.startswith("# HELP ") or not line:
            continue
        m = SAMPLE.fullmatch(line)
        assert m, f"not a sample line: {line!r}"
        name, raw, value = m.groups()
        labels, pos = {}, 0
        while raw and pos < len(raw):
            lm = LABEL.match(raw, pos)
            assert lm, f"bad labels in {line!r}"
            labels[lm.group(1)] = re.sub(r'\\(.)', lambda e: {"n": "\n"}.get(e[1], e[1]),
                                         lm.group(2))
            pos = lm.end()
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
        assert family in types, f"sample {name} before its TYPE line"
        samples.append((name, labels, float(value)))
    return types, samples


def test_prometheus_text_parses_and_histograms_are_cumulative(probe):
    seg = shm.Segment.create(4)
    seg.expected_workers = 2
    seg.set_worker(0, 10, shm.SERVING)
    seg.set_worker(1, 11, shm.BOOTING)
    seg.config_generation = 3
    probe.count_requests(seg, 0, 4, 0, 200, 3_000_000)
    probe.count_requests(seg, 1, 2, 1, 429, 1_000)
    probe.count_requests(seg, 1, 1, 2, 200, 1_000)
    probe.traffic(seg, 1, 3)
    for ns in (900, 2_000_000, 2_000_000, 7 * 10**9):
        probe.observe(seg, 0, "ttft", ns)
    routes = ["openai.chat_completions", "anthropic.messages", 'odd"na\\me']

    types, samples = parse_prometheus(metrics.prometheus_text(seg, routes).decode())

    def value(name, **labels):
        found = [v for n, ls, v in samples if n == name and ls == labels]
        assert len(found) == 1, (name, labels, found)
        return found[0]

    assert value("llmsim_requests_total", provider="openai", route="openai.chat_completions",
                 code="2xx") == 4
    assert value("llmsim_requests_total", provider="anthropic", route="anthropic.messages",
                 code="4xx") == 2
    assert value("llmsim_requests_total", provider="", route='odd"na\\me', code="2xx") == 1
    assert len([s for s in samples if s[0] == "llmsim_requests_total"]) == 3
    assert value("llmsim_bytes_received_total") == 300
    assert value("llmsim_bytes_sent_total") == 3000
    assert value("llmsim_parse_errors_total") == 3
    assert value("llmsim_tokens_generated_total") == 21
    assert value("llmsim_open_connections") == 3
    assert value("llmsim_open_streams") == 3
    assert value("llmsim_queued_requests") == 0
    assert value("llmsim_workers") == 2
    assert value("llmsim_worker_up", worker="0", pid="10") == 1
    assert value("llmsim_worker_up", worker="1", pid="11") == 0
    assert len([s for s in samples if s[0] == "llmsim_worker_up"]) == 2   # empty blocks: none
    assert value("llmsim_config_generation") == 3
    assert types["llmsim_requests_total"] == "counter"
    assert types["llmsim_open_streams"] == "gauge"

    for family in ("llmsim_request_duration_seconds", "llmsim_ttft_seconds",
                   "llmsim_itl_seconds", "llmsim_stream_duration_seconds"):
        assert types[family] == "histogram"
        buckets = [(ls["le"], v) for n, ls, v in samples if n == family + "_bucket"]
        assert len(buckets) == INF_BUCKET + 1
        assert buckets[-1][0] == "+Inf"
        bounds = [float(le) for le, _ in buckets]
        assert bounds == sorted(bounds) and len(set(bounds)) == len(bounds)
        counts = [v for _, v in buckets]
        assert counts == sorted(counts), f"{family} buckets are not cumulative"
        assert counts[-1] == value(family + "_count")

    ttft = {float(ls["le"]): v for n, ls, v in samples if n == "llmsim_ttft_seconds_bucket"}
    two_ms = bisect.bisect_left(shm.BUCKET_UPPER_NS, 2_000_000)   # (1.835 ms, 2.097 ms]
    assert ttft[1.024e-06] == 1
    assert ttft[shm.BUCKET_UPPER_NS[two_ms] / 1e9] == 3
    assert ttft[shm.BUCKET_UPPER_NS[two_ms - 1] / 1e9] == 1
    assert ttft[math.inf] == 4
    assert value("llmsim_ttft_seconds_sum") == pytest.approx((900 + 4_000_000 + 7e9) / 1e9)
    assert value("llmsim_request_duration_seconds_count") == 7
    assert metrics.CONTENT_TYPE.startswith("text/plain; version=0.0.4")


# ---- C headers ---------------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
@pytest.mark.parametrize("header", sorted(p.name for p in CSRC.glob("*.h")))
def test_c_header_compiles_alone(header):
    done = subprocess.run(
        ["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", str(CSRC / header)],
        capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
