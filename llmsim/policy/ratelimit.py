"""Rate limits per node: requests and tokens per minute, per API key (one global budget
when no keys are configured), shared by every worker through the shared-memory segment.

    rate_limits: {requests_per_minute: 60, tokens_per_minute: 40000,
                  input_tokens_per_minute: 30000, output_tokens_per_minute: 8000}

Each budget is a GCRA bucket (llmsim_rate_take in csrc/llmsim_shm.h): a full minute's worth
may be spent at once, and it refills evenly. A request costs one request; in input tokens,
its body's length / 4 (the prompt); in output tokens, the output it asks for at most
(`max_tokens`, `max_completion_tokens`, `max_output_tokens`,
`generationConfig.maxOutputTokens`); in tokens, both. Over a budget the answer is 429 in the
provider's shape with `retry-after` (Gemini: RetryInfo); OpenAI and Anthropic answers,
successful or not, carry the provider's rate-limit headers. A request that costs more than a
whole minute's budget could never be admitted: it gets a 429 with no `retry-after` and
`x-should-retry: false`, and is charged nothing. When a generated answer ends, its token
charges are corrected from the estimates to its usage (prompt and output tokens, as its
`usage` says): the output it did not use goes back.
"""

import functools
import time
from typing import Annotated, Optional

import msgspec

from llmsim import errors
from llmsim.core.shm import RATE_BUCKETS, Segment
from llmsim.errors import ApiError, ConfigError
from llmsim.policy.auth import KEY_READERS
from llmsim.policy.faults import model_of

MINUTE_NS = 60_000_000_000
_SECOND = 1_000_000_000
# The buckets are two banks. A reload that changes the rate limits gives the new workers
# the other bank, emptied, while the old workers drain on theirs with their own limits.
_BANK = RATE_BUCKETS // 2
# The budgets of one API key, in the order of its buckets (and of checking).
KINDS = ("requests", "tokens", "input_tokens", "output_tokens")
KEYS_PER_BANK = _BANK // len(KINDS)
_ALWAYS = 1 << 63   # a window no charge overflows: rate_take then always admits

PerMinute = Annotated[int, msgspec.Meta(ge=1)]


class LimitsSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    requests_per_minute: Optional[PerMinute] = None
    tokens_per_minute: Optional[PerMinute] = None
    input_tokens_per_minute: Optional[PerMinute] = None
    output_tokens_per_minute: Optional[PerMinute] = None


def compile_limits(section):
    """The LimitsSpec of a `rate_limits:` section (ConfigError naming the field)."""
    try:
        return msgspec.convert(section, LimitsSpec)
    except msgspec.ValidationError as e:
        raise ConfigError(f"config: rate_limits: {e}") from None


class _GenerationConfig(msgspec.Struct):
    maxOutputTokens: Optional[int] = None


class _Asks(msgspec.Struct):
    max_tokens: Optional[int] = None
    max_completion_tokens: Optional[int] = None
    max_output_tokens: Optional[int] = None
    generationConfig: Optional[_GenerationConfig] = None


_asks = msgspec.json.Decoder(_Asks).decode


def token_cost(body):
    """(input, output) tokens a request is counted for on admission: its prompt (body bytes
    / 4) and the output it allows."""
    prompt = (len(body) + 3) // 4
    if not body:
        return prompt, 0
    try:
        a = _asks(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return prompt, 0   # the handler answers the bad body
    out = a.max_tokens or a.max_completion_tokens or a.max_output_tokens
    if out is None and a.generationConfig is not None:
        out = a.generationConfig.maxOutputTokens
    return prompt, max(out or 0, 0)


def go_duration(ns):
    """`ns` the way OpenAI writes a reset time: 120ms, 1s, 17.5s, 6m0s."""
    if ns < _SECOND:
        return f"{ns // 1_000_000}ms"
    minutes, seconds = divmod(ns / _SECOND, 60)
    text = f"{seconds:.3f}".rstrip("0").rstrip(".")
    return f"{int(minutes)}m{text}s" if minutes else f"{text}s"


def _rfc3339(ns_from_now):
    """The wall-clock time `ns_from_now` ahead, as Anthropic writes a reset time."""
    return _rfc3339_at(int(time.time() + ns_from_now / _SECOND))


@functools.lru_cache(maxsize=8)   # answers within a second share their reset stamps
def _rfc3339_at(second):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second)).encode()


