"""Medians, spreads and llmsim/nginx ratios, as markdown for the terminal and RESULTS.md."""
import os
import statistics

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")

# metric key, label, number format, target on the llmsim/nginx ratio of medians
WRK_METRICS = (
    ("rps", "requests/s", "{:,.0f}", ("≥", 1.0)),
    ("p50_us", "p50 latency µs", "{:,.0f}", None),
    ("p99_us", "p99 latency µs", "{:,.0f}", None),
    ("cpu_us", "server CPU µs/request", "{:,.1f}", ("≤", 1.0)),
    ("client_cpu", "wrk CPU, % of one core", "{:,.0f}", None),
    ("answer_bytes", "bytes per answer (head + body)", "{:,.0f}", None),
)


def spread(values, fmt):
    """'median (min–max)' of values, or just the value when there is one."""
    med = statistics.median(values)
    if len(values) == 1:
        return fmt.format(med)
    return f"{fmt.format(med)} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def ratio(a, b):
    return statistics.median(a) / statistics.median(b) if statistics.median(b) else float("inf")


def ratio_cell(a, b):
    """Ratio of medians, and the range of the ratios of runs paired in order (the runs were
    interleaved, so run i of each saw about the same machine)."""
    text = f"{ratio(a, b):.2f}×"
    pairs = [x / y for x, y in zip(a, b) if y]
    if len(pairs) > 1:
        text += f" ({min(pairs):.2f}–{max(pairs):.2f})"
    return text


def verdict(r, target):
    if target is None:
        return ""
    op, bound = target
    ok = r >= bound if op == "≥" else r <= bound
    return f"{op} {bound:.2f}×: {'met' if ok else 'MISSED'}"


def _row(cells):
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _errors(runs):
    total = {}
    for run in runs:
        for k, v in run["errors"].items():
            total[k] = total.get(k, 0) + v
    return ", ".join(f"{v} {k}" for k, v in sorted(total.items())) or "none"


def wrk_table(results):
    """results: {(scenario, connections): {"llmsim": [run, ...], "nginx": [run, ...]}}.

    Returns (markdown lines, failure lines)."""
    lines = [
        _row(("scenario", "c", "metric", "llmsim median (min–max)", "nginx median (min–max)",
              "llmsim/nginx", "target")),
        _row(("---", "---:", "---", "---:", "---:", "---:", "---")),
    ]
    failures = []
    for (name, conns), by_server in results.items():
        mine, base = by_server["llmsim"], by_server["nginx"]
        for key, label, fmt, target in WRK_METRICS:
            a, b = [r[key] for r in mine], [r[key] for r in base]
            lines.append(_row((name, conns, label, spread(a, fmt), spread(b, fmt),
                               ratio_cell(a, b), verdict(ratio(a, b), target))))
        err_a, err_b = _errors(mine), _errors(base)
        if err_a != "none" or err_b != "none":
            lines.append(_row((name, conns, "**FAILED: errors**", err_a, err_b, "", "")))
            failures.append(f"{name} c={conns}: errors with no fault configured: "
                            f"llmsim {err_a}; nginx {err_b}")
    return lines, failures


# wrk metrics compared between APIs: the same answer in another API's shape, both llmsim
AGAINST_METRICS = (WRK_METRICS[0], WRK_METRICS[3])


def against_table(results, against):
    """llmsim on each scenario of `against` ({scenario: OpenAI scenario}) against llmsim on
    its OpenAI scenario, from the same run (results as for wrk_table)."""
    lines = [
        _row(("scenario", "c", "metric", "llmsim median (min–max)", "OpenAI scenario",
              "its median (min–max)", "ratio")),
        _row(("---", "---:", "---", "---:", "---", "---:", "---:")),
    ]
    for (name, conns), by_server in results.items():
        base = results.get((against.get(name), conns))
        if base is None:
            continue
        for key, label, fmt, _ in AGAINST_METRICS:
            a = [r[key] for r in by_server["llmsim"]]
            b = [r[key] for r in base["llmsim"]]
            lines.append(_row((name, conns, label, spread(a, fmt), against[name],
                               spread(b, fmt), f"{ratio(a, b):.2f}×")))
    return lines


