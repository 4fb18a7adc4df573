"""Values that validate against a JSON Schema: simulated tool arguments and JSON answers.

`instance(schema, r)` builds a value from a schema and a random int `r` (the same pair gives
the same value). It covers what tool and response schemas use in practice: JSON Schema
(`type` as a name or list, properties/required/additionalProperties, items/prefixItems,
minItems/maxItems, enum, const, anyOf/oneOf/allOf, $ref into $defs/definitions, string
lengths and common formats, numeric bounds and multipleOf) and the OpenAPI subset Gemini
uses (upper-case types, `nullable`, `format: enum`). Required properties are always present,
optional ones about half the time; `pattern` is not honoured.
"""

import math
import random

_WORDS = ("alpha", "blue", "river", "seven", "north", "delta", "quiet", "maple", "orbit",
          "lumen", "cedar", "harbor", "nova", "pixel", "summit", "tango", "violet", "willow",
          "amber", "comet", "echo", "falcon", "garnet", "indigo", "jade", "kepler", "lotus",
          "meadow", "nimbus", "opal")
_FORMATS = {
    "date-time": lambda g: f"2025-{g.randint(1, 12):02d}-{g.randint(1, 28):02d}T"
                           f"{g.randint(0, 23):02d}:{g.randint(0, 59):02d}:00Z",
    "date": lambda g: f"2025-{g.randint(1, 12):02d}-{g.randint(1, 28):02d}",
    "time": lambda g: f"{g.randint(0, 23):02d}:{g.randint(0, 59):02d}:00",
    "email": lambda g: f"{g.choice(_WORDS)}@example.com",
    "uri": lambda g: f"https://example.com/{g.choice(_WORDS)}",
    "url": lambda g: f"https://example.com/{g.choice(_WORDS)}",
    "uuid": lambda g: "%08x-%04x-4%03x-8%03x-%012x" % (
        g.getrandbits(32), g.getrandbits(16), g.getrandbits(12), g.getrandbits(12),
        g.getrandbits(48)),
    "ipv4": lambda g: ".".join(str(g.randint(1, 254)) for _ in range(4)),
}
_MAX_DEPTH = 8


class SchemaError(ValueError):
    """The schema cannot be satisfied by this generator (e.g. an unknown $ref)."""


def instance(schema, r):
    """A value valid against `schema` (a dict, or True/None for anything)."""
    root = schema if isinstance(schema, dict) else {}
    return _Gen(root, random.Random(r)).value(root, 0)


