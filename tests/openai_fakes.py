"""Fakes for calling OpenAI handlers directly: request, planner, server context."""

import json
import time
from types import SimpleNamespace

from llmsim.api import openai


class FakePlan:
    def __init__(self, n_tokens, ttft_ns, itl_ns):
        self.n_tokens = n_tokens
        self.ttft_ns = ttft_ns
        self.itl_ns = [itl_ns] * max(n_tokens - 1, 0)
        self.total_ns = ttft_ns + sum(self.itl_ns)
        self.rng = None

    def due_ns(self, i):
        return self.ttft_ns + sum(self.itl_ns[:i])


class FakePlanner:
    """Plans `length` tokens (capped by max_tokens) with constant TTFT and ITL."""

    def __init__(self, length=20, ttft_ns=2_000_000, itl_ns=100_000):
        self.length, self.ttft_ns, self.itl_ns = length, ttft_ns, itl_ns
        self.calls = []

    def plan(self, model, prompt_tokens, max_tokens, key, override):
        self.calls.append((model, prompt_tokens, max_tokens, key, override))
        n = self.length if max_tokens is None else min(self.length, max_tokens)
        return FakePlan(n, self.ttft_ns, self.itl_ns)


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
                          planner=planner or FakePlanner(), worker_index=0)
    return {name: (method, pattern, handler)
            for method, pattern, name, handler in openai.routes(ctx)}


def call(hs, name, body=b"", headers=None, params=()):
    """(status, header lines, body bytes, delay_ns) of one handler call."""
    method, pattern, handler = hs[name]
    status, head, out = handler(FakeReq(method, pattern.encode(), body, headers, params))
    delay = getattr(out, "delay_ns", 0)
    return status, head, getattr(out, "body", out), delay


def header_map(head):
    out = {}
    for line in head.split(b"\r\n"):
        if line:
            k, _, v = line.partition(b": ")
            out[k.decode()] = v.decode()
    return out
