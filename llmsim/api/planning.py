"""What every generating endpoint does around its plan, whatever the provider: plan and book
the request on the load model, know when a non-streamed answer is complete, free the slot
early when an answer ends before the plan does, and say what the answer uses.
"""

import time
from array import array

from llmsim.api.openai_env import due

LATENCY_HEADER = b"x-llmsim-latency"


def plan(env, req, model, prompt_tokens, max_tokens, seed=None):
    """The request's plan (key: `seed`, else the body under a global seed), admitted on its
    model's simulated server (ApiError 429 when the queue is full)."""
    planner = env.planner
    p = planner.plan(model, prompt_tokens, max_tokens, planner.request_key(seed, req.body),
                     req.headers.get(LATENCY_HEADER))
    planner.admit(p, req.received_ns)
    return p


def finish_ns(p, sent):
    """When an answer of `sent` tokens is complete (its last token is due)."""
    return due(p, sent - 1) if sent else p.ttft_ns


def settle(env, req, p, sent, used_in, used_out):
    """The answer is `sent` tokens long (its longest choice) and its usage is `used_in` prompt
    and `used_out` output tokens (all choices, reasoning included), which the rate limits
    charge: when it ends before the plan does, free its slot when it ends."""
    req.tokens_in = used_in
    req.tokens_out = used_out
    if sent < p.n_tokens:
        env.planner.release(p, req.received_ns + finish_ns(p, sent))


def releaser(planner, p):
    """The on_close hook of a stream: a cancelled stream frees its slot at once."""
    return lambda finished: finished or planner.release(p, time.monotonic_ns())


def dues_from(p, start):
    """The `due` array of a TokenStream whose token 0 is plan token `start` (the stream
    continues past its end at the plan's mean gap, as openai_env.due does)."""
    if start == 0:
        return p.due
    if start < len(p.due):
        return p.due[start:]
    return array("q", [due(p, start)])
