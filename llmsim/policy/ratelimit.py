"""Rate limits per node: requests and tokens per minute, per API key (one global budget
when no keys are configured), shared by every worker through the shared-memory segment.

    rate_limits: {requests_per_minute: 60, tokens_per_minute: 40000}

Each budget is a GCRA bucket (llmsim_rate_take in csrc/llmsim_shm.h): a full minute's worth
may be spent at once, and it refills evenly. A request costs one request and, in tokens, its
body's length / 4 (the prompt) plus the output it asks for at most (`max_tokens`,
`max_completion_tokens`, `max_output_tokens`, `generationConfig.maxOutputTokens`). Over a
budget the answer is 429 in the provider's shape with `retry-after` (Gemini: RetryInfo);
OpenAI and Anthropic answers, successful or not, carry the provider's rate-limit headers.
A request that costs more tokens than the whole minute's budget could never be admitted: it
gets a 429 with no `retry-after` and `x-should-retry: false`, and is charged nothing.
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

PerMinute = Annotated[int, msgspec.Meta(ge=1)]


class LimitsSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    requests_per_minute: Optional[PerMinute] = None
    tokens_per_minute: Optional[PerMinute] = None


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
    """The tokens a request is counted for: prompt (body bytes / 4) + the output it allows."""
    cost = (len(body) + 3) // 4
    if not body:
        return cost
    try:
        a = _asks(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return cost   # the handler answers the bad body
    out = a.max_tokens or a.max_completion_tokens or a.max_output_tokens
    if out is None and a.generationConfig is not None:
        out = a.generationConfig.maxOutputTokens
    return cost + max(out or 0, 0)


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
    """One per-minute budget (requests or tokens): `limit` units, `unit_ns` each."""
    __slots__ = ("name", "limit", "unit_ns", "first", "openai", "anthropic")

    def __init__(self, name, limit, first):
        self.name = name            # "requests" | "tokens"
        self.limit = limit
        self.unit_ns = MINUTE_NS / limit
        self.first = first          # bucket of key 0; key i uses first + 2 * i
        n = name.encode()
        # Header lines, filled with (remaining, reset) per answer.
        self.openai = (b"x-ratelimit-limit-%s: %d\r\n" % (n, limit)
                       + b"x-ratelimit-remaining-%s: %%d\r\nx-ratelimit-reset-%s: %%s\r\n"
                       % (n, n))
        # One token budget: Anthropic's input and output token families show it too.
        families = (n,) if name == "requests" else (n, b"input-" + n, b"output-" + n)
        self.anthropic = b"".join(
            b"anthropic-ratelimit-%s-limit: %d\r\n" % (f, limit)
            + b"anthropic-ratelimit-%s-remaining: %%(left)d\r\n"
              b"anthropic-ratelimit-%s-reset: %%(reset)s\r\n" % (f, f) for f in families)

    def remaining(self, backlog_ns):
        left = (MINUTE_NS - backlog_ns) * self.limit // MINUTE_NS
        return left if left > 0 else 0


class Limiter:
    """A worker's view of the node's rate-limit buckets."""

    def __init__(self, spec, api_keys, segment):
        self.segment = segment
        self.keys = {k.encode(): i % (RATE_BUCKETS // 2) for i, k in enumerate(api_keys)}
        self.tokens = (Budget("tokens", spec.tokens_per_minute, 1)
                       if spec.tokens_per_minute else None)
        self.budgets = [b for b in (
            Budget("requests", spec.requests_per_minute, 0) if spec.requests_per_minute else None,
            self.tokens) if b is not None]

    def take(self, provider, req):
        """[(budget, cost, backlog ns)] after admitting `req`; ApiError 429 if a budget is
        spent or the request costs more tokens than a whole minute's (nothing is then taken
        from any)."""
        read = KEY_READERS.get(provider)
        slot = self.keys.get(read(req), 0) if self.keys and read else 0
        tokens = token_cost(req.body) if self.tokens else 0
        if self.tokens and tokens > self.tokens.limit:
            raise self.too_large(provider, req, slot, tokens)
        taken = []
        for b in self.budgets:
            cost = 1 if b.name == "requests" else tokens
            bucket = b.first + 2 * slot
            wait, backlog = self.segment.rate_take(bucket, int(cost * b.unit_ns), MINUTE_NS)
            if wait:
                for t, t_cost, _ in taken:
                    self.segment.rate_refund(t.first + 2 * slot, int(t_cost * t.unit_ns))
                raise self.refusal(provider, b, cost, backlog, wait, taken)
            taken.append((b, cost, backlog))
        return taken

    def too_large(self, provider, req, slot, tokens):
        """The 429 of a request that no wait would admit: it costs more tokens than the
        budget holds. No retry-after, and `x-should-retry: false`, which the OpenAI and
        Anthropic SDKs obey instead of retrying a 429."""
        limit = self.tokens.limit
        state = [(b, 0, self.segment.rate_backlog(b.first + 2 * slot)) for b in self.budgets]
        headers = b"x-should-retry: false\r\n" + headers_for(provider, state)
        model = model_of(provider, req) or "this model"
        if provider == errors.ANTHROPIC:
            return ApiError(429, f"This request would exceed the rate limit for your "
                                 f"organization of {limit:,} tokens per minute. Please reduce "
                                 f"the prompt length or the maximum tokens requested.",
                            headers=headers)
        if provider == errors.GEMINI:
            return ApiError(429, _GEMINI_QUOTA % (limit, model), headers=headers,
                            details=_quota_failure(limit, model))
        return ApiError(429, f"Request too large for {model} on tokens per min (TPM): Limit "
                             f"{limit}, Requested {tokens}. The input or output tokens must be "
                             f"reduced in order to run successfully.",
                        type="tokens", code="rate_limit_exceeded", headers=headers)

    def refusal(self, provider, budget, cost, backlog, wait, taken):
        seconds = max(-(-wait // _SECOND), 1)
        state = taken + [(budget, cost, backlog)]
        headers = b"retry-after: %d\r\n" % seconds + headers_for(provider, state)
        used = budget.limit - budget.remaining(backlog)
        if provider == errors.ANTHROPIC:
            msg = (f"This request would exceed the rate limit for your organization of "
                   f"{budget.limit} {budget.name} per minute.")
            return ApiError(429, msg, headers=headers)
        if provider == errors.GEMINI:
            return ApiError(429, "Resource has been exhausted (e.g. check quota).",
                            headers=headers)
        unit = "RPM" if budget.name == "requests" else "TPM"
        msg = (f"Rate limit reached on {budget.name} per min ({unit}): Limit {budget.limit}, "
               f"Used {used}, Requested {cost}. Please try again in {go_duration(wait)}.")
        return ApiError(429, msg, type=budget.name, code="rate_limit_exceeded", headers=headers)


_GEMINI_QUOTA = ("You exceeded your current quota, please check your plan and billing details. "
                 "For more information on this error, head to: "
                 "https://ai.google.dev/gemini-api/docs/rate-limits.\n* Quota exceeded for "
                 "metric: generativelanguage.googleapis.com/generate_content_paid_tier_input_"
                 "token_count, limit: %d, model: %s")


def _quota_failure(limit, model):
    """Gemini's error `details` naming the per-minute token quota (and no RetryInfo)."""
    return [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{
        "quotaMetric": "generativelanguage.googleapis.com/generate_content_paid_tier_input_"
                       "token_count",
        "quotaId": "GenerateContentPaidTierInputTokensPerModelPerMinute",
        "quotaDimensions": {"location": "global", "model": model},
        "quotaValue": str(limit)}]}]


