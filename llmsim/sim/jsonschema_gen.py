"""Values valid against a JSON Schema, drawn from a seeded random stream.

Used for `response_format: json_schema` content and tool-call arguments. Covers what
OpenAI's structured outputs accept and the common rest: type (or a list of types), enum,
const, properties/required/additionalProperties, items/prefixItems/minItems/maxItems/
uniqueItems, minLength/maxLength, string formats (date-time, date, time, email, uri, uuid,
ipv4, hostname), minimum/maximum (exclusive too)/multipleOf, anyOf/oneOf (one branch),
allOf (merged), $ref into $defs/definitions of the root, and nullable types. `pattern` is not
honoured (a plain word is generated). Recursion is cut at a depth where the smallest valid
value (null, [] or only the required properties) is chosen.

`rng` is any object with `below(n)` and `random()` (llmsim.core.rng.Stream).
"""

import math

MAX_DEPTH = 6
WORDS = ("alpha", "amber", "atlas", "birch", "cedar", "coral", "delta", "ember", "falcon",
         "garnet", "harbor", "indigo", "juniper", "kestrel", "lumen", "maple", "nova",
         "orchid", "pepper", "quartz", "river", "sierra", "tango", "umber", "violet",
         "willow", "zephyr")
PLACES = ("Paris", "Tokyo", "Lisbon", "Nairobi", "Toronto", "Oslo", "Lima", "Seoul",
          "Cairo", "Sydney")
NAMES = ("Alice", "Bruno", "Chen", "Dana", "Emeka", "Farah", "Gustav", "Hana", "Ivan", "Jules")
_HINTS = (("city", PLACES), ("location", PLACES), ("place", PLACES), ("country", PLACES),
          ("name", NAMES), ("author", NAMES), ("user", NAMES))


def generate(schema, rng):
    """A Python value (dict, list, str, int, float, bool or None) valid against `schema`."""
    return _Gen(schema, rng).value(schema, "", 0)


