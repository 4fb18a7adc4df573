"""Tuning report content (against fake sysfs/procfs trees) and `llmsim doctor`."""

import os
import resource
import shutil
import subprocess
import sys

import pytest

from llmsim import doctor, tuning
from llmsim.config import Config


def fake_cpu(root, cpu, governor="powersave", offered="performance powersave"):
    freq = root / f"devices/system/cpu/cpu{cpu}/cpufreq"
    freq.mkdir(parents=True)
    (freq / "scaling_governor").write_text(governor + "\n")
    (freq / "scaling_available_governors").write_text(offered + "\n")
    return freq / "scaling_governor"


def fake_proc(root, somaxconn="4096", port_range="32768\t60999"):
    (root / "sys/net/core").mkdir(parents=True)
    (root / "sys/net/ipv4").mkdir(parents=True)
    (root / "sys/net/core/somaxconn").write_text(somaxconn + "\n")
    (root / "sys/net/ipv4/ip_local_port_range").write_text(port_range + "\n")
    return str(root)


def texts(lines):
    return [str(line) for line in lines]


def test_governor_only_when_asked(tmp_path):
    fake_cpu(tmp_path, 0)
    assert texts(tuning.governor(False, [0], sys_root=str(tmp_path))) == [
        "skipped: cpu governor: not requested (--tune-governor)"]


def test_governor_set_to_performance(tmp_path):
    gov0, gov1 = fake_cpu(tmp_path, 0), fake_cpu(tmp_path, 1, governor="performance")
    assert texts(tuning.governor(True, [0, 1], dry_run=True, sys_root=str(tmp_path))) == [
        "would apply: cpu governor -> performance on cpu0 (powersave)",
        "skipped: cpu governor: already performance on cpu1"]
    assert gov0.read_text() == "powersave\n"
    assert texts(tuning.governor(True, [0, 1], sys_root=str(tmp_path)))[0] == \
        "applied: cpu governor -> performance on cpu0 (powersave)"
    assert gov0.read_text() == "performance"
    assert gov1.read_text() == "performance\n"


def test_governor_skipped_with_reason(tmp_path):
    fake_cpu(tmp_path, 1, offered="powersave schedutil")
    lines = texts(tuning.governor(True, [0, 1], sys_root=str(tmp_path)))
    assert lines == [
        f"skipped: cpu governor: cpu0: {tmp_path}/devices/system/cpu/cpu0/cpufreq not present "
        f"(virtual machine?)",
        "skipped: cpu governor: cpu1: 'performance' not offered (only powersave schedutil)"]


def test_network_warnings(tmp_path):
    proc = fake_proc(tmp_path / "low", somaxconn="128", port_range="32768\t60999")
    assert texts(tuning.network(8192, proc)) == [
        "warning: net.core.somaxconn=128 below --backlog 8192 (the kernel caps each listen "
        "queue; see sysctl/llmsim.sysctl.conf)",
        "warning: net.ipv4.ip_local_port_range=32768-60999 (28232 ports) below 50000: a load "
        "generator on this host opening fresh connections can run out "
        "(see sysctl/llmsim.sysctl.conf)"]
    proc = fake_proc(tmp_path / "high", somaxconn="65535", port_range="1024 65535")
    assert texts(tuning.network(8192, proc)) == [
        "ok: net.core.somaxconn=65535 >= --backlog 8192",
        "ok: net.ipv4.ip_local_port_range=1024-65535 (64512 ports)"]
    lines = texts(tuning.network(8192, str(tmp_path / "absent")))
    assert lines[0].startswith("skipped: net.core.somaxconn: cannot read")
    assert lines[1].startswith("skipped: net.ipv4.ip_local_port_range: cannot read")


@pytest.fixture
def restore_nofile():
    saved = resource.getrlimit(resource.RLIMIT_NOFILE)
    yield saved
    resource.setrlimit(resource.RLIMIT_NOFILE, saved)


