"""Process and host tuning at start-up, reported line by line.

llmsim raises its own RLIMIT_NOFILE, sets the CPU governor to `performance` only when asked,
and reads (never writes) the kernel's network settings to warn when they are below what the
configuration needs. System files are never edited: sysctl/ holds the files an operator
applies. Each check returns `Line`s: applied, skipped (with the reason), ok, or warning.
"""

import logging
import os
import resource
from typing import NamedTuple

log = logging.getLogger("llmsim.tuning")

APPLIED = "applied"
WOULD_APPLY = "would apply"      # dry run (llmsim doctor)
SKIPPED = "skipped"
OK = "ok"
WARNING = "warning"

# Ephemeral ports wanted on a host that also runs the load generator: at ~830 new
# connections/s, TIME_WAIT (60 s) holds about 50,000 source ports towards one address.
EPHEMERAL_PORTS_WANTED = 50000


class Line(NamedTuple):
    kind: str
    text: str

    def __str__(self):
        return f"{self.kind}: {self.text}"


def _read(path):
    with open(path) as f:
        return f.read().strip()


def nofile(limit, dry_run=False, proc_root="/proc"):
    """Raise the soft RLIMIT_NOFILE to `limit` (0: to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    inf = resource.RLIM_INFINITY
    want = limit or hard
    if want == inf:   # NOFILE cannot be unlimited: the kernel caps it at fs.nr_open
        try:
            want = int(_read(f"{proc_root}/sys/fs/nr_open"))
        except (OSError, ValueError):
            want = 1 << 20
    if soft != inf and soft >= want:
        return [Line(SKIPPED, f"RLIMIT_NOFILE: already {soft} (wanted {want})")]
    raise_hard = hard != inf and want > hard
    change = f"RLIMIT_NOFILE {soft} -> {want}"
    if raise_hard:
        change += f" (hard {hard} -> {want})"
    if dry_run:
        if raise_hard:
            change += " if allowed (CAP_SYS_RESOURCE)"
        return [Line(WOULD_APPLY, change)]
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, want if raise_hard else hard))
        return [Line(APPLIED, change)]
    except (OSError, ValueError) as err:
        reason = str(err)
    if not raise_hard:
        return [Line(SKIPPED, f"{change}: {reason}")]
    return [Line(WARNING, f"RLIMIT_NOFILE: hard limit {hard} is below {want} and cannot be "
                          f"raised ({reason}); set LimitNOFILE= or sysctl/limits.conf")
            ] + nofile(hard, dry_run, proc_root)


def governor(enabled, cpus, dry_run=False, sys_root="/sys"):
    """Set the `performance` cpufreq governor on `cpus` when `enabled` and sysfs allows."""
    if not enabled:
        return [Line(SKIPPED, "cpu governor: not requested (--tune-governor)")]
    base = f"{sys_root}/devices/system/cpu"
    changed, already, problems = [], [], []
    for cpu in cpus:
        freq = f"{base}/cpu{cpu}/cpufreq"
        if not os.path.isdir(freq):
            problems.append(f"cpu{cpu}: {freq} not present (virtual machine?)")
            continue
        try:
            current = _read(f"{freq}/scaling_governor")
            offered = _read(f"{freq}/scaling_available_governors").split()
        except OSError as err:
            problems.append(f"cpu{cpu}: {err.strerror}: {err.filename}")
            continue
        if current == "performance":
            already.append(cpu)
        elif "performance" not in offered:
            problems.append(f"cpu{cpu}: 'performance' not offered (only {' '.join(offered)})")
        elif dry_run:
            changed.append((cpu, current))
        else:
            try:
                with open(f"{freq}/scaling_governor", "w") as f:
                    f.write("performance")
                changed.append((cpu, current))
            except OSError as err:
                problems.append(f"cpu{cpu}: cannot write scaling_governor: {err.strerror} "
                                f"(needs root)")
    lines = []
    if changed:
        which = ", ".join(f"cpu{c} ({was})" for c, was in changed)
        lines.append(Line(WOULD_APPLY if dry_run else APPLIED,
                          f"cpu governor -> performance on {which}"))
    if already:
        lines.append(Line(SKIPPED, "cpu governor: already performance on "
                                   + ", ".join(f"cpu{c}" for c in already)))
    lines.extend(Line(SKIPPED, f"cpu governor: {p}") for p in problems)
    return lines


def network(backlog, proc_root="/proc"):
    """Warn when the kernel's listen-queue cap or ephemeral port range is too small."""
    lines = []
    try:
        somaxconn = int(_read(f"{proc_root}/sys/net/core/somaxconn"))
    except (OSError, ValueError) as err:
        lines.append(Line(SKIPPED, f"net.core.somaxconn: cannot read ({err})"))
    else:
        if somaxconn < backlog:
            lines.append(Line(WARNING, f"net.core.somaxconn={somaxconn} below --backlog {backlog} "
                                       f"(the kernel caps each listen queue; "
                                       f"see sysctl/llmsim.sysctl.conf)"))
        else:
            lines.append(Line(OK, f"net.core.somaxconn={somaxconn} >= --backlog {backlog}"))
    try:
        low, high = map(int, _read(f"{proc_root}/sys/net/ipv4/ip_local_port_range").split())
    except (OSError, ValueError) as err:
        lines.append(Line(SKIPPED, f"net.ipv4.ip_local_port_range: cannot read ({err})"))
    else:
        count = high - low + 1
        text = f"net.ipv4.ip_local_port_range={low}-{high} ({count} ports)"
        if count < EPHEMERAL_PORTS_WANTED:
            lines.append(Line(WARNING, f"{text} below {EPHEMERAL_PORTS_WANTED}: a load generator "
                                       f"on this host opening fresh connections can run out "
                                       f"(see sysctl/llmsim.sysctl.conf)"))
        else:
            lines.append(Line(OK, text))
    return lines


def apply(config, cpus, dry_run=False, sys_root="/sys", proc_root="/proc"):
    """Every tuning step for `config` on `cpus`; with `dry_run`, report without changing."""
    return (nofile(config.nofile_limit, dry_run, proc_root)
            + governor(config.tune_governor, cpus, dry_run, sys_root)
            + network(config.backlog, proc_root))


def report(lines):
    """Log each line: warnings as warnings, the rest as info."""
    for line in lines:
        log.log(logging.WARNING if line.kind == WARNING else logging.INFO, "%s", line)
