"""Every exception llmsim raises on purpose, and how a client error becomes provider JSON.

A client-caused problem is an `ApiError`: the HTTP status plus the fields each provider's
error body carries. `render(provider, err)` gives the body in that provider's own shape, so
SDK error classes and retry logic behave as against the real API.
"""

import msgspec

OPENAI = "openai"
ANTHROPIC = "anthropic"
GEMINI = "gemini"

# Default error `type` (OpenAI, Anthropic) and `status` (Gemini) per HTTP status.
_OPENAI_TYPES = {
    400: "invalid_request_error", 401: "invalid_request_error", 403: "permission_error",
    404: "invalid_request_error", 405: "invalid_request_error", 408: "timeout",
    409: "conflict_error", 411: "invalid_request_error", 413: "invalid_request_error",
    415: "invalid_request_error", 422: "invalid_request_error", 429: "rate_limit_exceeded",
    431: "invalid_request_error", 500: "server_error", 502: "server_error", 503: "server_error",
    504: "server_error", 505: "invalid_request_error",
}
_ANTHROPIC_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
    404: "not_found_error", 408: "timeout_error", 413: "request_too_large",
    429: "rate_limit_error", 500: "api_error", 504: "timeout_error", 529: "overloaded_error",
}
_ANTHROPIC_KINDS = frozenset(_ANTHROPIC_TYPES.values()) | {"billing_error", "timeout_error"}
_GEMINI_STATUS = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    405: "INVALID_ARGUMENT", 408: "DEADLINE_EXCEEDED", 409: "ABORTED", 411: "INVALID_ARGUMENT",
    413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 431: "INVALID_ARGUMENT",
    500: "INTERNAL", 502: "UNAVAILABLE", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
    505: "INVALID_ARGUMENT",
}

# google.rpc.Code names: an ApiError `code` that is one of these is Gemini's `status` as is
# (other codes, such as OpenAI's, fall back to the status derived from the HTTP status).
_RPC_CODES = frozenset((
    "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
    "UNAUTHENTICATED"))


class LlmsimError(Exception):
    """Base of every llmsim exception."""


class ConfigError(LlmsimError):
    """The configuration is invalid; the message names the field."""


class CoreUnavailable(LlmsimError):
    """The compiled core cannot be imported: llmsim refuses to serve without it."""


class Disconnect(LlmsimError):
    """An injected fault: the connection closes with no answer (llmsim.policy.faults)."""


class ApiError(LlmsimError):
    """A client-caused problem answered with `status` and a provider-shaped JSON body.

    `type` and `code` default from the status; `param` names the offending field (OpenAI);
    `headers` are extra header lines (each ending in CRLF) such as retry-after.
    """

    def __init__(self, status, message, *, type=None, code=None, param=None, headers=b"",
                 details=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers
        self.details = details  # Gemini `details` list (e.g. RetryInfo)


def id_headers(provider, request_id):
    """The request-id header lines `provider` puts on every answer (errors included)."""
    if provider == OPENAI:
        return (b"x-request-id: %s\r\nopenai-processing-ms: 0\r\nopenai-version: 2020-10-01\r\n"
                % request_id.encode())
    if provider == ANTHROPIC:
        return b"request-id: %s\r\n" % request_id.encode()
    return b""


def render(provider, err, request_id=None):
    """The error body of `err` in `provider`'s shape, as bytes."""
    if provider == ANTHROPIC:
        doc = {"type": "error",
               "error": {"type": err.type if err.type in _ANTHROPIC_KINDS
                         else _ANTHROPIC_TYPES.get(err.status, "api_error"),
                         "message": err.message}}
        if request_id:
            doc["request_id"] = request_id
    elif provider == GEMINI:
        status = err.code if err.code in _RPC_CODES else _GEMINI_STATUS.get(err.status, "UNKNOWN")
        inner = {"code": err.status, "message": err.message, "status": status}
        details = err.details
        if not details and err.status == 429:
            details = retry_info(_retry_after(err.headers))
        if details:
            inner["details"] = details
        doc = {"error": inner}
    else:
        doc = {"error": {"message": err.message,
                         "type": err.type or _OPENAI_TYPES.get(err.status, "invalid_request_error"),
                         "param": err.param, "code": err.code}}
    return msgspec.json.encode(doc)


def retry_info(seconds):
    """Gemini's error `details` telling a client to retry after `seconds`."""
    return [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{seconds}s"}]


def _retry_after(headers):
    """Whole seconds of a retry-after header line in `headers` (1 when there is none)."""
    for line in headers.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"retry-after" and value.strip().isdigit():
            return int(value)
    return 1
