"""What every generating endpoint does before it renders, whatever the provider: the
request's determinism key, its plan booked on the load model, when a non-streamed answer is
due, and the hook that frees the plan's slot when a stream ends.
"""

import time

from llmsim.api.openai_env import due

LATENCY_HEADER = b"x-llmsim-latency"


def request_key(env, body, seed=None):
    """The request's key: its seed, else `generators.seed` with the body (Env.key), else the
    global seed with the body (Planner.request_key), else None (fresh randomness)."""
    key = env.key(seed, body)
    return key if key is not None else env.planner.request_key(seed, body)


def plan(env, req, model, prompt_tokens, max_tokens, key):
    """The request's plan, admitted on its model's simulated server (ApiError 429 when the
    queue is full)."""
    p = env.planner.plan(model, prompt_tokens, max_tokens, key,
                         req.headers.get(LATENCY_HEADER))
    env.planner.admit(p, req.received_ns)
    return p


def finish_ns(p, sent):
    """When an answer of `sent` tokens is complete (its last token is due)."""
    return due(p, sent - 1) if sent else p.ttft_ns


def clock(p):
    """`due(token index)` of a plan, for event streams."""
    return lambda i: due(p, i)


def releaser(planner, p):
    """The on-close hook of a stream: free the plan's slot at the time the stream ends."""
    return lambda: planner.release(p, time.monotonic_ns())