class Budget:
    """One per-minute budget of a kind of KINDS: `limit` units, `unit_ns` each."""
    __slots__ = ("kind", "name", "limit", "unit_ns", "first", "openai")

    def __init__(self, kind, limit, first):
        self.kind = kind
        self.name = kind.replace("_", " ")   # "input tokens": how messages name it
        self.limit = limit
        self.unit_ns = MINUTE_NS / limit
        self.first = first + KINDS.index(kind)   # bucket of key 0; key i: + len(KINDS) * i
        n = kind.encode()
        # OpenAI's header lines, filled with (remaining, reset) per answer; it has none for
        # input or output tokens.
        self.openai = (b"x-ratelimit-limit-%s: %d\r\n" % (n, limit)
                       + b"x-ratelimit-remaining-%s: %%d\r\nx-ratelimit-reset-%s: %%s\r\n"
                       % (n, n)) if kind in ("requests", "tokens") else b""

    def cost(self, tokens_in, tokens_out):
        """What a request of `tokens_in` prompt and `tokens_out` output tokens costs here."""
        if self.kind == "requests":
            return 1
        if self.kind == "tokens":
            return tokens_in + tokens_out
        return tokens_in if self.kind == "input_tokens" else tokens_out

    def remaining(self, backlog_ns):
        left = (MINUTE_NS - backlog_ns) * self.limit // MINUTE_NS
        return left if left > 0 else 0