class _Gen:
    def __init__(self, root, rng):
        self.root = root if isinstance(root, dict) else {}
        self.rng = rng

    def pick(self, seq):
        return seq[self.rng.below(len(seq))]

    def resolve(self, schema):
        seen = 0
        while isinstance(schema, dict) and "$ref" in schema and seen < 32:
            ref = schema["$ref"]
            target = self.root
            if ref.startswith("#"):
                for part in ref[1:].split("/"):
                    if part:
                        target = target.get(part.replace("~1", "/").replace("~0", "~"), {}) \
                            if isinstance(target, dict) else {}
            else:
                target = {}
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **rest} if rest else target
            seen += 1
        return schema if isinstance(schema, dict) else {}

    def value(self, schema, name, depth):
        if schema is True or schema is None:
            schema = {}
        if schema is False:
            return None
        s = self.resolve(schema)
        if "const" in s:
            return s["const"]
        if "enum" in s and s["enum"]:
            return self.pick(s["enum"])
        if "allOf" in s:
            merged = {k: v for k, v in s.items() if k != "allOf"}
            for part in s["allOf"]:
                part = self.resolve(part)
                for k, v in part.items():
                    if k in ("properties", "$defs") and isinstance(v, dict):
                        merged[k] = {**merged.get(k, {}), **v}
                    elif k == "required":
                        merged[k] = list(merged.get(k, [])) + list(v)
                    else:
                        merged.setdefault(k, v)
            return self.value(merged, name, depth)
        for key in ("anyOf", "oneOf"):
            if s.get(key):
                branches = s[key]
                if depth >= MAX_DEPTH:
                    nulls = [b for b in branches if self.resolve(b).get("type") == "null"]
                    branch = nulls[0] if nulls else branches[0]
                else:
                    branch = self.pick(branches)
                rest = {k: v for k, v in s.items() if k != key}
                return self.value({**rest, **self.resolve(branch)}, name, depth)
        t = s.get("type")
        if isinstance(t, list):
            real = [x for x in t if x != "null"]
            if not real or (depth >= MAX_DEPTH and "null" in t):
                return None
            t = self.pick(real)
        if t is None:
            t = ("object" if "properties" in s else "array" if "items" in s or
                 "prefixItems" in s else "string")
        return getattr(self, "_" + t, self._string)(s, name, depth)

    def _null(self, s, name, depth):
        return None

    def _boolean(self, s, name, depth):
        return self.rng.below(2) == 1

    def _object(self, s, name, depth):
        props = s.get("properties") or {}
        required = set(s.get("required") or ())
        out = {}
        for key, sub in props.items():
            if key in required or (depth < MAX_DEPTH and self.rng.below(3) > 0):
                out[key] = self.value(sub, key, depth + 1)
        for key in required:
            if key not in out:
                out[key] = self.value({}, key, depth + 1)
        if not props and depth < MAX_DEPTH and s.get("additionalProperties", True) is not False:
            extra = s.get("additionalProperties")
            want = max(int(s.get("minProperties", 0)), 1 if extra not in (None, True) else 0)
            for i in range(want):
                out[self.pick(WORDS) + str(i)] = self.value(extra if isinstance(extra, dict)
                                                            else {}, "", depth + 1)
        return out

    def _array(self, s, name, depth):
        prefix = s.get("prefixItems") or []
        lo = int(s.get("minItems", 0))
        hi = int(s.get("maxItems", max(lo, 3)))
        if depth >= MAX_DEPTH:
            hi = lo
        n = max(lo, min(len(prefix), hi))
        if hi > n:
            n += self.rng.below(hi - n + 1)
        items = s.get("items", {})
        if items is False:
            n = min(n, len(prefix))
        out = []
        unique = s.get("uniqueItems", False)
        tries = 0
        while len(out) < n and tries < n * 8 + 8:
            tries += 1
            sub = prefix[len(out)] if len(out) < len(prefix) else items
            v = self.value(sub, name, depth + 1)
            if unique and v in out:
                continue
            out.append(v)
        return out

    def _integer(self, s, name, depth):
        lo, hi = _bounds(s, integer=True)
        step = s.get("multipleOf")
        if isinstance(step, int) and step > 0:
            first, last = math.ceil(lo / step), math.floor(hi / step)
            return (first + self.rng.below(max(last - first + 1, 1))) * step
        return lo + self.rng.below(hi - lo + 1)

    def _number(self, s, name, depth):
        lo, hi = _bounds(s, integer=False)
        step = s.get("multipleOf")
        if step:
            first, last = math.ceil(lo / step), math.floor(hi / step)
            return (first + self.rng.below(max(last - first + 1, 1))) * step
        v = round(lo + (hi - lo) * self.rng.random(), 2)
        return min(max(v, lo), hi) if lo <= v <= hi else (lo + hi) / 2

    def _string(self, s, name, depth):
        fmt = s.get("format")
        r = self.rng
        if fmt == "date-time":
            v = f"2025-{1 + r.below(12):02d}-{1 + r.below(28):02d}T{r.below(24):02d}:" \
                f"{r.below(60):02d}:00Z"
        elif fmt == "date":
            v = f"2025-{1 + r.below(12):02d}-{1 + r.below(28):02d}"
        elif fmt == "time":
            v = f"{r.below(24):02d}:{r.below(60):02d}:00"
        elif fmt == "email":
            v = f"{self.pick(NAMES).lower()}@example.com"
        elif fmt in ("uri", "url"):
            v = f"https://example.com/{self.pick(WORDS)}"
        elif fmt == "uuid":
            h = "".join("0123456789abcdef"[r.below(16)] for _ in range(32))
            v = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"
        elif fmt == "ipv4":
            v = ".".join(str(r.below(256)) for _ in range(4))
        elif fmt == "hostname":
            v = f"{self.pick(WORDS)}.example.com"
        else:
            lowered = name.lower()
            pool = next((p for hint, p in _HINTS if hint in lowered), WORDS)
            v = self.pick(pool)
            if pool is WORDS and self.rng.below(2):
                v += " " + self.pick(WORDS)
        lo, hi = int(s.get("minLength", 0)), s.get("maxLength")
        while len(v) < lo:
            v += " " + self.pick(WORDS)
        if hi is not None:
            v = v[:int(hi)]
        return v


def _bounds(s, integer):
    if "minimum" in s:
        lo = s["minimum"]
        hi = s.get("maximum", lo + 100)
    elif "maximum" in s:
        hi = s["maximum"]
        lo = 0 if hi >= 0 else hi - 100
    else:
        lo, hi = 0, 100
    if "exclusiveMinimum" in s and not isinstance(s["exclusiveMinimum"], bool):
        lo = max(lo, s["exclusiveMinimum"] + (1 if integer else 0.01))
    if "exclusiveMaximum" in s and not isinstance(s["exclusiveMaximum"], bool):
        hi = min(hi, s["exclusiveMaximum"] - (1 if integer else 0.01))
    if integer:
        lo, hi = math.ceil(lo), math.floor(hi)
    return lo, max(lo, hi)
