"""What every OpenAI answer carries, made cheaply: ids, `created`, response headers (those
two compiled: llmsim.core.wire), and the mapping of request-decoding failures to OpenAI's
error messages.
"""

import re

import msgspec

from llmsim.core.stream import Delayed
from llmsim.core.wire import JSON, SSE, Clock, headers
from llmsim.errors import ApiError

__all__ = ["Clock", "Delayed", "JSON", "SSE", "decode_error", "headers"]


# ---- request decoding errors ----------------------------------------------------------------

INVALID_JSON = ("We could not parse the JSON body of your request. (HINT: This likely means "
                "you aren't using your HTTP library correctly. The OpenAI API expects a JSON "
                "payload, but what was sent was not valid JSON. If you have trouble figuring "
                "out how to fix this, please contact us through our help center at "
                "help.openai.com.)")

_TYPE_NAMES = {"int": "an integer", "float": "a number", "str": "a string", "bool": "a boolean",
               "array": "an array", "object": "an object", "null": "null"}
_AT = re.compile(r" - at `\$(.*)`$")
_EXPECTED = re.compile(r"^Expected `([^`]+)`, got `([^`]+)`$")
_BOUND = re.compile(r"^Expected `(int|float)` (>=|<=|>|<) (\S+)$")
_MISSING = re.compile(r"^Object missing required field `([^`]+)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `([^`]+)`$")
_BAD_VALUE = re.compile(r"^Invalid (?:enum )?value (.+)$")
_LENGTH = re.compile(r"^Expected `array` of length (<=|>=) (\d+)$")
_SUPPORTED = {
    "role": ("system", "assistant", "user", "function", "tool", "developer"),
    "type": ("text", "image_url", "input_audio", "refusal", "audio", "file"),
}


def _param(path):
    """msgspec's `$.messages[0].role` path as OpenAI's `messages[0].role`."""
    return path[1:] if path.startswith(".") else path


def _type_name(t):
    t = t.split(" | ")[0]
    return _TYPE_NAMES.get(t, "an object" if t.startswith(("dict", "object")) else
                           "an array" if t.startswith(("array", "list")) else f"a {t}")


def _number(s):
    f = float(s)
    return str(int(f)) if f == int(f) else s


def decode_error(exc, body):
    """The OpenAI ApiError for a msgspec decoding failure of `body`."""
    if not isinstance(exc, msgspec.ValidationError):
        return ApiError(400, INVALID_JSON)
    msg = str(exc)
    m = _AT.search(msg)
    path = _param(m.group(1)) if m else ""
    what = msg[:m.start()] if m else msg
    if m := _MISSING.match(what):
        field = f"{path}.{m.group(1)}" if path else m.group(1)
        return ApiError(400, f"Missing required parameter: '{field}'.", param=field,
                        code="missing_required_parameter")
    if m := _UNKNOWN.match(what):
        field = f"{path}.{m.group(1)}" if path else m.group(1)
        if not path:
            return ApiError(400, f"Unrecognized request argument supplied: {m.group(1)}")
        return ApiError(400, f"Unknown parameter: '{field}'.", param=field,
                        code="unknown_parameter")
    if m := _BOUND.match(what):
        kind = "integer" if m.group(1) == "int" else "decimal"
        low = m.group(2).startswith(">")
        got = _value_at(body, path)
        return ApiError(400, f"Invalid '{path}': {kind} {'below minimum' if low else 'above maximum'}"
                        f" value. Expected a value {m.group(2)} {_number(m.group(3))}, but got "
                        f"{got} instead.", param=path,
                        code=f"{kind}_{'below_min' if low else 'above_max'}_value")
    if m := _EXPECTED.match(what):
        want, got = _type_name(m.group(1)), _type_name(m.group(2))
        return ApiError(400, f"Invalid type for '{path}': expected {want}, but got {got} "
                             "instead.", param=path, code="invalid_type")
    if m := _BAD_VALUE.match(what):
        known = _SUPPORTED.get(path.rpartition(".")[2])
        hint = ""
        if known:
            hint = (" Supported values are: " + ", ".join(f"'{v}'" for v in known[:-1]) +
                    f", and '{known[-1]}'.")
        return ApiError(400, f"Invalid value: {m.group(1)}.{hint}", param=path,
                        code="invalid_value")
    if m := _LENGTH.match(what):
        long = m.group(1) == "<="
        got = _value_at(body, path, length=True)
        return ApiError(400, f"Invalid '{path}': array too {'long' if long else 'short'}. "
                             f"Expected an array with {'maximum' if long else 'minimum'} length "
                             f"{m.group(2)}, but got an array with length {got} instead.",
                        param=path, code=f"array_{'above_max' if long else 'below_min'}_length")
    return ApiError(400, f"Invalid '{path}': {what}." if path else what, param=path or None,
                    code="invalid_value")


def _value_at(body, path, length=False):
    """The JSON text (or length) of the value at `path` in the body, for error messages."""
    try:
        v = msgspec.json.decode(body)
        for key in re.findall(r"[^.\[\]]+", path):
            v = v[int(key)] if isinstance(v, list) else v[key]
        return str(len(v)) if length else msgspec.json.encode(v).decode()
    except (msgspec.DecodeError, KeyError, IndexError, ValueError, TypeError):
        return "a value out of range"
