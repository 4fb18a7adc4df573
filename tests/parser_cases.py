"""The request-parser cases in tests/requests/, loaded for the parser tests.

Layout: `valid/NAME.http` holds raw request bytes (CRLFs exact; `.gitattributes` keeps git
from touching them) and `valid/NAME.json` the expected parse:

    {"why": "what the case covers",
     "limits": {"max_body": 16},            # optional RequestReader keyword arguments
     "requests": [{"method": "GET", "path": "/", "query": "", "minor_version": 1,
                   "headers": [["Host", "x"]], "body": "..." or "body_base64": "...",
                   "keep_alive": true, "expect_continue": false, "chunked": false}, ...]}

`requests` lists every request in the file, in order (several for pipelined input).
Strings stand for bytes: method, path, query and header fields are latin-1 (so obs-text
bytes 0x80-0xFF map one to one), `body` is UTF-8, `body_base64` any bytes.

`invalid/NAME.http` holds input the reader must refuse; `invalid/NAME.json` is
`{"status": 400, "why": "...", "limits": {...}}` with the HttpError status expected.
"""

import base64
import json
from pathlib import Path

from llmsim.core.http import RequestReader

ROOT = Path(__file__).parent / "requests"


# Cases the parser on main still gets wrong, with the minimal input that shows it. Each is a
# strict xfail in test_parser.py (once the parser is fixed pytest reports XPASS as a failure
# and the entry must go) and unlocks a matching exemption in test_parser_differential.py.
_BUG_505 = ("_version_error answers 505 for any malformed head whose request line ends in "
            "HTTP/1.x; minimal: b'GET / HTTP/1.1\\r\\nHost: x\\r\\nfoo\\r\\n\\r\\n' "
            "-> 505, want 400")
_BUG_TRAILER = ("trailer field lines are not checked as field lines; minimal: chunked body "
                "b'0\\r\\nfoo\\r\\n\\r\\n' is accepted, want 400")
KNOWN_BUGS = {}


class Case:
    def __init__(self, path):
        self.name = path.stem
        self.data = path.read_bytes()
        self.doc = json.loads(path.with_suffix(".json").read_text())
        self.limits = self.doc.get("limits", {})

    def reader(self):
        return RequestReader(**self.limits)

    def expected(self):
        """The expected requests, in the shape `as_dict` gives a ParsedRequest."""
        return [_expected_request(r) for r in self.doc["requests"]]

    @property
    def status(self):
        return self.doc["status"]


def _expected_request(r):
    body = (base64.b64decode(r["body_base64"]) if "body_base64" in r
            else r["body"].encode("utf-8"))
    return {
        "method": r["method"].encode("latin-1"),
        "path": r["path"].encode("latin-1"),
        "query": r["query"].encode("latin-1"),
        "minor_version": r["minor_version"],
        "headers": [(n.encode("latin-1"), v.encode("latin-1")) for n, v in r["headers"]],
        "body": body,
        "keep_alive": r["keep_alive"],
        "expect_continue": r["expect_continue"],
        "chunked": r["chunked"],
    }


def as_dict(req):
    """A ParsedRequest as a plain dict, comparable with `Case.expected()` items."""
    return {
        "method": req.method,
        "path": req.path,
        "query": req.query,
        "minor_version": req.minor_version,
        "headers": list(req.headers),
        "body": req.body,
        "keep_alive": req.keep_alive,
        "expect_continue": req.expect_continue,
        "chunked": req.chunked,
    }


def load(kind):
    """Every case of `kind` ("valid" or "invalid"), sorted by name."""
    cases = [Case(p) for p in sorted((ROOT / kind).glob("*.http"))]
    if not cases:
        raise RuntimeError(f"no parser cases found under {ROOT / kind}")
    return cases


VALID = load("valid")
INVALID = load("invalid")
