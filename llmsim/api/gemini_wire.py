"""What every Gemini answer carries: response ids, headers, and request-decoding failures
worded as the Gemini API words them (proto-JSON parse errors, INVALID_ARGUMENT)."""

import re

import msgspec

from llmsim.api import decoding
from llmsim.core.ids import alnum
from llmsim.core.render import Template
from llmsim.errors import ApiError

JSON = b"application/json; charset=UTF-8"
SSE = b"text/event-stream"
_HEADERS = Template(b"content-type: {{ctype:raw}}\r\nvary: Origin, X-Origin, Referer\r\n"
                    b"server-timing: gfet4t7; dur={{ms:int}}\r\n")
_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")
_NOWHERE = object()


def response_id():
    return alnum(23)


def headers(processing_ns, ctype=JSON):
    """The header lines of a Gemini answer (the core adds date, length, connection)."""
    return _HEADERS.render((ctype, processing_ns // 1_000_000))


def model_not_found(name, version, method):
    return ApiError(404, f"models/{name} is not found for API version {version}, or is not "
                         f"supported for {method}. Call ListModels to see the list of available "
                         "models and their supported methods.", code="NOT_FOUND")


def invalid(message):
    return ApiError(400, message, code="INVALID_ARGUMENT")


def snake(name):
    return _SNAKE.sub("_", name).lower()


def field_path(path):
    """msgspec's path as Gemini names it: generation_config.stop_sequences[0]."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (("." if out else "") + snake(p))
    return out


_PROTO_TYPES = {"int": "TYPE_INT32", "float": "TYPE_FLOAT", "str": "TYPE_STRING",
                "bool": "TYPE_BOOL"}


def decode_error(exc, body):
    """The Gemini ApiError (400 INVALID_ARGUMENT) for a msgspec decoding failure of `body`."""
    p = decoding.explain(exc)
    where = field_path(p.path)
    if p.kind == decoding.JSON:
        return invalid("Invalid JSON payload received. Unexpected token.")
    if p.kind == decoding.UNKNOWN:
        at = f" at '{where}'" if where else ""
        return invalid(f'Invalid JSON payload received. Unknown name "{p.detail}"{at}: '
                       "Cannot find field.")
    if p.kind == decoding.MISSING:
        return invalid(f"* {where + '.' if where else ''}{snake(p.detail)}: "
                       f"{snake(p.detail)} is not specified")
    if p.kind == decoding.TYPE:
        want = p.expected.split(" | ")[0]
        proto = _PROTO_TYPES.get(want)
        if proto is None:
            return invalid(f"Invalid JSON payload received. Expected {want} at '{where}'.")
        v = decoding.value_at(body, p.path, _NOWHERE)
        shown = "a value" if v is _NOWHERE else msgspec.json.encode(v).decode()
        return invalid(f"Invalid value at '{where}' ({proto}), {shown}")
    if p.kind == decoding.VALUE:
        return invalid(f"Invalid value at '{where}' (TYPE_ENUM), {p.detail}")
    return invalid(f"Invalid JSON payload received at '{where}': {p.detail}")