class Limiter:
    """A worker's view of the node's rate-limit buckets."""

    def __init__(self, spec, api_keys, segment, bank=0):
        self.segment = segment
        self.keys = {k.encode(): i % KEYS_PER_BANK for i, k in enumerate(api_keys)}
        first = bank * _BANK
        self.budgets = [Budget(kind, limit, first) for kind, limit in zip(KINDS, (
            spec.requests_per_minute, spec.tokens_per_minute, spec.input_tokens_per_minute,
            spec.output_tokens_per_minute)) if limit]
        self.counts_tokens = any(b.kind != "requests" for b in self.budgets)

    def take(self, provider, req):
        """(key slot, [(budget, cost, backlog ns)]) after admitting `req`; ApiError 429 if a
        budget is spent or the request costs more than a whole minute of one (nothing is
        then taken from any)."""
        read = KEY_READERS.get(provider)
        slot = self.keys.get(read(req), 0) if self.keys and read else 0
        tokens_in, tokens_out = token_cost(req.body) if self.counts_tokens else (0, 0)
        costs = [b.cost(tokens_in, tokens_out) for b in self.budgets]
        for b, cost in zip(self.budgets, costs):
            if cost > b.limit:
                raise self.too_large(provider, req, slot, b, cost)
        taken = []
        for b, cost in zip(self.budgets, costs):
            bucket = b.first + len(KINDS) * slot
            wait, backlog = self.segment.rate_take(bucket, int(cost * b.unit_ns), MINUTE_NS)
            if wait:
                for t, t_cost, _ in taken:
                    self.segment.rate_refund(t.first + len(KINDS) * slot,
                                             int(t_cost * t.unit_ns))
                raise self.refusal(provider, b, cost, backlog, wait, taken)
            taken.append((b, cost, backlog))
        return slot, taken

    def settle(self, slot, taken, used_in, used_out, body):
        """`body`, after whose end each token budget holds what the answer's usage (`used_in`
        prompt and `used_out` output tokens) costs instead of the estimate taken on
        admission: the unused rest goes back (or what the estimate missed is added). A
        stream that ends early (its client gone, an injected abort) is charged the output it
        sent."""
        fixes = [(b, b.first + len(KINDS) * slot, cost) for b, cost, _ in taken
                 if b.kind != "requests"]
        segment = self.segment

        def correct(out):
            for b, bucket, cost in fixes:
                delta = b.cost(used_in, out) - cost
                if delta < 0:
                    segment.rate_refund(bucket, int(-delta * b.unit_ns))
                elif delta > 0:
                    segment.rate_take(bucket, int(delta * b.unit_ns), _ALWAYS)

        if hasattr(body, "on_close"):   # an event stream (llmsim.core.sse)
            return _on_close(body, lambda finished: correct(
                used_out if finished else min(body.tokens_sent(), used_out)))
        return _at_end(body, lambda: correct(used_out))

    def too_large(self, provider, req, slot, budget, cost):
        """The 429 of a request that no wait would admit: it costs more than `budget` holds.
        No retry-after, and `x-should-retry: false`, which the OpenAI and Anthropic SDKs obey
        instead of retrying a 429."""
        limit = budget.limit
        state = [(b, 0, self.segment.rate_backlog(b.first + len(KINDS) * slot))
                 for b in self.budgets]
        headers = b"x-should-retry: false\r\n" + headers_for(provider, state)
        model = model_of(provider, req) or "this model"
        if provider == errors.ANTHROPIC:
            return ApiError(429, f"This request would exceed the rate limit for your "
                                 f"organization of {limit:,} {budget.name} per minute. Please "
                                 f"reduce the prompt length or the maximum tokens requested.",
                            headers=headers)
        if provider == errors.GEMINI:
            metric = "output" if budget.kind == "output_tokens" else "input"
            return ApiError(429, _GEMINI_QUOTA % (metric, limit, model), headers=headers,
                            details=_quota_failure(metric, limit, model))
        unit = _OPENAI_UNITS[budget.kind]
        return ApiError(429, f"Request too large for {model} on {budget.name} per min ({unit}): "
                             f"Limit {limit}, Requested {cost}. The input or output tokens must "
                             f"be reduced in order to run successfully.",
                        type="tokens", code="rate_limit_exceeded", headers=headers)

    def refusal(self, provider, budget, cost, backlog, wait, taken):
        seconds = max(-(-wait // _SECOND), 1)
        state = taken + [(budget, cost, backlog)]
        headers = b"retry-after: %d\r\n" % seconds + headers_for(provider, state)
        used = budget.limit - budget.remaining(backlog)
        if provider == errors.ANTHROPIC:
            msg = (f"This request would exceed the rate limit for your organization of "
                   f"{budget.limit:,} {budget.name} per minute.")
            return ApiError(429, msg, headers=headers)
        if provider == errors.GEMINI:
            return ApiError(429, "Resource has been exhausted (e.g. check quota).",
                            headers=headers)
        msg = (f"Rate limit reached on {budget.name} per min ({_OPENAI_UNITS[budget.kind]}): "
               f"Limit {budget.limit}, Used {used}, Requested {cost}. Please try again in "
               f"{go_duration(wait)}.")
        return ApiError(429, msg, type="requests" if budget.kind == "requests" else "tokens",
                        code="rate_limit_exceeded", headers=headers)


_OPENAI_UNITS = {"requests": "RPM", "tokens": "TPM", "input_tokens": "ITPM",
                 "output_tokens": "OTPM"}
_GEMINI_QUOTA = ("You exceeded your current quota, please check your plan and billing details. "
                 "For more information on this error, head to: "
                 "https://ai.google.dev/gemini-api/docs/rate-limits.\n* Quota exceeded for "
                 "metric: generativelanguage.googleapis.com/generate_content_paid_tier_%s_"
                 "token_count, limit: %d, model: %s")


def _quota_failure(metric, limit, model):
    """Gemini's error `details` naming the per-minute token quota of `metric` (input or
    output), and no RetryInfo."""
    return [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{
        "quotaMetric": f"generativelanguage.googleapis.com/generate_content_paid_tier_{metric}_"
                       "token_count",
        "quotaId": f"GenerateContentPaidTier{metric.capitalize()}TokensPerModelPerMinute",
        "quotaDimensions": {"location": "global", "model": model},
        "quotaValue": str(limit)}]}]


