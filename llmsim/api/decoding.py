"""msgspec decoding failures taken apart, so each provider can word them in its own way.

`explain(exc)` turns a `msgspec.DecodeError` into a `Problem`: what went wrong (`kind`), where
(`path`, a tuple of keys and indexes from the body's root; the key `ANY_KEY` stands for a
mapping's value, whose key msgspec does not name), and the details the message carries.
Providers render it: OpenAI as `Invalid type for 'messages[0].content'`, Anthropic as
`messages.0.role: ...`, Gemini as `Invalid value at 'generation_config.max_output_tokens'`.
"""

import re
from typing import NamedTuple

import msgspec

JSON = "json"          # not JSON at all (detail: msgspec's message)
MISSING = "missing"    # detail: the missing field's name
UNKNOWN = "unknown"    # detail: the unknown field's name
TYPE = "type"          # expected / got: msgspec type names ("int", "str | array", ...)
BOUND = "bound"        # expected: "int" | "float"; op: ">=" "<=" ">" "<"; limit: the bound
VALUE = "value"        # detail: the refused value as msgspec shows it ('foo', 5)
LENGTH = "length"      # op: "<=" | ">="; limit: the length bound
OTHER = "other"        # detail: msgspec's message
ANY_KEY = "..."        # in a path: some key of a mapping

_AT = re.compile(r" - at `\$(.*)`$")
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[(\.\.\.)\]")
_FORMS = (
    (MISSING, re.compile(r"^Object missing required field `([^`]+)`$")),
    (UNKNOWN, re.compile(r"^Object contains unknown field `([^`]+)`$")),
    (TYPE, re.compile(r"^Expected `([^`]+)`, got `([^`]+)`$")),
    (BOUND, re.compile(r"^Expected `(int|float)` (>=|<=|>|<) (\S+)$")),
    (VALUE, re.compile(r"^Invalid (?:enum )?value (.+)$")),
    (LENGTH, re.compile(r"^Expected `\w+` of length (<=|>=) (\d+)$")),
)


class Problem(NamedTuple):
    kind: str
    path: tuple = ()
    detail: str = ""
    expected: str = ""
    got: str = ""
    op: str = ""
    limit: str = ""


def explain(exc):
    """The Problem behind a msgspec.DecodeError (a ValidationError or malformed JSON)."""
    msg = str(exc)
    if not isinstance(exc, msgspec.ValidationError):
        return Problem(JSON, detail=msg)
    m = _AT.search(msg)
    path = ()
    if m:
        path = tuple(name or any_key or int(index)
                     for name, index, any_key in _PATH_PART.findall(m.group(1)))
        msg = msg[:m.start()]
    for kind, form in _FORMS:
        f = form.match(msg)
        if f is None:
            continue
        if kind in (MISSING, UNKNOWN, VALUE):
            return Problem(kind, path, detail=f.group(1))
        if kind == TYPE:
            return Problem(kind, path, expected=f.group(1), got=f.group(2))
        if kind == BOUND:
            return Problem(kind, path, expected=f.group(1), op=f.group(2), limit=f.group(3))
        return Problem(kind, path, op=f.group(1), limit=f.group(2))
    return Problem(OTHER, path, detail=msg)


def value_at(body, path, missing=None):
    """The JSON value at `path` in `body`, or `missing` when it cannot be found there."""
    try:
        v = msgspec.json.decode(body)
        for key in path:
            v = v[key]
    except (msgspec.DecodeError, LookupError, TypeError):
        return missing
    return v


def number(text):
    """A bound as the APIs print it: 1 rather than 1.0."""
    try:
        f = float(text)
    except ValueError:
        return text
    return str(int(f)) if f.is_integer() else text
