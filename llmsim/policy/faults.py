"""Injected faults: errors, dropped connections and streams cut short, by probability.

    faults:
      - {rate: 0.05, kind: error, status: 529, retry_after: 2, provider: anthropic}
      - {rate: 0.01, kind: disconnect, route: openai.chat_completions}
      - {rate: 0.1, kind: stream_abort, after: 5, model: gpt-4o}

Each rule has a probability `rate` (0..1) and optional filters `provider`, `route` (a route
name such as `gemini.generate_content`) and `model` (each a name or a list of names). The
first rule whose filters match and whose draw falls under its rate fires. Draw n of rule j is
Philox draw n of the key (seed, rule j): n counts the requests drawn for on the whole node
(shared memory), so under a `seed` the same sequence of requests meets the same faults.

The header `x-llmsim-fault` forces a fault on one request (rules are then not drawn):
`error=529`, `error=429, retry_after=3`, `disconnect`, `stream_abort=4`, or `off`.
"""

import os
from typing import Literal, Optional, Union

import msgspec

from llmsim import errors
from llmsim.core import rng
from llmsim.core.shm import Segment
from llmsim.core.sse import TokenStream
from llmsim.errors import ApiError, ConfigError

FAULT_HEADER = b"x-llmsim-fault"
_DOMAIN = 0x6661756C  # "faul": fault draws never share a key with plans
_RETRYABLE = (429, 503, 529)