class _Gen:
    def __init__(self, root, rng):
        self.root = root
        self.g = rng

    def resolve(self, s):
        seen = 0
        while isinstance(s, dict) and "$ref" in s:
            ref = s["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#"):
                raise SchemaError(f"unsupported $ref {ref!r}")
            node = self.root
            for key in filter(None, ref[1:].split("/")):
                key = key.replace("~1", "/").replace("~0", "~")
                if not isinstance(node, dict) or key not in node:
                    raise SchemaError(f"$ref {ref!r} points nowhere")
                node = node[key]
            s = node
            seen += 1
            if seen > 32:
                raise SchemaError(f"$ref {ref!r} loops")
        return s if isinstance(s, dict) else {}

    def value(self, s, depth):
        s = self.resolve(s)
        g = self.g
        if "const" in s:
            return s["const"]
        if "enum" in s and s["enum"]:
            return g.choice(s["enum"])
        if "allOf" in s:
            merged = {k: v for k, v in s.items() if k != "allOf"}
            for part in s["allOf"]:
                part = self.resolve(part)
                for k, v in part.items():
                    if k == "properties":
                        merged["properties"] = {**merged.get("properties", {}), **v}
                    elif k == "required":
                        merged["required"] = list(merged.get("required", [])) + list(v)
                    else:
                        merged.setdefault(k, v)
            return self.value(merged, depth)
        for key in ("anyOf", "oneOf"):
            options = s.get(key)
            if options:
                # prefer a non-null branch so the value says something
                real = [o for o in options if self.resolve(o).get("type") not in ("null", "NULL")]
                return self.value(g.choice(real or options), depth + 1)
        kind = s.get("type")
        if isinstance(kind, list):
            real = [k for k in kind if str(k).lower() != "null"]
            kind = g.choice(real) if real else "null"
        kind = str(kind).lower() if kind is not None else _guess(s)
        if kind == "object":
            return self.obj(s, depth)
        if kind == "array":
            return self.arr(s, depth)
        if kind == "string":
            return self.string(s)
        if kind == "integer":
            return self.integer(s)
        if kind == "number":
            return self.number(s)
        if kind == "boolean":
            return g.random() < 0.5
        if kind == "null":
            return None
        return self.string(s)

    def obj(self, s, depth):
        props = s.get("properties") or {}
        required = set(s.get("required") or ())
        out = {}
        order = s.get("propertyOrdering") or s.get("property_ordering") or list(props)
        for name in order:
            if name not in props:
                continue
            if name in required or (depth < _MAX_DEPTH and self.g.random() < 0.5):
                out[name] = self.value(props[name], depth + 1)
        for name in required:
            if name not in out:
                out[name] = self.value(props.get(name, {}), depth + 1)
        low = s.get("minProperties") or 0
        extra = s.get("additionalProperties")
        i = 0
        while len(out) < low and extra is not False:
            i += 1
            out.setdefault(f"{self.g.choice(_WORDS)}_{i}",
                           self.value(extra if isinstance(extra, dict) else {}, depth + 1))
        return out

    def arr(self, s, depth):
        g = self.g
        prefix = s.get("prefixItems") or []
        low = max(int(s.get("minItems") or 0), len(prefix) if s.get("items") is False else 0)
        high = s.get("maxItems")
        high = int(high) if high is not None else max(low, 3)
        n = low if depth >= _MAX_DEPTH else g.randint(max(low, min(1, high)), max(low, high))
        items = s.get("items")
        unique = s.get("uniqueItems")
        out, seen = [], set()
        for i in range(n):
            sub = prefix[i] if i < len(prefix) else items if isinstance(items, dict) else {}
            for _ in range(10 if unique else 1):
                v = self.value(sub, depth + 1)
                if repr(v) not in seen:
                    break
            seen.add(repr(v))
            out.append(v)
        return out

    def string(self, s):
        g = self.g
        fmt = s.get("format")
        text = _FORMATS[fmt](g) if fmt in _FORMATS else \
            " ".join(g.choice(_WORDS) for _ in range(g.randint(1, 3)))
        low = int(s.get("minLength") or 0)
        high = s.get("maxLength")
        while len(text) < low:
            text += " " + g.choice(_WORDS)
        if high is not None and len(text) > int(high):
            text = text[:int(high)]
        return text

    def bounds(self, s, integer):
        low, high = s.get("minimum"), s.get("maximum")
        xlow, xhigh = s.get("exclusiveMinimum"), s.get("exclusiveMaximum")
        step = 1 if integer else 0
        if isinstance(xlow, bool):      # draft 4: exclusiveMinimum is a flag on minimum
            xlow = low if xlow else None
        if isinstance(xhigh, bool):
            xhigh = high if xhigh else None
        lo = max([v for v in (low, None if xlow is None else xlow + (step or 1e-9))
                  if v is not None], default=None)
        hi = min([v for v in (high, None if xhigh is None else xhigh - (step or 1e-9))
                  if v is not None], default=None)
        if lo is None and hi is None:
            lo, hi = 0, 100
        elif lo is None:
            lo = hi - 100
        elif hi is None:
            hi = lo + 100
        return lo, hi

    def integer(self, s):
        lo, hi = self.bounds(s, True)
        lo, hi = math.ceil(lo), math.floor(hi)
        m = s.get("multipleOf")
        if isinstance(m, int) and m > 0:
            first, last = -(-lo // m), hi // m
            return self.g.randint(first, max(first, last)) * m
        return self.g.randint(lo, max(lo, hi))

    def number(self, s):
        m = s.get("multipleOf")
        if m:
            lo, hi = self.bounds(s, False)
            first, last = math.ceil(lo / m), math.floor(hi / m)
            return self.g.randint(first, max(first, last)) * m
        lo, hi = self.bounds(s, False)
        return min(hi, max(lo, round(self.g.uniform(lo, hi), 2)))


def _guess(s):
    if "properties" in s or "additionalProperties" in s:
        return "object"
    if "items" in s or "prefixItems" in s:
        return "array"
    if "minimum" in s or "maximum" in s:
        return "number"
    return "string"