COLDSTART_PHASES = (
    ("master", "llmsim master: CPU time at the first 200"),
    ("master_wait", "llmsim master: waiting for a CPU at the first 200"),
    ("worker", "llmsim worker (busiest): CPU time at the first 200"),
    ("worker_wait", "llmsim worker (busiest): waiting for a CPU at the first 200"),
)


def coldstart_table(times, floors, phases, workers):
    """times: {"llmsim": [ms, ...], "nginx": [ms, ...]}; floors: {command: [ms, ...]}, the
    interpreter's own start-up measured in the same run (launch to exit); phases: {key of
    COLDSTART_PHASES: [ms, ...]}, llmsim's processes read at its first 200."""
    r = ratio(times["llmsim"], times["nginx"])
    med = statistics.median(times["llmsim"])
    lines = [
        _row(("server", "workers", "launch → first 200 on GET /health, ms", "llmsim/nginx",
              "target")),
        _row(("---", "---:", "---", "---:", "---")),
        _row(("llmsim", workers, spread(times["llmsim"], "{:.1f}"), f"{r:.2f}×",
              f"< 150 ms: {'met' if med < 150 else 'MISSED'}")),
        _row(("nginx", workers, spread(times["nginx"], "{:.1f}"), "", "")),
    ]
    for name, ms in floors.items():
        lines.append(_row((f"floor: `{name}` (launch → exit)", "", spread(ms, "{:.1f}"),
                           f"{ratio(ms, times['nginx']):.2f}×", "")))
    for key, label in COLDSTART_PHASES:
        lines.append(_row((label, "", spread(phases[key], "{:.1f}"), "", "")))
    return lines


def callgrind_table(per_request):
    """per_request: {scenario: {"llmsim": instructions, "nginx": instructions}}."""
    lines = [
        _row(("scenario", "llmsim instructions/request", "nginx instructions/request",
              "llmsim/nginx")),
        _row(("---", "---:", "---:", "---:")),
    ]
    for name, v in per_request.items():
        lines.append(_row((name, f"{v['llmsim']:,.0f}", f"{v['nginx']:,.0f}",
                           f"{v['llmsim'] / v['nginx']:.2f}×")))
    return lines


def streamcost_table(m):
    """m: callgrind.per_delta's measures of llmsim."""
    return [
        _row(("measure", "llmsim")),
        _row(("---", "---:")),
        _row(("instructions per timed stream delta", f"{m['delta']:,.0f}")),
        _row(("instructions per stream send within a wake", f"{m['send']:,.0f}")),
        _row(("timer wakes per delta", f"{m['wakes']:.2f}")),
        _row(("deltas read alone", f"{m['alone']:.0%}")),
    ]


# streaming fidelity: metric key, label, number format, target (op, bound) or None;
# "|≤|" bounds the size of a signed error
STREAM_METRICS = (
    ("ttft_p50", "TTFT error p50, ms", "{:.2f}", ("|≤|", 1.0)),
    ("ttft_p99", "TTFT error p99, ms", "{:.2f}", ("≤", 2.0)),
    ("itl_p50", "ITL error p50, ms", "{:.2f}", ("|≤|", 1.0)),
    ("itl_p1", "ITL error p1, ms (bunched deltas)", "{:.2f}", ("≥", -2.0)),
    ("itl_p99", "ITL error p99, ms", "{:.2f}", ("≤", 2.0)),
    ("send_late_p99", "request send lateness p99, ms", "{:.2f}", None),
    ("cpu_us", "server CPU µs/content delta", "{:.1f}", None),
    ("server_cpu", "server CPU, share of one CPU", "{:.0%}", None),
    ("server_kernel", "server CPU spent in the kernel", "{:.0%}", None),
    ("client_cpu_us", "client CPU µs/content delta (all processes)", "{:.1f}", None),
    ("client_cpu_max", "busiest client process CPU", "{:.0%}", ("≤", 0.8)),
    ("streams_ok", "streams completed in full (whole run)", "{:,.0f}", None),
)
TIMING_KEYS = ("ttft_p50", "ttft_p99", "itl_p50", "itl_p1", "itl_p99")


