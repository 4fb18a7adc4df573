"""What every generating endpoint does around its plan, whatever the provider: plan and book
the request on the load model, know when a non-streamed answer is complete, and free the
slot early when an answer ends before the plan does.
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


def settle(env, req, p, sent):
    """An answer of `sent` tokens ends before the plan does: free its slot when it ends."""
    if sent < p.n_tokens:
        env.planner.release(p, req.received_ns + finish_ns(p, sent))


def releaser(planner, p):
    """The on_close hook of a stream: a cancelled stream frees its slot at once."""
    return lambda finished: finished or planner.release(p, time.monotonic_ns())


def lane_dues(p, items, start=0):
    """The `due` array of a one-lane llmsim.core.sse.TokenStream built from `items`
    (Run or None, head, tail): token k of the runs is plan token start + k, and a literal item
    (one step of its own) goes out with the token after it, or with the last one."""
    total = sum(run.count for run, _, _ in items if run is not None)
    tokens = p.due[start:start + total]
    if len(tokens) < total:
        tokens.extend(due(p, c) for c in range(start + len(tokens), start + total))
    if not total:
        tokens = array("q", [due(p, start)])
    if all(run is not None for run, _, _ in items):
        return tokens
    out, k = array("q"), 0
    for run, _, _ in items:
        if run is None:
            out.append(tokens[min(k, len(tokens) - 1)])
        else:
            out.extend(tokens[k:k + run.count])
            k += run.count
    return out