def test_nofile_raised_to_the_hard_limit(restore_nofile):
    soft, hard = restore_nofile
    if hard == resource.RLIM_INFINITY or hard < 256:
        pytest.skip("needs a finite hard RLIMIT_NOFILE")
    resource.setrlimit(resource.RLIMIT_NOFILE, (200, hard))
    assert texts(tuning.nofile(0, dry_run=True)) == [f"would apply: RLIMIT_NOFILE 200 -> {hard}"]
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == 200
    assert texts(tuning.nofile(0)) == [f"applied: RLIMIT_NOFILE 200 -> {hard}"]
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == (hard, hard)
    assert texts(tuning.nofile(0)) == [f"skipped: RLIMIT_NOFILE: already {hard} (wanted {hard})"]


def test_nofile_beyond_what_the_kernel_allows_warns(restore_nofile):
    soft, hard = restore_nofile
    with open("/proc/sys/fs/nr_open") as f:
        nr_open = int(f.read())
    if hard == resource.RLIM_INFINITY or hard >= nr_open or hard < 256:
        pytest.skip("needs a finite hard RLIMIT_NOFILE below fs.nr_open")
    resource.setrlimit(resource.RLIMIT_NOFILE, (200, hard))
    lines = texts(tuning.nofile(nr_open + 1))   # above fs.nr_open: refused even to root
    assert lines[0].startswith(f"warning: RLIMIT_NOFILE: hard limit {hard} is below "
                               f"{nr_open + 1} and cannot be raised")
    assert lines[1:] == [f"applied: RLIMIT_NOFILE 200 -> {hard}"]


def test_apply_report_covers_every_step(tmp_path):
    fake_cpu(tmp_path, 0)
    proc = fake_proc(tmp_path / "proc")
    lines = tuning.apply(Config(tune_governor=True), [0], dry_run=True, sys_root=str(tmp_path),
                         proc_root=proc)
    assert [line.text.split(":")[0].split()[0] for line in lines] == [
        "RLIMIT_NOFILE", "cpu", "net.core.somaxconn=4096",
        "net.ipv4.ip_local_port_range=32768-60999"]


SSE42_SOURCE = r"""
#include <nmmintrin.h>
int find(const char *p, int n) {
    __m128i set = _mm_setr_epi8('\r', '\n', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    __m128i data = _mm_loadu_si128((const __m128i *)p);
    return _mm_cmpestri(set, 2, data, n, _SIDD_CMP_EQUAL_ANY);
}
"""


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
@pytest.mark.parametrize("flags,expected", [(["-msse4.2"], True), ([], False), (["-mavx"], True)])
def test_sse42_detection_in_a_shared_object(tmp_path, flags, expected):
    source = tmp_path / "f.c"
    source.write_text(SSE42_SOURCE if flags else "int find(const char *p, int n) { return n; }\n")
    lib = tmp_path / "f.so"
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", *flags, str(source), "-o", str(lib)],
                   check=True, timeout=60)
    found, how = doctor.has_pcmpestri(str(lib))
    assert found is expected
    assert how == "scanned its executable ELF sections for the pcmpestri instruction"


def test_doctor_prints_the_report_without_serving(tmp_path, port):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSIM_")}
    res = subprocess.run([sys.executable, "-I", "-m", "llmsim", "doctor", "--backlog", "1000000",
                          "--port", str(port)], env=env, cwd=tmp_path, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    out = res.stdout
    assert out.startswith("llmsim ")
    assert "\ncore: loaded (" in out and "buildinfo" in out
    assert "\nbuild flags: -std=" in out
    assert "SSE4.2 path: " in out and "pcmpestri" in out
    assert "\ntuning (dry run; nothing changed):\n" in out
    assert "  warning: net.core.somaxconn=" in out and "below --backlog 1000000" in out
    assert "  skipped: cpu governor: not requested (--tune-governor)" in out
