"""Fakes for calling Anthropic and Gemini handlers directly: a server context with the
fake planner of openai_fakes, a table of every route's handler, and an event stream drained
in full."""

from types import SimpleNamespace

from llmsim import api
from llmsim.sim.generators import Generators
from openai_fakes import FakePlanner, FakeReq


def context(models=None, generators=None, planner=None, api_keys=()):
    """A fake server context (what llmsim.worker hands the API modules)."""
    return SimpleNamespace(config=SimpleNamespace(models=models or {},
                                                  generators=generators or {},
                                                  api_keys=list(api_keys), faults=None,
                                                  rate_limits={}),
                           planner=planner or FakePlanner(), worker_index=0, segment=None,
                           rate_bank=0, route_names=[], generators=Generators(generators))


def handlers(**kw):
    """{route name: (method, pattern, handler)} of every route over a fake context."""
    return {r.name: (r.method, r.pattern, r.handler) for r in api.routes(context(**kw))}


def call(hs, name, body=b"", headers=None, params=(), query=b""):
    """(status, header dict, body) of one handler call; a stream comes back as its events'
    bytes with `.dues` (due offsets) attached in a list."""
    method, pattern, handler = hs[name]
    req = FakeReq(method, pattern.encode(), body, headers, params)
    req.query = query
    status, head, out = handler(req)
    return status, header_map(head), out


def drain(stream):
    """(all bytes, due offsets) of an EventStream, rendered in uneven slices, then closed."""
    n = stream.n_events
    dues = [stream.due_ns(i) for i in range(n)]
    chunks, i, step = [], 0, 1
    while i < n:
        chunks.append(stream.render(i, min(n, i + step)))
        i += step
        step = step % 3 + 1
    stream.close()
    return b"".join(chunks), dues


def header_map(head):
    out = {}
    for line in head.split(b"\r\n"):
        if line:
            k, _, v = line.partition(b": ")
            out[k.decode()] = v.decode()
    return out
