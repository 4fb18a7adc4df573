"""`llmsim doctor`: what this installation would run with, without serving.

The report: versions, whether the compiled core loads, its build flags, whether the
picohttpparser inside pycohttpparser was built with its SSE4.2 path, the worker/CPU plan,
and the start-up tuning report as a dry run (nothing is changed).
"""

import os
import re
import struct
import sys
from importlib import metadata

from llmsim import __version__, tuning
from llmsim import config as configuration
from llmsim.errors import ConfigError, CoreUnavailable

# pcmpestri (SSE4.2): 66 [REX] 0F 3A 61 /r ib, or VEX-encoded vpcmpestri C4 [m=0F3A] [pp=66] 61.
_PCMPESTRI = re.compile(rb"\x66[\x40-\x4f]?\x0f\x3a\x61")
_VEX_PCMPESTRI = re.compile(rb"\xc4[\x03\x23\x43\x63\x83\xa3\xc3\xe3][\x01\x09\x11\x19\x21\x29"
                            rb"\x31\x39\x41\x49\x51\x59\x61\x69\x71\x79\x81\x89\x91\x99\xa1\xa9"
                            rb"\xb1\xb9\xc1\xc9\xd1\xd9\xe1\xe9\xf1\xf9]\x61")
_SHF_EXECINSTR = 0x4


def executable_sections(data):
    """The bytes of every executable section of a 64-bit little-endian ELF file, or None."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = []
    for i in range(shnum):
        base = shoff + i * shentsize
        flags, = struct.unpack_from("<Q", data, base + 0x08)
        offset, size = struct.unpack_from("<QQ", data, base + 0x18)
        if flags & _SHF_EXECINSTR:
            sections.append(data[offset:offset + size])
    return sections


def has_pcmpestri(path):
    """(found, how): whether the shared object at `path` contains a pcmpestri instruction."""
    with open(path, "rb") as f:
        data = f.read()
    sections = executable_sections(data)
    if sections is None:
        sections, where = [data], "all bytes (not a 64-bit ELF file)"
    else:
        where = "its executable ELF sections"
    found = any(_PCMPESTRI.search(s) or _VEX_PCMPESTRI.search(s) for s in sections)
    return found, f"scanned {where} for the pcmpestri instruction"


def parser_line():
    try:
        from pycohttpparser import _pycohttpparser
        version = metadata.version("pycohttpparser")
    except (ImportError, metadata.PackageNotFoundError) as err:
        return f"parser: pycohttpparser not available: {err}"
    found, how = has_pcmpestri(_pycohttpparser.__file__)
    verdict = ("SSE4.2 path: yes" if found else
               "SSE4.2 path: no (rebuild: CFLAGS=-msse4.2 pip install --no-cache-dir "
               "--force-reinstall --no-deps pycohttpparser)")
    return f"parser: pycohttpparser {version} at {_pycohttpparser.__file__}: {verdict}; {how}"


def core_lines():
    """(ok, lines) on the compiled core."""
    from llmsim.cli import load_core
    try:
        names = load_core()
    except CoreUnavailable as err:
        return False, [f"core: NOT loaded: {err}"]
    from llmsim.core import buildinfo
    return True, [f"core: loaded ({', '.join(names)})", f"build flags: {buildinfo.BUILD_CFLAGS}"]


def plan_line(cpus):
    allowed = ",".join(map(str, sorted(os.sched_getaffinity(0))))
    pins = "not pinned" if cpus[0] is None else "pinned to cpu " + ",".join(map(str, cpus))
    return f"workers: {len(cpus)} ({pins}); allowed cpus {allowed}"


def render(config):
    """(ok, text): the whole report; `ok` is False when the core does not load."""
    import uvloop
    ok, core = core_lines()
    lines = [f"llmsim {__version__}, Python {sys.version.split()[0]}, "
             f"uvloop {uvloop.__version__}, msgspec {metadata.version('msgspec')}",
             *core, parser_line()]
    try:
        cpus = configuration.worker_cpus(config)
        lines.append(plan_line(cpus))
    except ConfigError as err:
        cpus = []
        lines.append(f"workers: {err}")
    pinned = sorted({c for c in cpus if c is not None}) or sorted(os.sched_getaffinity(0))
    lines.append("tuning (dry run; nothing changed):")
    lines.extend(f"  {line}" for line in tuning.apply(config, pinned, dry_run=True))
    return ok, "\n".join(lines) + "\n"
