"""Over-read check: request framing never touches a byte outside the buffer it is given.

As in picohttpparser's own tests, the input is put flush against a PROT_NONE guard page,
here at both ends of the buffer ([guard][data pages][guard]), and every case file is framed
through `parse_head_at` (the head, then the body as far as it goes) truncated at every
length. A read past the end (or before the start) faults; each case runs in a forked child
so a fault fails the test with the case, the length and the placement instead of killing
pytest.
"""

import ctypes
import mmap
import os
import signal
import struct

import pytest

from llmsim.core.http import HttpError, parse_head_at
from parser_cases import INVALID, KNOWN_BUGS, VALID

PAGE = mmap.PAGESIZE
PROT_NONE = 0
MAP_FAILED = ctypes.c_void_p(-1).value

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                       ctypes.c_int, ctypes.c_long)
_libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)


def _check(rc, what):
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


class GuardedBuffer:
    """Read-write pages between two PROT_NONE pages; lives as long as the (child) process."""

    def __init__(self, capacity):
        pages = max(1, -(-capacity // PAGE))
        size = (pages + 2) * PAGE
        base = _libc.mmap(None, size, mmap.PROT_READ | mmap.PROT_WRITE,
                          mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
        if base in (None, MAP_FAILED):
            _check(-1, "mmap")
        _check(_libc.mprotect(base, PAGE, PROT_NONE), "mprotect")
        _check(_libc.mprotect(base + (pages + 1) * PAGE, PAGE, PROT_NONE), "mprotect")
        self.start = base + PAGE
        self.end = base + (pages + 1) * PAGE

    def place(self, data, at_end):
        """Copy `data` flush against the trailing (at_end) or leading guard page."""
        addr = self.end - len(data) if at_end else self.start
        ctypes.memmove(addr, data, len(data))
        return addr


def _parse_every_prefix(case, progress, index):
    """Parse case.data[:n] for every n at both placements. Returns a problem or ''."""
    buf = GuardedBuffer(len(case.data))
    results = []
    for n in range(len(case.data) + 1):
        for at_end in (True, False):
            struct.pack_into("<qqq", progress, 0, index, n, at_end)
            try:
                r = parse_head_at(buf.place(case.data[:n], at_end), n)
            except HttpError as err:
                r = ("error", err.status)
            if at_end:
                results.append(r)
            elif r != results[-1]:
                return f"length {n}: {r!r} at the buffer start but {results[-1]!r} at its end"
    return _judge(case, results)


def _judge(case, results):
    """What parse_head_at said for each prefix length must fit the case."""
    final = results[-1]
    if case in VALID:
        if not isinstance(final, int) or final <= 0:
            return f"complete valid input gave {final!r}"
        for n, r in enumerate(results):
            want = -2 if n < final else final
            if r != want:
                return f"length {n}: {r!r}, want {want!r} (head is {final} bytes)"
        return ""
    for n, r in enumerate(results):
        if not (r == -2 or isinstance(r, tuple) or (isinstance(r, int) and 0 < r <= n)):
            return f"length {n}: {r!r} is not -2, a head length or an HttpError"
    if isinstance(final, tuple) and final[1] != case.status and case.name not in KNOWN_BUGS:
        return f"complete input gave HttpError {final[1]}, want {case.status}"
    return ""


def _in_child(work):
    """Run work(progress) in a forked child.

    Returns (signal name or None, exit code, message, progress). `progress` is 24 bytes of
    memory shared with the child, where it notes what it is doing before each risky step.
    """
    progress = mmap.mmap(-1, 24)
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 2
        try:
            os.close(rfd)
            problem = work(progress)
            os.write(wfd, problem.encode()[:4000])
            code = 1 if problem else 0
        except BaseException as err:  # reported by the parent
            os.write(wfd, f"child raised {err!r}".encode()[:4000])
        finally:
            os._exit(code)
    os.close(wfd)
    with os.fdopen(rfd, "rb") as pipe:
        message = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    sig = signal.Signals(os.WTERMSIG(status)).name if os.WIFSIGNALED(status) else None
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    return sig, code, message, struct.unpack_from("<qqq", progress)


def _batches(cases, size=20):
    """Cases in batches of `size`, one forked child each, named by their first and last case."""
    out = []
    for i in range(0, len(cases), size):
        batch = cases[i:i + size]
        out.append(pytest.param(batch, id=f"{batch[0].name}..{batch[-1].name}"))
    return out


@pytest.mark.parametrize("batch", _batches(VALID + INVALID))
def test_head_parse_stays_inside_the_buffer(batch):
    def work(progress):
        for index, case in enumerate(batch):
            problem = _parse_every_prefix(case, progress, index)
            if problem:
                return f"{case.name}: {problem}"
        return ""

    sig, code, message, (index, length, at_end) = _in_child(work)
    if sig:
        where = "end" if at_end else "start"
        pytest.fail(f"{batch[index].name}: parse_head_at killed by {sig} on the first {length} "
                    f"bytes placed flush against the guard page at the buffer {where}: it "
                    f"read outside [buf, buf+len)")
    assert code == 0, message


def test_guard_page_catches_an_over_read():
    """The harness itself: reading one byte past the placed data must kill the child."""
    def work(progress):
        buf = GuardedBuffer(100)
        addr = buf.place(b"GET / HTTP/1.1\r\n", at_end=True)
        ctypes.string_at(addr, len(b"GET / HTTP/1.1\r\n") + 1)
        return "read past the guard page without a fault"

    sig, _, message, _ = _in_child(work)
    assert sig in ("SIGSEGV", "SIGBUS"), message