def headers_for(provider, state):
    """The rate-limit header lines `provider` sends for [(budget, cost, backlog ns)]."""
    if provider == errors.OPENAI:
        return b"".join(b.openai % (b.remaining(backlog), go_duration(backlog).encode())
                        for b, _, backlog in state if b.openai)
    if provider == errors.ANTHROPIC:
        return b"".join(_ANTHROPIC_LINES % (family, b.limit, family, b.remaining(backlog),
                                            family, _rfc3339(backlog))
                        for family, (b, backlog) in _anthropic_families(state))
    return b""


_ANTHROPIC_LINES = (b"anthropic-ratelimit-%s-limit: %d\r\nanthropic-ratelimit-%s-remaining: "
                    b"%d\r\nanthropic-ratelimit-%s-reset: %s\r\n")


def _anthropic_families(state):
    """[(header family, (budget, backlog))]: requests; input and output tokens from their own
    budgets, else from the one token budget; tokens from the token budget, else the most
    restrictive (least remaining) of input and output, as Anthropic documents it."""
    by = {b.kind: (b, backlog) for b, _, backlog in state}
    tokens = by.get("tokens")
    families = [(b"requests", by.get("requests")),
                (b"input-tokens", by.get("input_tokens", tokens)),
                (b"output-tokens", by.get("output_tokens", tokens))]
    split = [f[1] for f in families[1:] if f[1] is not None]
    most = tokens or min(split, key=lambda bb: bb[0].remaining(bb[1]), default=None)
    families.insert(1, (b"tokens", most))
    return [(f, bb) for f, bb in families if bb is not None]


def _on_close(stream, fn):
    """`stream`, with `fn(finished)` called once it has ended (sent in full, or not)."""
    closed = stream.on_close
    stream.on_close = fn if closed is None else lambda finished: (closed(finished),
                                                                  fn(finished))
    return stream


def _at_end(body, fn):
    """`body` (bytes, or a Delayed answer: llmsim.core.connection), with `fn` called once its
    answer has ended (sent, or the client went away).

    The core's classes are known by their fields: this module is imported (through
    llmsim.api) by config loading, before the compiled core is checked."""
    if type(body) is bytes or (body.delay_ns <= 0 and body.done is None):
        fn()
        return body
    done = body.done   # a Delayed sent later: one that calls fn too
    return type(body)(body.body, body.delay_ns, fn if done is None else lambda: (done(), fn()))


def guard(provider, handler, limiter):
    """`handler` behind the node's rate limits, or `handler` itself when none are set."""
    if limiter is None or provider not in KEY_READERS:
        return handler

    def limited(req):
        slot, state = limiter.take(provider, req)
        extra = headers_for(provider, state)
        try:
            status, headers, body = handler(req)
        except ApiError as e:
            e.headers += extra
            raise
        if limiter.counts_tokens and req.tokens_out >= 0:
            body = limiter.settle(slot, state, req.tokens_in, req.tokens_out, body)
        return status, headers + extra, body

    return limited


def compile_for(config, segment, bank=0):
    """A worker's Limiter for `config` taking from bucket bank `bank`, or None when no rate
    limit is set. Without a shared segment (a server built outside `llmsim serve`) the
    buckets are this process's."""
    spec = compile_limits(config.rate_limits)
    if spec == LimitsSpec():
        return None
    return Limiter(spec, config.api_keys, segment if segment is not None else Segment(1), bank)


def bank_after_reload(bank, old, new, segment):
    """The bucket bank of the workers of config `new` replacing those of `old` (bank `bank`):
    the same one, state kept, when the limits and API keys are unchanged; else the other one,
    emptied first (every budget full at its new limit)."""
    if (compile_limits(old.rate_limits) == compile_limits(new.rate_limits)
            and old.api_keys == new.api_keys):
        return bank
    bank = 1 - bank
    segment.rate_reset(bank * _BANK, _BANK)
    return bank
