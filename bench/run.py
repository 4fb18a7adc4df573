"""One-command benchmark of llmsim against nginx, both measured in the same run.

    python bench/run.py [--quick] [--only NAME]... [--llmsim-args ARGS] [--no-record]

Run it with the Python that has llmsim installed: the server is started as
`python -I -m llmsim serve`. Parts: wrk throughput and latency per scenario, cold start,
callgrind instructions per request, streaming fidelity under K concurrent streams, server
memory per idle connection. Prints llmsim/nginx ratios and appends a dated section
to bench/RESULTS.md. See bench/README.md.
"""
import argparse
import datetime
import functools
import logging
import os
import shlex
import subprocess
import sys
import time

import callgrind
import conns
import fidelity
import http1
import machine
import nginx
import procs
import report
import wrk
from scenarios import HEALTH_PATH, SCENARIOS

log = logging.getLogger("bench")
BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
PARTS = ("wrk", "coldstart", "callgrind", "streamcost", "streams", "conns")
COLDSTART_RUNS = 5
# what the same interpreter costs before llmsim runs a line: the floor under its cold start
COLDSTART_FLOORS = {"python -I -c pass": "pass", "python -I -c 'import uvloop'": "import uvloop"}
READY_DEADLINE_S = 30.0
HEALTH = http1.request_bytes("GET", HEALTH_PATH)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="2 s wrk runs instead of 5 s")
    p.add_argument("--only", action="append", default=[], metavar="NAME",
                   choices=PARTS + tuple(s.name for s in SCENARIOS),
                   help="run only this part (%s) or scenario (%s); repeatable" % (
                       ", ".join(PARTS), ", ".join(s.name for s in SCENARIOS)))
    p.add_argument("--repeats", type=int, default=3,
                   help="runs per server and setting (wrk, streams)")
    p.add_argument("--duration", type=int,
                   help="seconds per wrk run and per streams window (default 5, quick 2)")
    p.add_argument("--connections", default="64,256", help="wrk -c values, comma-separated")
    p.add_argument("--stream-counts", metavar="K,...",
                   help="concurrent streams for the streams part (default %s; --quick: up "
                   "to %s)" % (",".join(map(str, fidelity.STREAM_COUNTS)),
                               fidelity.QUICK_MAX_STREAMS))
    p.add_argument("--conn-count", type=int, default=conns.DEFAULT_COUNT,
                   help="idle connections for the conns part (default %(default)s)")
    p.add_argument("--llmsim-args", default="--no-latency",
                   help="extra `llmsim serve` arguments (default --no-latency: nginx has none; "
                   "not used by the streams part)")
    p.add_argument("--llmsim-python", default=sys.executable,
                   help="Python with llmsim installed (default: this one)")
    p.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    args = p.parse_args(argv)
    args.duration = args.duration or (2 if args.quick else 5)
    args.connections = [int(c) for c in args.connections.split(",")]
    named_parts = [n for n in args.only if n in PARTS]
    named_scenarios = [n for n in args.only if n not in PARTS]
    # a scenario named alone means its wrk runs; with a part named, it narrows that part
    args.parts = set(named_parts or (["wrk"] if named_scenarios else PARTS))
    # a scenario compared with an OpenAI one brings that one along
    named_scenarios += [s.against for s in SCENARIOS if s.name in named_scenarios and s.against]
    args.scenarios = [s for s in SCENARIOS if not named_scenarios or s.name in named_scenarios]
    return args


