"""API-key checks in each provider's own way, compared in constant time.

With no `api_keys` configured every request is accepted and no check runs at all.
Keys are never logged or echoed back.
"""

from urllib.parse import parse_qs

from llmsim.errors import ApiError


def _openai_key(req):
    value = req.headers.get(b"authorization", b"")
    if value[:7].lower() == b"bearer ":
        return value[7:].strip()
    return value or None


def _anthropic_key(req):
    return req.headers.get(b"x-api-key") or _openai_key(req)


def _gemini_key(req):
    key = req.headers.get(b"x-goog-api-key")
    if key is None and req.query:
        found = parse_qs(req.query.decode("latin-1")).get("key")
        key = found[0].encode("latin-1") if found else None
    return key


_MISSING = {
    "openai": lambda: ApiError(
        401, "You didn't provide an API key. You need to provide your API key in an "
        "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        type="invalid_request_error"),
    "anthropic": lambda: ApiError(401, "x-api-key header is required",
                                  type="authentication_error"),
    "gemini": lambda: ApiError(
        403, "Method doesn't allow unregistered callers (callers without established "
        "identity). Please use API Key or other form of API consumer identity to call this API.",
        code="PERMISSION_DENIED"),
}
_INVALID = {
    "openai": lambda: ApiError(401, "Incorrect API key provided.", type="invalid_request_error",
                               code="invalid_api_key"),
    "anthropic": lambda: ApiError(401, "invalid x-api-key", type="authentication_error"),
    "gemini": lambda: ApiError(400, "API key not valid. Please pass a valid API key.",
                               code="INVALID_ARGUMENT"),
}
KEY_READERS = {"openai": _openai_key, "anthropic": _anthropic_key, "gemini": _gemini_key}


def guard(provider, handler, api_keys):
    """`handler` behind the key check of `provider`, or `handler` itself when no keys are set."""
    if not api_keys or provider not in KEY_READERS:
        return handler
    import hmac  # only with keys configured: it loads OpenSSL's libcrypto (~3 ms of start-up)
    keys = [k.encode() for k in api_keys]
    read = KEY_READERS[provider]
    missing, invalid = _MISSING[provider], _INVALID[provider]

    def checked(req):
        key = read(req)
        if not key:
            raise missing()
        ok = False
        for k in keys:  # no early exit: the time taken does not depend on which key matched
            ok |= hmac.compare_digest(key, k)
        if not ok:
            raise invalid()
        return handler(req)

    return checked