def headers_for(provider, state):
    """The rate-limit header lines `provider` sends for [(budget, cost, backlog ns)]."""
    if provider == errors.OPENAI:
        return b"".join(b.openai % (b.remaining(backlog), go_duration(backlog).encode())
                        for b, _, backlog in state)
    if provider == errors.ANTHROPIC:
        return b"".join(b.anthropic % {b"left": b.remaining(backlog),
                                       b"reset": _rfc3339(backlog)}
                        for b, _, backlog in state)
    return b""


def guard(provider, handler, limiter):
    """`handler` behind the node's rate limits, or `handler` itself when none are set."""
    if limiter is None or provider not in KEY_READERS:
        return handler

    def limited(req):
        state = limiter.take(provider, req)
        extra = headers_for(provider, state)
        try:
            status, headers, body = handler(req)
        except ApiError as e:
            e.headers += extra
            raise
        return status, headers + extra, body

    return limited


def compile_for(config, segment):
    """A worker's Limiter for `config`, or None when no rate limit is set. Without a
    shared segment (a server built outside `llmsim serve`) the buckets are this process's."""
    spec = compile_limits(config.rate_limits)
    if spec.requests_per_minute is None and spec.tokens_per_minute is None:
        return None
    return Limiter(spec, config.api_keys, segment if segment is not None else Segment(1))
