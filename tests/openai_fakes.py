"""Fakes for calling OpenAI handlers directly: request, planner, server context."""

import json
import os
import time
from array import array
from types import SimpleNamespace

from llmsim.api import openai
from llmsim.core.plan import PlannerCore
from llmsim.core.rng import Stream
from llmsim.errors import ApiError
from llmsim.sim.generators import Generators


class FakePlan:
    def __init__(self, n_tokens, truncated, ttft_ns, itl_ns, key):
        self.n_tokens = n_tokens
        self.truncated = truncated
        self.ttft_ns = ttft_ns
        self.itl_ns = array("q", [itl_ns] * max(n_tokens - 1, 0))
        self.due = array("q", [ttft_ns + i * itl_ns for i in range(n_tokens)])
        self.total_ns = self.due[-1] if n_tokens else ttft_ns
        self.rng = Stream(key)

    def due_ns(self, i):
        return self.due[i]


class FakePlanner(PlannerCore):
    """Plans `length` tokens (capped by max_tokens) with constant TTFT and ITL; the same
    interface as llmsim.sim.timing.Planner, recording calls."""

    def __init__(self, length=20, ttft_ns=2_000_000, itl_ns=100_000):
        super().__init__()
        self.length, self.ttft_ns, self.itl_ns = length, ttft_ns, itl_ns
        self.calls = []
        self.admitted = []
        self.released = []

    def request_key(self, seed, body):
        return seed

    def plan(self, model, prompt_tokens, max_tokens, key, override):
        self.calls.append((model, prompt_tokens, max_tokens, key, override))
        n = self.length if max_tokens is None else min(self.length, max_tokens)
        truncated = max_tokens is not None and self.length >= max_tokens
        if key is None:
            key = int.from_bytes(os.urandom(8), "little")
        return FakePlan(n, truncated, self.ttft_ns, self.itl_ns, key)

    def admit(self, plan, now_ns):
        self.admitted.append(plan)

    def release(self, plan, now_ns):
        self.released.append((plan, now_ns))


class FakeReq:
    def __init__(self, method, path, body=b"", headers=None, params=()):
        self.method, self.path, self.query = method, path, b""
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.headers = headers or {}
        self.params = params
        self.route = 0
        self.received_ns = time.monotonic_ns()


def handlers(models=None, generators=None, planner=None):
    """{route name: handler} of the OpenAI routes over a fake context."""
    ctx = SimpleNamespace(config=SimpleNamespace(models=models or {},
                                                 generators=generators or {}),
                          planner=planner or FakePlanner(), worker_index=0,
                          generators=Generators(generators))
    return {name: (method, pattern, handler)
            for method, pattern, name, handler in openai.routes(ctx)}


def run_stream(handler, req, step, released=None):
    """(stream type, head, wire bytes, due times, release times) of the stream `handler`
    answers `req` with, rendered `step` events at a time and closed; `released`: the fake
    planner's record of releases (None: no release times)."""
    before = len(released) if released is not None else 0
    status, head, s = handler(req)
    assert status == 200
    n = s.n_events
    wire = b"".join(s.render(i, i + step) for i in range(0, n, step))
    dues = [s.due_ns(i) for i in range(n)]
    s.close()
    return (type(s), head, wire, dues,
            [t for _, t in released[before:]] if released is not None else None)


def sent(out):
    """(body bytes, delay ns) of a non-streamed answer: bytes are a body due at once."""
    return getattr(out, "body", out), getattr(out, "delay_ns", 0)


def outcome(handler, path, body, headers, ids, params=(), query=b""):
    """What the handler answers to a POST of body to path (with the path's `params` and the
    `query` string), the ids that `ids` (a bytes pattern) matches replaced: (status, head,
    body, delay_ns), a stream's body its every event and its delay their due times (the
    stream closed after), or the ApiError raised as (status, message, type, param, code)."""
    req = FakeReq(b"POST", path, body, dict(headers), params)
    req.query = query
    req.received_ns = 10**12
    try:
        status, head, out = handler(req)
    except ApiError as e:
        return e.status, str(e), e.type, e.param, e.code
    if hasattr(out, "n_events"):
        n = out.n_events
        wire = b"".join(out.render(i, i + 1) for i in range(n))
        dues = [out.due_ns(i) for i in range(n)]
        out.close()
        return status, ids.sub(b"ID", head), ids.sub(b"ID", wire), dues
    body, delay = sent(out)
    return status, ids.sub(b"ID", head), ids.sub(b"ID", body), delay


def decoder_calls(monkeypatch, module, name):
    """The list of the bodies that module.name, a decoder, is called with from now on (it
    still decodes them)."""
    calls = []
    decode = getattr(module, name)
    monkeypatch.setattr(module, name, lambda body: calls.append(body) or decode(body))
    return calls


def decoded_spelling(body, key=b"model"):
    """The same JSON with `key` (its first "e" escaped), which only a full decoder reads."""
    return body.replace(b'"%s"' % key, b'"%s"' % key.replace(b"e", b"\\u0065", 1), 1)


def call(hs, name, body=b"", headers=None, params=()):
    """(status, header lines, body bytes, delay_ns) of one handler call."""
    method, pattern, handler = hs[name]
    status, head, out = handler(FakeReq(method, pattern.encode(), body, headers, params))
    return (status, head, *sent(out))


def header_map(head):
    out = {}
    for line in head.split(b"\r\n"):
        if line:
            k, _, v = line.partition(b": ")
            out[k.decode()] = v.decode()
    return out


def sse_events(stream, step=1):
    """Render a TokenStream `step` events at a time and close it: (frames, due times).

    frames: the JSON documents of every `data:` frame in order ("[DONE]" as the string).
    """
    wire = b"".join(stream.render(i, i + step) for i in range(0, stream.n_events, step))
    dues = [stream.due_ns(i) for i in range(stream.n_events)]
    stream.close()
    assert wire.endswith(b"\n\n")
    frames = []
    for block in wire.split(b"\n\n")[:-1]:
        assert block.startswith(b"data: "), block
        data = block[6:]
        frames.append("[DONE]" if data == b"[DONE]" else json.loads(data))
    return frames, dues
