# cython: language_level=3, boundscheck=False, wraparound=False
"""Routes compiled once at start-up: exact paths in a dict, parameterised paths as segments.

A pattern segment is a literal, `{name}` (one whole segment) or `{name}:suffix` (Gemini's
`{model}:generateContent`). No regular expression runs per request.
"""

from collections import namedtuple

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.string cimport memcmp

Route = namedtuple("Route", "method pattern name handler")

# Route id for requests that matched no route (metrics); real routes use 0..MAX_ROUTES-2.
MAX_ROUTES = 64
UNMATCHED = MAX_ROUTES - 1


cdef class Endpoint:
    def __cinit__(self, str name, int id, object handler):
        self.name = name
        self.provider = name.partition(".")[0]
        self.id = id
        self.handler = handler


cdef class PathEntry:
    def __cinit__(self, str provider):
        self.methods = {}
        self.provider = provider
        self.allow = b""


cdef tuple _compile(str pattern):
    segs = []
    for seg in pattern.encode().split(b"/"):
        if seg.startswith(b"{"):
            close = seg.index(b"}")
            segs.append((True, seg[close + 1:]))
        else:
            segs.append((False, seg))
    return tuple(segs)


cdef class Router:
    def __init__(self, routes):
        """`routes`: iterable of Route(method, pattern, name, handler)."""
        self.exact = {}
        self.patterns = []
        self.names = []
        self.params = self.last_params = ()
        self.last_method = self.last_path = b""
        self.last_ep = None
        ids = {}
        by_pattern = {}
        for method, pattern, name, handler in routes:
            if name not in ids:
                if len(ids) >= UNMATCHED:
                    raise ValueError(f"more than {UNMATCHED} routes")
                ids[name] = len(ids)
                self.names.append(name)
            entry = by_pattern.get(pattern)
            if entry is None:
                entry = by_pattern[pattern] = PathEntry(name.partition(".")[0])
                if "{" in pattern:
                    self.patterns.append((_compile(pattern), entry))
                else:
                    self.exact[pattern.encode()] = entry
            if method in (<PathEntry>entry).methods:
                raise ValueError(f"route {method!r} {pattern} defined twice")
            (<PathEntry>entry).methods[method] = Endpoint(name, ids[name], handler)
            (<PathEntry>entry).allow = b", ".join(sorted((<PathEntry>entry).methods))

    cdef PathEntry lookup(self, bytes path):
        """The entry serving `path` (its parameters in self.params), or None."""
        cdef object entry = self.exact.get(path)
        if entry is not None:
            self.params = ()
            return <PathEntry>entry
        cdef list parts = None
        cdef tuple segs
        cdef list found
        for segs, entry in self.patterns:
            if parts is None:
                parts = path.split(b"/")
            if len(parts) != len(segs):
                continue
            found = []
            for (is_param, text), part in zip(segs, parts):
                if not is_param:
                    if part != text:
                        break
                elif text:
                    if len(part) <= len(text) or not part.endswith(text):
                        break
                    found.append(part[:len(part) - len(text)])
                elif part:
                    found.append(part)
                else:
                    break
            else:
                self.params = tuple(found)
                return <PathEntry>entry
        return None

    cdef Endpoint endpoint(self, PathEntry entry, bytes method, bytes path):
        """entry's endpoint for `method`, or None (405). `path` is the one lookup() just
        found entry for: it is remembered for recall, with its parameters (they depend on
        the path alone)."""
        cdef Endpoint ep = entry.methods.get(method)
        if ep is not None:
            self.last_method, self.last_path, self.last_ep = method, path, ep
            self.last_params = self.params
        return ep

    cdef Endpoint recall(self, const char *method, size_t method_len, const char *path,
                         size_t path_len):
        """The endpoint last remembered when this request has its method and path (whose
        bytes are last_method, last_path), else None: the same request again costs two
        compares, no bytes objects, no hashing and no pattern matching."""
        cdef bytes m = self.last_method, p = self.last_path
        if (<size_t>PyBytes_GET_SIZE(p) == path_len and <size_t>PyBytes_GET_SIZE(m) == method_len
                and memcmp(PyBytes_AS_STRING(p), path, path_len) == 0
                and memcmp(PyBytes_AS_STRING(m), method, method_len) == 0):
            self.params = self.last_params
            return self.last_ep
        return None

    def match(self, bytes method, bytes path):
        """(endpoint name, params) for tests and tools; None when no path matches."""
        cdef PathEntry entry = self.lookup(path)
        if entry is None:
            return None
        ep = self.endpoint(entry, method, path)
        return (ep.name if ep is not None else None), self.params
