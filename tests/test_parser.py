"""RequestReader against the data files in tests/requests/ (format: parser_cases.py).

Every valid file must give its expected requests whether it arrives whole, byte by byte or
split at any point; every invalid file must raise HttpError with its status whether it
arrives whole or byte by byte, and must never yield a request on the way.
"""

import random

import pytest

from llmsim.core.http import HttpError, ParsedRequest, RequestReader
from parser_cases import INVALID, KNOWN_BUGS, VALID, as_dict

# Splitting a file at every point costs O(len**2); longer files get a fixed sample.
MAX_EXHAUSTIVE_SPLIT = 2048
SPLIT_SAMPLE = 200


def _params(cases):
    out = []
    for case in cases:
        marks = ()
        if case.name in KNOWN_BUGS:
            marks = pytest.mark.xfail(reason=KNOWN_BUGS[case.name], strict=True)
        out.append(pytest.param(case, id=case.name, marks=marks))
    return out


def _feed_pieces(case, pieces):
    """Feed `pieces` to a fresh reader; check `pending` on the way; return the requests."""
    reader = case.reader()
    got = []
    fed = 0
    for piece in pieces:
        got += reader.feed(piece)
        fed += len(piece)
        if not got:
            assert reader.pending == fed, "bytes before the first complete request are pending"
    assert reader.pending == 0, "complete input leaves nothing pending"
    return [as_dict(r) for r in got]


def _split_points(case):
    n = len(case.data)
    if n <= MAX_EXHAUSTIVE_SPLIT:
        return range(n + 1)
    rng = random.Random(case.name)
    return sorted(rng.sample(range(n + 1), SPLIT_SAMPLE) + [0, 1, n - 1, n])


@pytest.mark.parametrize("case", _params(VALID))
def test_valid_whole(case):
    assert _feed_pieces(case, [case.data]) == case.expected()


@pytest.mark.parametrize("case", _params(VALID))
def test_valid_byte_by_byte(case):
    pieces = [case.data[i:i + 1] for i in range(len(case.data))]
    assert _feed_pieces(case, pieces) == case.expected()


@pytest.mark.parametrize("case", _params(VALID))
def test_valid_every_split(case):
    expected = case.expected()
    for i in _split_points(case):
        got = _feed_pieces(case, [case.data[:i], case.data[i:]])
        assert got == expected, f"split at byte {i}"


def test_valid_files_pipelined_back_to_back():
    """All valid files (default limits) on one connection, in random-sized reads: in order."""
    cases = [c for c in VALID if not c.limits and c.name not in KNOWN_BUGS]
    stream = b"".join(c.data for c in cases)
    expected = [r for c in cases for r in c.expected()]
    reader = RequestReader()
    rng = random.Random(1)
    got = []
    pos = 0
    while pos < len(stream):
        step = rng.choice((1, 7, 64, 1500, 65536))
        got += reader.feed(stream[pos:pos + step])
        pos += step
    assert [as_dict(r) for r in got] == expected
    assert reader.pending == 0


def test_pending_counts_a_partial_second_request():
    first = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
    second = b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234"
    reader = RequestReader()
    got = reader.feed(first + second)
    assert [r.path for r in got] == [b"/a"]
    assert reader.pending == len(second)
    got = reader.feed(b"56789")
    assert [(r.path, r.body) for r in got] == [(b"/b", b"0123456789")]
    assert reader.pending == 0


@pytest.mark.parametrize("case", _params(INVALID))
def test_invalid_whole(case):
    reader = case.reader()
    with pytest.raises(HttpError) as err:
        reader.feed(case.data)
    assert err.value.status == case.status, err.value.message
    # The reader is dead after an error: the connection closes.
    with pytest.raises(HttpError):
        reader.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")


@pytest.mark.parametrize("case", _params(INVALID))
def test_invalid_byte_by_byte(case):
    reader = case.reader()
    for i in range(len(case.data)):
        try:
            got = reader.feed(case.data[i:i + 1])
        except HttpError as err:
            assert err.status == case.status, f"at byte {i}: {err.message}"
            return
        assert got == [], f"a request came out of invalid input at byte {i}"
    pytest.fail(f"no error after all {len(case.data)} bytes (pending {reader.pending})")


def test_tls_hello_refused_without_waiting_for_a_head():
    """A TLS client waits for the server: its hello must be refused at once, not at timeout."""
    hello = next(c for c in INVALID if c.name == "tls_client_hello").data
    with pytest.raises(HttpError) as err:
        RequestReader().feed(hello[:16])
    assert err.value.status == 400


def test_content_length_over_limit_refused_before_the_body():
    reader = RequestReader(max_body=100)
    with pytest.raises(HttpError) as err:
        reader.feed(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n")
    assert err.value.status == 413


# Every byte value in each place of a head. The head checks rely on what picohttpparser
# already refuses (CTLs in values and names, bytes >= 0x80 in names without SSE4.2), so these
# pin that down for the installed build as well as our own checks.
TCHAR = set(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
FIELD_VALUE = {0x09} | set(range(0x20, 0x7f)) | set(range(0x80, 0x100))


def _outcome(head):
    try:
        got = RequestReader().feed(head)
    except HttpError as err:
        return err.status
    return got[0] if got else None


@pytest.mark.parametrize("name", ["X-Any", "Content-Length", "x-llmsim-x", "X-Stainless-OS"])
def test_every_byte_in_a_field_name(name):
    """Only tchars in a name; a byte swapped into a name we know unmakes the match."""
    for b in range(256):
        if b in (0x0a, 0x3a):  # LF ends the line, ':' the name
            continue
        for at in (0, len(name) - 1):
            bad = name[:at].encode() + bytes([b]) + name[at + 1:].encode()
            got = _outcome(b"GET / HTTP/1.1\r\nHost: x\r\n" + bad + b": 0\r\n\r\n")
            if b in TCHAR:
                assert isinstance(got, ParsedRequest), (bad, got)
                assert got.headers[1] == (bad, b"0")
            else:
                assert got == 400, (bad, got)


def test_every_byte_in_a_field_value():
    """VCHAR, obs-text, SP and HTAB in a value, nothing else; whitespace at the ends goes."""
    for b in range(256):
        if b in (0x0a, 0x0d):
            continue
        for value in (bytes([b]), b"a" + bytes([b]), b"a" + bytes([b]) + b"b"):
            got = _outcome(b"GET / HTTP/1.1\r\nHost: x\r\nX: " + value + b"\r\n\r\n")
            if b in FIELD_VALUE:
                assert isinstance(got, ParsedRequest), (value, got)
                assert got.headers[1] == (b"X", value.strip(b" \t")), value
            else:
                assert got == 400, (value, got)


def test_every_byte_in_the_target():
    """Visible ASCII only, anywhere in a target of several words; the first '?' splits."""
    for b in range(256):
        if b in (0x0a, 0x0d, 0x20):  # each ends the target or the line
            continue
        for at in (1, 7, 8, 20):
            target = bytearray(b"/abcdefghijklmnopqrstuvw")
            target[at] = b
            got = _outcome(b"GET " + bytes(target) + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            if 0x21 <= b <= 0x7e:
                assert isinstance(got, ParsedRequest), (target, got)
                path, _, query = bytes(target).partition(b"?")
                assert (got.path, got.query) == (path, query), target
            else:
                assert got == 400, (target, got)
