"""CPU cost of the OpenAI handlers per call, without sockets (a micro-benchmark, not a test).

    python bench/micro_openai.py [--n 20000]

Calls each handler in-process with a fake request and a zero-latency planner and prints
CPU microseconds per call (thread CPU time, best of 5 rounds). Run it on an idle core; it is single-threaded.
"""

import argparse
import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from llmsim.api import openai


class _Plan:
    __slots__ = ("n_tokens", "ttft_ns", "itl_ns", "total_ns")

    def __init__(self, n):
        self.n_tokens, self.ttft_ns, self.itl_ns, self.total_ns = n, 0, (), 0

    def due_ns(self, i):
        return 0


class _Planner:
    def plan(self, model, prompt_tokens, max_tokens, key, override):
        return _Plan(20 if max_tokens is None else min(20, max_tokens))


class _Req:
    __slots__ = ("method", "path", "query", "body", "headers", "params", "route", "received_ns")

    def __init__(self, body, params=()):
        self.method, self.path, self.query, self.body = b"POST", b"", b"", body
        self.headers, self.params, self.route = {}, params, 0
        self.received_ns = time.monotonic_ns()


SHORT = json.dumps({"model": "gpt-4o-mini",
                    "messages": [{"role": "user", "content": "Hello! How are you today?"}]}).encode()
LONG = json.dumps({"model": "gpt-4o-mini", "max_tokens": 100, "messages": [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Please summarise this text. " + "The quick brown fox jumps "
                                "over the lazy dog, again and again. " * 32}]}).encode()
CASES = {
    "chat short (20 tokens out)": ("openai.chat_completions", SHORT, ()),
    "chat 2 KB prompt": ("openai.chat_completions", LONG, ()),
    "models list": ("openai.models", b"", ()),
    "model retrieve": ("openai.model", b"", (b"gpt-4o",)),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    args = ap.parse_args()
    ctx = SimpleNamespace(config=SimpleNamespace(models={}, generators={}), planner=_Planner(),
                          worker_index=0)
    hs = {name: h for _, _, name, h in openai.routes(ctx)}
    for label, (name, body, params) in CASES.items():
        h, req = hs[name], _Req(body, params)
        best = float("inf")
        for _ in range(5):
            t0 = time.thread_time_ns()
            for _ in range(args.n):
                h(req)
            best = min(best, (time.thread_time_ns() - t0) / args.n)
        sys.stdout.write(f"{label:32s} {best / 1000:7.2f} us/call  (body {len(body)} B)\n")


if __name__ == "__main__":
    main()
