"""What every Anthropic answer carries: ids and the `request-id` header (the core adds it to
errors; message ids and the header lines are compiled, llmsim.core.heads), and
request-decoding failures worded as the Messages API words them.
"""

from llmsim.api import decoding
from llmsim.api.anthropic_types import BLOCK_TAGS
from llmsim.core.heads import ANTHROPIC_JSON as JSON, ANTHROPIC_SSE as SSE
from llmsim.core.heads import anthropic_headers as headers, message_id
from llmsim.core.ids import alnum
from llmsim.errors import ApiError


def tool_use_id():
    return b"toolu_01" + alnum(22)


def random_text(n):
    """n random base-62 characters (thinking signatures)."""
    return alnum(n)


def model_not_found(name):
    return ApiError(404, f"model: {name}", type="not_found_error")


# ---- request decoding errors --------------------------------------------------------------

INVALID_JSON = "There was an issue with the JSON body of your request: it is not valid JSON."
_TYPES = {"int": "a valid integer", "float": "a valid number", "str": "a valid string",
          "bool": "a valid boolean", "array": "a valid list", "object": "a valid dictionary",
          "null": "None"}
_OPS = {">=": "greater than or equal to", "<=": "less than or equal to", ">": "greater than",
        "<": "less than"}
_ENUMS = {"role": "'user' or 'assistant'", "service_tier": "'auto' or 'standard_only'",
          "display": "'summarized' or 'omitted'"}
_TAGS = {"content": BLOCK_TAGS, "tool_choice": ("auto", "any", "tool", "none"),
         "thinking": ("enabled", "disabled", "adaptive"), "format": ("json_schema",)}


def dotted(path):
    return ".".join(str(p) for p in path)


def decode_error(exc):
    """The Anthropic ApiError (400 invalid_request_error) for a msgspec decoding failure."""
    p = decoding.explain(exc)
    where = dotted(p.path)
    if p.kind == decoding.JSON:
        return ApiError(400, INVALID_JSON)
    if p.kind == decoding.MISSING:
        return ApiError(400, f"{dotted(p.path + (p.detail,))}: Field required")
    if p.kind == decoding.UNKNOWN:
        return ApiError(400, f"{dotted(p.path + (p.detail,))}: Extra inputs are not permitted")
    if p.kind == decoding.TYPE:
        want = p.expected.split(" | ")[0]
        want = _TYPES.get(want, "a valid dictionary" if want.startswith(("dict", "object"))
                          else f"a valid {want}")
        return ApiError(400, f"{where}: Input should be {want}")
    if p.kind == decoding.BOUND:
        return ApiError(400, f"{where}: Input should be {_OPS[p.op]} {decoding.number(p.limit)}")
    if p.kind == decoding.VALUE:
        return ApiError(400, _bad_value(p, where))
    if p.kind == decoding.LENGTH:
        which = "at most" if p.op == "<=" else "at least"
        return ApiError(400, f"{where}: List should have {which} {p.limit} items")
    return ApiError(400, f"{where}: {p.detail}" if where else p.detail)


def _bad_value(p, where):
    name = p.path[-1] if p.path else ""
    if name == "type" and len(p.path) >= 2:
        owner = p.path[-2] if isinstance(p.path[-2], str) else p.path[-3]
        tags = _TAGS.get(owner)
        if tags:
            return (f"{dotted(p.path[:-1])}: Input tag {p.detail} found using 'type' does not "
                    "match any of the expected tags: " + ", ".join(f"'{t}'" for t in tags))
    known = _ENUMS.get(name)
    if known:
        return f"{where}: Input should be {known}"
    return f"{where}: Input value {p.detail} is not permitted"