def _check(value, target):
    op, bound = target
    ok = {"≤": value <= bound, "≥": value >= bound, "|≤|": abs(value) <= bound}[op]
    return "met" if ok else "MISSED"


def _goal(target, fmt):
    if not target:
        return ""
    op, bound = target
    return f"\\|error\\| ≤ {fmt.format(bound)}" if op == "|≤|" else f"{op} {fmt.format(bound)}"


def _timing_result(runs, median, target):
    """met/MISSED, or why the run's timings do not describe the server alone."""
    client = sum(r["client_bound"] for r in runs)
    if client:
        return f"client-bound ({client} of {len(runs)} runs)"
    verdict = _check(median, target)
    busy = max(r["machine_cpu"] for r in runs)
    if verdict == "MISSED" and busy >= 0.9 * runs[0]["cpus"]:
        verdict += f" (machine saturated: server + clients used {busy:.1f} of " \
                   f"{runs[0]['cpus']} CPUs)"
    return verdict


def streams_table(results):
    """results: {k: [run metrics from fidelity.metrics, ...]}. Returns (lines, failures)."""
    lines = [
        _row(("K streams", "server workers", "client processes", "metric",
              "median (min–max)", "target", "result")),
        _row(("---:", "---:", "---:", "---", "---:", "---", "---")),
    ]
    failures = []
    for k, runs in results.items():
        head = (f"{k:,}", runs[0]["workers"], runs[0]["procs"])
        rates = [r["events_per_s"] for r in runs]
        expected = runs[0]["expected_per_s"]
        lines.append(_row((*head, "content deltas/s", spread(rates, "{:,.0f}"),
                           f"{expected:,.0f} exact timing (K/ITL = "
                           f"{runs[0]['configured_per_s']:,.0f} if there were no TTFT)",
                           f"{statistics.median(rates) / expected:.3f}× of exact")))
        for key, label, fmt, target in STREAM_METRICS:
            values = [r[key] for r in runs]
            median = statistics.median(values)
            result = ""
            if key in TIMING_KEYS:
                result = _timing_result(runs, median, target)
            elif key == "cpu_us":
                result = f"{median * expected / 1e6:.1f} CPUs at the exact rate"
            elif target:
                result = _check(median, target)
            lines.append(_row((*head, label, spread(values, fmt), _goal(target, fmt),
                               result)))
        errors = _errors(runs)
        if errors != "none":
            lines.append(_row((*head, "**FAILED: errors**", errors, "", "")))
            failures.append(f"streams K={k}: {errors}")
    return lines, failures


def conns_table(results, wanted, reason):
    """results: {server: {"workers", "conns", "rss0", "rss1", "fds0", "fds1"}} (bytes);
    wanted: the count the issue asks for; reason: why fewer were opened."""
    lines = [
        _row(("server", "workers", "idle connections held", "server RSS before, MB",
              "server RSS after, MB", "RSS per connection, bytes", "llmsim/nginx", "target")),
        _row(("---", "---:", "---:", "---:", "---:", "---:", "---:", "---")),
    ]
    per = {name: (r["rss1"] - r["rss0"]) / r["conns"] if r["conns"] else float("nan")
           for name, r in results.items()}
    for name, r in results.items():
        ratio_text = target = ""
        if name == "llmsim":
            if "nginx" in per:
                ratio_text = f"{per['llmsim'] / per['nginx']:.2f}×"
            target = f"< 2,048: {'met' if per['llmsim'] < 2048 else 'MISSED'}"
        lines.append(_row((name, r["workers"], f"{r['conns']:,} (+{r['fds1'] - r['fds0']:,} "
                           f"server fds)", f"{r['rss0'] / 1e6:.1f}", f"{r['rss1'] / 1e6:.1f}",
                           f"{per[name]:,.0f}", ratio_text, target)))
    held = min(r["conns"] for r in results.values())
    if held < wanted:
        lines.append("")
        lines.append(f"Not {wanted:,} connections: {reason}")
    return lines


def append(section):
    """Append a section to RESULTS.md (which starts with a header explaining the format)."""
    with open(RESULTS, "a") as f:
        f.write("\n" + section.rstrip("\n") + "\n")
