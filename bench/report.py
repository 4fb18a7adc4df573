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


def coldstart_table(times, workers):
    """times: {"llmsim": [ms, ...], "nginx": [ms, ...]}."""
    r = ratio(times["llmsim"], times["nginx"])
    med = statistics.median(times["llmsim"])
    return [
        _row(("server", "workers", "launch → first 200 on GET /health, ms", "llmsim/nginx",
              "target")),
        _row(("---", "---:", "---", "---:", "---")),
        _row(("llmsim", workers, spread(times["llmsim"], "{:.1f}"), f"{r:.2f}×",
              f"< 150 ms: {'met' if med < 150 else 'MISSED'}")),
        _row(("nginx", workers, spread(times["nginx"], "{:.1f}"), "", "")),
    ]


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


def append(section):
    """Append a section to RESULTS.md (which starts with a header explaining the format)."""
    with open(RESULTS, "a") as f:
        f.write("\n" + section.rstrip("\n") + "\n")
