"""What every OpenAI answer carries, made cheaply: ids, `created`, response headers (those
two compiled: llmsim.core.wire), and the mapping of request-decoding failures to OpenAI's
error messages.
"""

import msgspec

from llmsim.api import decoding
from llmsim.core.stream import Delayed
from llmsim.core.wire import JSON, SSE, Clock, headers
from llmsim.errors import ApiError

__all__ = ["Clock", "Delayed", "JSON", "SSE", "decode", "decode_error", "headers"]


# ---- request decoding errors ----------------------------------------------------------------

INVALID_JSON = ("We could not parse the JSON body of your request. (HINT: This likely means "
                "you aren't using your HTTP library correctly. The OpenAI API expects a JSON "
                "payload, but what was sent was not valid JSON. If you have trouble figuring "
                "out how to fix this, please contact us through our help center at "
                "help.openai.com.)")
_NOWHERE = object()

_TYPE_NAMES = {"int": "an integer", "float": "a number", "str": "a string", "bool": "a boolean",
               "array": "an array", "object": "an object", "null": "null"}
_SUPPORTED = {
    "role": ("system", "assistant", "user", "function", "tool", "developer"),
    "type": ("text", "image_url", "input_audio", "refusal", "audio", "file"),
}


def _param(path):
    """A Problem's path as OpenAI names it: `messages[0].role`, `logit_bias[...]`."""
    out = ""
    for key in path:
        if type(key) is int or key == decoding.ANY_KEY:
            out += f"[{key}]"
        else:
            out += f".{key}" if out else key
    return out


def _type_name(t):
    t = t.split(" | ")[0]
    return _TYPE_NAMES.get(t, "an object" if t.startswith(("dict", "object")) else
                           "an array" if t.startswith(("array", "list")) else f"a {t}")


def decode(decoder, body):
    """`body` decoded by `decoder` (a msgspec Decoder), or OpenAI's 400 for what it refused."""
    try:
        return decoder.decode(body)
    except msgspec.DecodeError as e:
        raise decode_error(e, body) from None


def decode_error(exc, body):
    """The OpenAI ApiError for a msgspec decoding failure of `body`."""
    p = decoding.explain(exc)
    kind = p.kind
    if kind == decoding.JSON:
        return ApiError(400, INVALID_JSON)
    path = _param(p.path)
    if kind == decoding.MISSING or kind == decoding.UNKNOWN:
        field = f"{path}.{p.detail}" if path else p.detail
        if kind == decoding.MISSING:
            return ApiError(400, f"Missing required parameter: '{field}'.", param=field,
                            code="missing_required_parameter")
        if not path:
            return ApiError(400, f"Unrecognized request argument supplied: {p.detail}")
        return ApiError(400, f"Unknown parameter: '{field}'.", param=field,
                        code="unknown_parameter")
    if kind == decoding.BOUND:
        what = "integer" if p.expected == "int" else "decimal"
        low = p.op.startswith(">")
        got = _value_text(body, p.path)
        return ApiError(400, f"Invalid '{path}': {what} {'below minimum' if low else 'above maximum'}"
                        f" value. Expected a value {p.op} {decoding.number(p.limit)}, but got "
                        f"{got} instead.", param=path,
                        code=f"{what}_{'below_min' if low else 'above_max'}_value")
    if kind == decoding.TYPE:
        want, got = _type_name(p.expected), _type_name(p.got)
        return ApiError(400, f"Invalid type for '{path}': expected {want}, but got {got} "
                             "instead.", param=path, code="invalid_type")
    if kind == decoding.VALUE:
        known = _SUPPORTED.get(path.rpartition(".")[2])
        hint = ""
        if known:
            hint = (" Supported values are: " + ", ".join(f"'{v}'" for v in known[:-1]) +
                    f", and '{known[-1]}'.")
        return ApiError(400, f"Invalid value: {p.detail}.{hint}", param=path,
                        code="invalid_value")
    if kind == decoding.LENGTH:
        long = p.op == "<="
        got = _value_text(body, p.path, length=True)
        return ApiError(400, f"Invalid '{path}': array too {'long' if long else 'short'}. "
                             f"Expected an array with {'maximum' if long else 'minimum'} length "
                             f"{p.limit}, but got an array with length {got} instead.",
                        param=path, code=f"array_{'above_max' if long else 'below_min'}_length")
    return ApiError(400, f"Invalid '{path}': {p.detail}." if path else p.detail,
                    param=path or None, code="invalid_value")


def _value_text(body, path, length=False):
    """The JSON text (or length) of the value at `path` in the body, for error messages (a
    mapping's value stands for its mapping, as OpenAI shows it)."""
    v = decoding.value_at(body, [key for key in path if key != decoding.ANY_KEY], _NOWHERE)
    if v is _NOWHERE or length and not isinstance(v, (list, dict, str)):
        return "a value out of range"
    return str(len(v)) if length else msgspec.json.encode(v).decode()
