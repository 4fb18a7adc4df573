"""What every Gemini answer carries: response ids, headers and a stream's framing (`alt_sse`),
compiled in llmsim.core.heads, and request-decoding failures worded as the Gemini API words
them (proto-JSON parse errors, INVALID_ARGUMENT)."""

import re

import msgspec

from llmsim.api import decoding
from llmsim.core.heads import GEMINI_JSON as JSON, GEMINI_SSE as SSE
from llmsim.core.heads import alt_sse, gemini_headers as headers, response_id
from llmsim.errors import ApiError

CHAT_KINDS = ("chat", "reasoning")
# responseMimeType values that ask for a structured answer (JSON, or one enum value)
FORMATS = ("application/json", "text/x.enum")
_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")
_NOWHERE = object()


def model_of(catalog, req, version, method, kinds=None):
    """(name, catalog entry) of the model in the request's path; 404 NOT_FOUND when the
    catalog has none by that name or (`kinds` given) of another kind."""
    name = req.params[0].decode("utf-8", "replace")
    model = catalog.get(name)
    if model is None or kinds is not None and model.kind not in kinds:
        raise model_not_found(name, version, method)
    return name, model


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


def decode(decoder, body):
    """`body` decoded by `decoder` (llmsim.api.gemini_types.Decoder), or Gemini's 400 for
    what it refused."""
    try:
        return decoder.decode(body)
    except msgspec.DecodeError as e:
        raise decode_error(e, body) from None


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