class Bench:
    def __init__(self, args):
        self.args = args
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.out = os.path.join(BENCH_DIR, "out", stamp)
        os.makedirs(self.out)
        self.notes, self.failures = [], []
        self.busy_runs, self.max_busy = 0, 0.0
        self.answers = {}  # scenario name -> (head bytes, body bytes, content type)

    # servers ----------------------------------------------------------------------------
    def start_llmsim(self, workers=1, wrapper=(), log_dir=None, serve_args=None):
        """llmsim with --workers (0: its default) and serve_args (None: --llmsim-args)."""
        port = procs.free_port()
        argv = [*wrapper, self.args.llmsim_python, "-I", "-m", "llmsim", "serve",
                "--host", "127.0.0.1", "--port", str(port)]
        if workers:
            argv += ["--workers", str(workers), "--cpu-affinity", "off"]
        argv += shlex.split(self.args.llmsim_args) if serve_args is None else list(serve_args)
        return procs.Server("llmsim", argv, port,
                            os.path.join(log_dir or self.out, f"llmsim-{port}.log"))

    def start_nginx(self, scenario, workers=1, wrapper=(), prefix=None):
        """nginx answering scenario's path with llmsim's answer (or {} before it is known)."""
        port = procs.free_port()
        prefix = prefix or os.path.join(self.out, f"nginx-{port}")
        _, body, ctype = self.answers.get(scenario.name, (b"", b"{}", "application/json"))
        return nginx.start(prefix, port, workers, scenario.path, ctype, body, wrapper)

    def ready(self, server):
        try:
            http1.wait_ok(server.port, HEALTH, time.monotonic() + READY_DEADLINE_S, server.alive)
        except (RuntimeError, TimeoutError) as e:
            server.stop()
            raise SystemExit(
                f"bench: {server.name} did not start: {e}\n{server.log_tail()}") from e
        return server

    def wait_idle(self):
        busy, idle = machine.wait_idle()
        if not idle:
            self.busy_runs += 1
            self.max_busy = max(self.max_busy, busy)

    # answers ----------------------------------------------------------------------------
    def learn_answers(self, server):
        """What llmsim answers each scenario with: the baseline serves the same body."""
        for s in self.args.scenarios:
            status, head, body, headers = http1.fetch(server.port, s.request())
            if status != 200:
                raise SystemExit(f"bench: llmsim answered {s.name} with {status}: {body[:300]!r}")
            self.answers[s.name] = (head, body, headers.get("content-type", "application/json"))

    def check_baseline(self, server, scenario):
        status, head, body, _ = http1.fetch(server.port, scenario.request())
        mine = self.answers[scenario.name]
        if status != 200 or body != mine[1]:
            raise SystemExit(f"bench: nginx answered {scenario.name} with {status}, "
                             f"{len(body)} bytes instead of llmsim's {len(mine[1])}")
        self.notes.append(f"response bytes, {scenario.name}: llmsim head {len(mine[0])} + body "
                          f"{len(mine[1])}; nginx head {len(head)} + body {len(body)}")

    # parts ------------------------------------------------------------------------------
    def wrk_part(self, server):
        results = {}
        for s in self.args.scenarios:
            base = self.ready(self.start_nginx(s))
            try:
                self.check_baseline(base, s)
                self.wrk_scenario(s, {"llmsim": server, "nginx": base}, results)
            finally:
                base.stop()
        return results

    def wrk_scenario(self, scenario, servers, results):
        a = self.args
        for name, srv in servers.items():  # warm-up, not counted
            wrk.run(srv.port, scenario, a.connections[0], 1,
                    os.path.join(self.out, f"wrk-warmup-{scenario.name}-{name}.txt"))
        for rep in range(a.repeats):
            for i, conns in enumerate(a.connections):
                order = list(servers.items())
                if (rep + i) % 2:
                    order.reverse()
                for name, srv in order:
                    self.wait_idle()
                    pids = srv.pids()
                    cpu0 = procs.cpu_seconds(pids)
                    r = wrk.run(srv.port, scenario, conns, a.duration, os.path.join(
                        self.out, f"wrk-{scenario.name}-c{conns}-{name}-{rep}.txt"))
                    cpu = procs.cpu_seconds(pids) - cpu0
                    r["cpu_us"] = cpu * 1e6 / max(r["requests"], 1)
                    if not srv.alive():
                        raise SystemExit(f"bench: {name} died under load\n{srv.log_tail()}")
                    log.info("%s c=%d %s: %.0f req/s, p50 %d µs, p99 %d µs, %.1f CPU µs/req%s",
                             scenario.name, conns, name, r["rps"], r["p50_us"], r["p99_us"],
                             r["cpu_us"], f", errors {r['errors']}" if r["errors"] else "")
                    results.setdefault((scenario.name, conns), {}).setdefault(
                        name, []).append(r)

    def coldstart_part(self):
        workers = len(os.sched_getaffinity(0))
        scenario = self.args.scenarios[0]
        times = {"llmsim": [], "nginx": []}
        floors = {name: [] for name in COLDSTART_FLOORS}
        # llmsim's processes at its first 200: master and busiest worker, CPU and CPU wait
        phases = {key: [] for key in ("master", "master_wait", "worker", "worker_wait")}
        for i in range(COLDSTART_RUNS):
            for name, code in COLDSTART_FLOORS.items():
                self.wait_idle()
                t0 = time.monotonic()
                subprocess.run([self.args.llmsim_python, "-I", "-c", code], check=True)
                floors[name].append((time.monotonic() - t0) * 1e3)
            for name in ("llmsim", "nginx") if i % 2 == 0 else ("nginx", "llmsim"):
                self.wait_idle()
                srv = self.start_llmsim(workers=0) if name == "llmsim" else \
                    self.start_nginx(scenario, workers=workers)
                try:
                    t = http1.wait_ok(srv.port, HEALTH, srv.started + READY_DEADLINE_S,
                                      srv.alive)
                    if name == "llmsim":
                        self.coldstart_phases(srv, phases)
                except (RuntimeError, TimeoutError) as e:
                    raise SystemExit(
                        f"bench: {name} cold start failed: {e}\n{srv.log_tail()}") from e
                finally:
                    srv.stop()
                times[name].append((t - srv.started) * 1e3)
                log.info("cold start %s: %.1f ms", name, times[name][-1])
        return times, floors, phases, workers

    @staticmethod
    def coldstart_phases(srv, phases):
        """Where llmsim's cold start went, read at its first 200: the master's CPU time
        (start-up, imports, forks) and the busiest worker's (boot after fork), each with the
        time it was runnable but waited for a CPU."""
        master, *workers = srv.pids()
        for key, (cpu, wait) in (("master", procs.sched_ms(master)),
                                 ("worker", max(map(procs.sched_ms, workers)))):
            phases[key].append(cpu)
            phases[key + "_wait"].append(wait)

    def callgrind_part(self):
        out = {}
        for s in self.args.scenarios:
            d = os.path.join(self.out, "callgrind")
            out[s.name] = {
                "llmsim": callgrind.per_request(functools.partial(self.start_llmsim, 1), s,
                                                os.path.join(d, "llmsim")),
                "nginx": callgrind.per_request(functools.partial(self.start_nginx, s, 1),
                                               s, os.path.join(d, "nginx")),
            }
            log.info("callgrind %s: %s", s.name, out[s.name])
        return out

    def streamcost_part(self):
        """Instructions per timed stream delta (latency on: the server's default profile,
        each request timed by its x-llmsim-latency header)."""
        start = functools.partial(self.start_llmsim, 1, serve_args=())
        m = callgrind.per_delta(start, os.path.join(self.out, "callgrind"))
        log.info("callgrind per stream delta: %.0f instructions (%.0f per send within a "
                 "wake, %.2f wakes per delta), %.0f%% of deltas read alone", m["delta"],
                 m["send"], m["wakes"], m["alone"] * 100)
        return m

    # whole run --------------------------------------------------------------------------
    def run(self):
        a = self.args
        tools = {"wrk", "nginx", "objdump"} | (
            {"valgrind"} if a.parts & {"callgrind", "streamcost"} else set())
        machine.ensure_tools(tools)
        if a.parts & {"callgrind", "streamcost"} and \
                machine.sse42_status(a.llmsim_python).startswith("yes"):
            sys.exit("bench: valgrind stops on the SSE4.2 (pcmpestri) build of pycohttpparser "
                     f"that {a.llmsim_python} has: run the callgrind parts with a Python whose "
                     "pycohttpparser is the plain build (--llmsim-python), or reinstall it "
                     "without -msse4.2")
        tables = []
        if a.parts & {"wrk", "callgrind"}:
            server = self.ready(self.start_llmsim())
            try:
                self.learn_answers(server)
                if "wrk" in a.parts:
                    results = self.wrk_part(server)
                    lines, failures = report.wrk_table(results)
                    tables.append(("Throughput and latency (wrk)", lines))
                    self.failures += failures
                    against = {s.name: s.against for s in a.scenarios if s.against}
                    if against:
                        tables.append(("Anthropic and Gemini against OpenAI (llmsim, wrk)",
                                       report.against_table(results, against)))
            finally:
                server.stop()
        if "coldstart" in a.parts:
            times, floors, phases, workers = self.coldstart_part()
            tables.append(("Cold start", report.coldstart_table(times, floors, phases,
                                                                workers)))
        if "callgrind" in a.parts:
            tables.append(("Instructions per request (callgrind)",
                           report.callgrind_table(self.callgrind_part())))
        if "streamcost" in a.parts:
            tables.append(("Instructions per timed stream delta (callgrind)",
                           report.streamcost_table(self.streamcost_part())))
        if "streams" in a.parts:
            lines, failures = report.streams_table(fidelity.part(self))
            tables.append(("Streaming fidelity", lines))
            self.failures += failures
        if "conns" in a.parts:
            tables.append(("Idle keep-alive connections: server RSS", report.conns_table(
                conns.part(self), conns.ISSUE_COUNT, conns.reason(a.conn_count))))
        if self.busy_runs:
            self.notes.append(f"machine busy (> 20% CPU after 10 s of waiting) before "
                              f"{self.busy_runs} runs, up to {self.max_busy:.0%}")
        return self.section(tables)

    def section(self, tables):
        a = self.args
        py = a.llmsim_python
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        cmd = "python bench/run.py " + " ".join(shlex.quote(x) for x in sys.argv[1:])
        lines = [
            f"## {now}",
            "",
            f"- command: `{cmd.strip()}`",
            f"- commit: {machine.git_commit(BENCH_DIR)}",
            f"- llmsim: `python -I -m llmsim serve --workers 1 --cpu-affinity off"
            f"{' ' + a.llmsim_args if a.llmsim_args else ''}` (cold start: default workers "
            f"and affinity); build flags `{machine.build_cflags(py)}`; pycohttpparser "
            f"SSE4.2: {machine.sse42_status(py)}",
        ]
        if a.parts & {"wrk", "coldstart", "callgrind"}:
            lines.append(
                f"- baseline: nginx {nginx.version()}, same worker count, `return 200 '<llmsim's "
                f"body>'` (from memory, no file I/O), access_log off, keepalive_requests 1000000")
        if "wrk" in a.parts:
            lines.append(
                f"- load: {wrk.version()}, closed loop, -t1, keep-alive, no pipelining, the same "
                f"request.lua for both; {a.duration} s × {a.repeats} runs per server and -c, "
                f"interleaved, after a 1 s warm-up; each run waits for < 20% machine CPU "
                f"(up to 10 s)")
        if "streams" in a.parts:
            lines.append(f"- streams: {fidelity.describe(a)}")
        if "conns" in a.parts:
            lines.append(f"- conns: {conns.describe(a)}")
        if "callgrind" in a.parts:
            lines.append(
                f"- callgrind: user-space instructions of all server processes, "
                f"(launch with {callgrind.N2} requests − launch with {callgrind.N1}) / "
                f"{callgrind.N2 - callgrind.N1}, one keep-alive connection; kernel work "
                f"is not counted")
        if "streamcost" in a.parts:
            lines.append(f"- streamcost: {callgrind.describe_streams()}")
        lines += [
            f"- machine: {machine.describe(py)}",
            *[f"- {n}" for n in self.notes],
            *[f"- **FAILURE**: {f}" for f in self.failures],
        ]
        for title, table in tables:
            lines += ["", f"### {title}", "", *table]
        return "\n".join(lines) + "\n"


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="bench: %(message)s")
    args = parse_args(sys.argv[1:] if argv is None else argv)
    bench = Bench(args)
    section = bench.run()
    sys.stdout.write("\n" + section)
    if not args.no_record:
        report.append(section)
        log.info("appended to %s", report.RESULTS)
    log.info("raw outputs in %s", bench.out)
    return 1 if bench.failures else 0


if __name__ == "__main__":
    sys.exit(main())
