"""CPU cost of the OpenAI handlers per call, without sockets (a micro-benchmark, not a test).

    python bench/micro_openai.py [--n 20000]

Calls each handler in-process with a fake request and a zero-latency planner (the real one,
or with --planner null one that costs nothing) and prints CPU microseconds per call (thread
CPU time, best of 5 rounds). Run it on an idle core; it is single-threaded.
"""

import argparse
import json
import sys
import time
from array import array
from types import SimpleNamespace

from llmsim.api import openai
from llmsim.core.plan import PlannerCore
from llmsim.core.rng import Stream
from llmsim.sim.timing import Planner


class _NullPlan:
    __slots__ = ("n_tokens", "truncated", "ttft_ns", "total_ns", "due", "rng")

    def __init__(self, n):
        self.n_tokens, self.truncated, self.ttft_ns, self.total_ns = n, False, 0, 0
        self.due = array("q", bytes(8 * n))
        self.rng = Stream(n)

    def due_ns(self, i):
        return 0


class _NullPlanner(PlannerCore):
    """The planner interface at (almost) no cost: the handler's own work only."""

    def __init__(self):
        super().__init__()
        self.plans = {n: _NullPlan(n) for n in range(1, 101)}

    def request_key(self, seed, body):
        return seed

    def plan(self, model, prompt_tokens, max_tokens, key, override):
        return self.plans[20 if max_tokens is None else min(100, max_tokens)]

    def admit(self, plan, now_ns):
        pass

    def release(self, plan, now_ns):
        pass


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
STREAM = json.dumps({"model": "gpt-4o-mini", "max_tokens": 50, "stream": True,
                     "stream_options": {"include_usage": True},
                     "messages": [{"role": "user", "content": "Hello! How are you today?"}]}
                    ).encode()
EMBED = json.dumps({"model": "text-embedding-3-small",
                    "input": "The quick brown fox jumps over the lazy dog."}).encode()
CASES = {
    "chat short (20 tokens out)": ("openai.chat_completions", SHORT, ()),
    "chat stream, 50 tokens, all events": ("openai.chat_completions", STREAM, ()),
    "embeddings 1536 (cached input)": ("openai.embeddings", EMBED, ()),
    "chat 2 KB prompt": ("openai.chat_completions", LONG, ()),
    "models list": ("openai.models", b"", ()),
    "model retrieve": ("openai.model", b"", (b"gpt-4o",)),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--planner", choices=("real", "null"), default="real",
                    help="real: llmsim's Planner with latency off (what a server does); "
                         "null: a planner that costs nothing (the handler alone)")
    args = ap.parse_args()
    planner = Planner({}, no_latency=True) if args.planner == "real" else _NullPlanner()
    ctx = SimpleNamespace(config=SimpleNamespace(models={}, generators={}), planner=planner,
                          worker_index=0)
    hs = {name: h for _, _, name, h in openai.routes(ctx)}
    for label, (name, body, params) in CASES.items():
        h, req = hs[name], _Req(body, params)
        best = float("inf")
        for _ in range(5):
            t0 = time.thread_time_ns()
            for _ in range(args.n):
                out = h(req)[2]
                if hasattr(out, "render"):      # a stream: every event, then close
                    out.render(0, out.n_events)
                    out.close()
            best = min(best, (time.thread_time_ns() - t0) / args.n)
        sys.stdout.write(f"{label:32s} {best / 1000:7.2f} us/call  (body {len(body)} B)\n")


if __name__ == "__main__":
    main()