# status -> ((OpenAI type, code, message), Anthropic message, Gemini message). Error types
# and Gemini status names come from llmsim.errors. On OpenAI and Gemini, which have no 529,
# an overload is the provider's own 503.
_DEFAULTS = {
    400: (("invalid_request_error", None, "We could not parse the JSON body of your request."),
          "Invalid request.", "Request contains an invalid argument."),
    401: (("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
          "invalid x-api-key", "Request had invalid authentication credentials."),
    403: (("permission_error", None, "You are not allowed to sample from this model."),
          "Your API key does not have permission to use the specified resource.",
          "The caller does not have permission."),
    404: (("invalid_request_error", "model_not_found",
           "The model does not exist or you do not have access to it."),
          "Not found.", "Requested entity was not found."),
    408: (("timeout", None, "Request timed out."), "Request timed out.",
          "Deadline expired before operation could complete."),
    413: (("invalid_request_error", None, "Request too large."),
          "Request exceeds the maximum allowed number of bytes.",
          "Request payload size exceeds the limit."),
    429: (("requests", "rate_limit_exceeded", "Rate limit reached for requests."),
          "Number of requests has exceeded your rate limit.",
          "Resource has been exhausted (e.g. check quota)."),
    500: (("server_error", None, "The server had an error while processing your request."),
          "Internal server error.", "An internal error has occurred."),
    502: (("server_error", None, "Bad gateway."), "Bad gateway.", "Bad gateway."),
    503: (("server_error", None, "The server is overloaded or not ready yet."),
          "Service unavailable.", "The service is currently unavailable."),
    504: (("server_error", None, "Gateway timeout."), "Request timed out.",
          "Deadline expired before operation could complete."),
    529: (("server_error", None, "The engine is currently overloaded, please try again later."),
          "Overloaded", "The model is overloaded. Please try again later."),
}
STATUSES = tuple(_DEFAULTS)
# What Anthropic sends when a stream fails after its 200 head.
_ANTHROPIC_STREAM_ERROR = (b'event: error\ndata: {"type":"error","error":{"type":'
                           b'"overloaded_error","message":"Overloaded"}}\n\n')

Names = Union[str, list[str], None]


class FaultSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    rate: float
    kind: Literal["error", "disconnect", "stream_abort"] = "error"
    status: Optional[int] = None
    message: Optional[str] = None
    retry_after: Optional[int] = None
    after: Optional[int] = None
    provider: Names = None
    route: Names = None
    model: Names = None


class Fault:
    """One fault to inject: `kind` with its status, message, retry_after or `after`."""
    __slots__ = ("kind", "status", "message", "retry_after", "after")

    def __init__(self, kind, status=None, message=None, retry_after=None, after=None):
        self.kind = kind
        self.status = status
        self.message = message
        self.retry_after = retry_after
        self.after = after


def _names(value, where):
    if value is None:
        return None
    names = [value] if isinstance(value, str) else value
    if not names:
        raise ConfigError(f"config: {where}: expected a name or a non-empty list of names")
    return frozenset(names)


def _check(kind, status, retry_after, after, where):
    """ConfigError naming the field when a fault's settings do not fit together."""
    if kind == "error":
        if status is None:
            raise ConfigError(f"config: {where}.status: required for kind 'error'")
        if status not in _DEFAULTS:
            raise ConfigError(f"config: {where}.status: expected one of "
                              f"{', '.join(map(str, STATUSES))}, got {status}")
    elif status is not None:
        raise ConfigError(f"config: {where}.status: only for kind 'error'")
    if retry_after is not None:
        if status not in _RETRYABLE:
            raise ConfigError(f"config: {where}.retry_after: only for status 429, 503 or 529")
        if retry_after < 0:
            raise ConfigError(f"config: {where}.retry_after: expected seconds >= 0, "
                              f"got {retry_after}")
    if kind == "stream_abort":
        if after is None or after < 0:
            raise ConfigError(f"config: {where}.after: kind 'stream_abort' needs the number "
                              f"of events (>= 0) sent before the stream stops")
    elif after is not None:
        raise ConfigError(f"config: {where}.after: only for kind 'stream_abort'")


class Rule:
    __slots__ = ("fault", "rate", "providers", "routes", "models")

    def __init__(self, spec, where):
        if not 0.0 <= spec.rate <= 1.0:
            raise ConfigError(f"config: {where}.rate: expected a probability in 0..1, "
                              f"got {spec.rate}")
        _check(spec.kind, spec.status, spec.retry_after, spec.after, where)
        self.fault = Fault(spec.kind, spec.status, spec.message, spec.retry_after, spec.after)
        self.rate = spec.rate
        self.providers = _names(spec.provider, f"{where}.provider")
        self.routes = _names(spec.route, f"{where}.route")
        self.models = _names(spec.model, f"{where}.model")


def compile_rules(specs):
    """The Rules of a `faults:` section (ConfigError naming the field when one is bad)."""
    try:
        parsed = msgspec.convert(specs, list[FaultSpec])
    except msgspec.ValidationError as e:
        raise ConfigError(f"config: faults: {e}") from None
    return [Rule(s, f"faults[{i}]") for i, s in enumerate(parsed)]


def parse_header(value):
    """The Fault an `x-llmsim-fault` value forces, or None for `off` (ApiError 400 if bad)."""
    text = value.decode("latin-1").strip()
    if text == "off":
        return None
    fields = {}
    for part in text.split(","):
        key, sep, val = (x.strip() for x in part.partition("="))
        if key in ("error", "retry_after", "stream_abort") and sep and val.isdigit():
            fields[key] = int(val)
        elif key == "disconnect" and not sep:
            fields[key] = True
        else:
            raise ApiError(400, f"x-llmsim-fault: bad setting {part.strip()!r} (use error=STATUS"
                                f"[, retry_after=S], disconnect, stream_abort=N or off)")
    kinds = [k for k in ("error", "disconnect", "stream_abort") if k in fields]
    if len(kinds) != 1:
        raise ApiError(400, "x-llmsim-fault: give exactly one of error, disconnect, "
                            "stream_abort, off")
    kind = kinds[0]
    status = fields.get("error")
    try:
        _check(kind, status, fields.get("retry_after"), fields.get("stream_abort"),
               "x-llmsim-fault")
    except ConfigError as e:
        raise ApiError(400, str(e).removeprefix("config: ")) from None
    return Fault(kind, status, None, fields.get("retry_after"), fields.get("stream_abort"))


def error_for(provider, fault):
    """The ApiError of an `error` fault, in `provider`'s terms."""
    status = fault.status
    (o_type, o_code, o_msg), a_msg, g_msg = _DEFAULTS[status]
    headers = b""
    details = None
    if fault.retry_after is not None:
        headers = b"retry-after: %d\r\n" % fault.retry_after
        if provider == errors.GEMINI:
            details = errors.retry_info(fault.retry_after)
    if provider == errors.ANTHROPIC:
        return ApiError(status, fault.message or a_msg, headers=headers)
    if status == 529:
        status = 503
    if provider == errors.GEMINI:
        return ApiError(status, fault.message or g_msg, headers=headers, details=details)
    return ApiError(status, fault.message or o_msg, type=o_type, code=o_code, headers=headers)


class _Cut:
    """An event stream stopped after `after` events (never after its last one). With
    `tail` the stream ends with those bytes (Anthropic's in-stream error event); without,
    the connection drops where the next event was due (llmsim.core.stream honours `drops`)."""

    def __init__(self, inner, after, tail):
        self.inner = inner
        self.keep = min(after, inner.n_events - 1)
        self.n_events = self.keep + 1
        self.tail = tail
        self.drops = tail is None

    def due_ns(self, i):
        return self.inner.due_ns(i)

    def render(self, start, stop):
        data = self.inner.render(start, min(stop, self.keep)) if start < self.keep else b""
        if stop > self.keep and self.tail:
            data += self.tail
        return data

    def close(self):
        self.inner.close()


class _Model(msgspec.Struct):
    model: Optional[str] = None


_model_of_body = msgspec.json.Decoder(_Model).decode


def model_of(provider, req):
    """The model a request names (Gemini: in its path), or None."""
    if provider == errors.GEMINI:
        return req.params[0].decode("latin-1") if req.params else None
    try:
        return _model_of_body(req.body).model
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


class Faults:
    """A worker's fault rules, drawing from the node-wide sequence in `segment`."""

    def __init__(self, rules, seed, segment):
        self.rules = rules
        self.segment = segment
        base = rng.request_key(seed, _DOMAIN) if seed is not None else int.from_bytes(
            os.urandom(8), "little")
        self.keys = [rng.subkey(base, j) for j in range(len(rules))]

    def draw(self, provider, route, req):
        """The Fault the rules give this request, or None."""
        model = None
        n = None
        for rule, key in zip(self.rules, self.keys):
            if ((rule.providers is not None and provider not in rule.providers)
                    or (rule.routes is not None and route not in rule.routes)):
                continue
            if rule.models is not None:
                model = model or model_of(provider, req)
                if model not in rule.models:
                    continue
            if n is None:
                n = self.segment.next_fault_draw()
            if rng.u64(key, n) < rule.rate * 18446744073709551616.0:
                return rule.fault
        return None


def guard(provider, route, handler, faults):
    """`handler` with faults injected, or `handler` itself when there is no `faults:`
    section (`faults: []` turns on the `x-llmsim-fault` header alone)."""
    if faults is None or provider not in (errors.OPENAI, errors.ANTHROPIC, errors.GEMINI):
        return handler

    def faulty(req):
        forced = req.headers.get(FAULT_HEADER)
        fault = parse_header(forced) if forced is not None else faults.draw(provider, route, req)
        if fault is None:
            return handler(req)
        if fault.kind == "error":
            raise error_for(provider, fault)
        if fault.kind == "disconnect":
            raise errors.Disconnect()
        status, headers, body = handler(req)
        if isinstance(body, TokenStream):
            body = _Cut(body, fault.after,
                        _ANTHROPIC_STREAM_ERROR if provider == errors.ANTHROPIC else None)
        return status, headers, body

    return faulty


def compile_for(config, segment):
    """A worker's Faults for `config`, or None when it has no `faults:` section. Without a
    shared segment (a server built outside `llmsim serve`) draws are numbered per process."""
    if config.faults is None:
        return None
    return Faults(compile_rules(config.faults), config.seed,
                  segment if segment is not None else Segment(1))
