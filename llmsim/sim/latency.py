"""Latency profiles: how long each model takes, from a built-in catalog and the config.

A profile gives the time to first token (fixed overhead + per-prompt-token prefill + a sampled
term), the gap before each later token, the output length distribution and an optional load
model. Profiles are named and shared between models; models map to profiles by exact name,
then by the longest catalog prefix, then the default profile.

Human forms accepted wherever a delay goes (bare numbers are milliseconds):
  "200ms", "1.5s", "250us", 40            constant
  "20ms±5ms", "20ms~5ms", "20ms+-25%"     normal (mean, stddev), truncated at 0
  "10ms..30ms"                            uniform
  {dist: lognormal, median: 20ms, p99: 80ms}   and every other kind by name (see DIST_KEYS)
Lengths use the same forms with plain token counts ("300", "300~100", {dist: ...}).
Every error is a ConfigError naming the field path.
"""

import math
import re

import msgspec

from llmsim.core.rng import Distribution
from llmsim.errors import ConfigError

DURATION = "duration"
COUNT = "count"

_UNITS = {"ns": 1.0, "us": 1e3, "µs": 1e3, "μs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9}
_BARE_DURATION = 1e6  # a bare number in a delay field means milliseconds
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_QUANTITY = re.compile(rf"\s*({_NUMBER})\s*(ns|us|µs|μs|ms|s|m)?\s*")
_SPREAD = re.compile(r"(.+?)(?:±|\+-|\+/-|~)(.+)")
_PERCENT = re.compile(rf"\s*({_NUMBER})\s*%\s*")
_PERCENTILE = re.compile(rf"p?({_NUMBER})")

# Keys of the dict form, by kind. Lognormal takes mean+stddev or median + one quantile.
DIST_KEYS = {
    "constant": {"value"},
    "uniform": {"low", "high"},
    "normal": {"mean", "stddev"},
    "lognormal": {"mean", "stddev", "median", "p90", "p95", "p99", "p999"},
    "exponential": {"mean"},
    "pareto": {"scale", "alpha"},
    "empirical": {"percentiles"},
}
_UNITLESS = {"alpha"}


class Dist(msgspec.Struct, frozen=True, kw_only=True):
    """A distribution as configured; values in ns (delays) or tokens (lengths)."""
    kind: str
    params: dict
    min: float = 0.0
    max: float = math.inf

    def compile(self):
        """The C sampler (llmsim.core.rng.Distribution)."""
        return Distribution(self.kind, min=self.min, max=self.max, **self.params)


class Ttft(msgspec.Struct, frozen=True, kw_only=True):
    """Time to first token = overhead + per_prompt_token x prompt tokens + sampled."""
    overhead_ns: float = 0.0
    per_prompt_token_ns: float = 0.0
    sampled: Dist


class Load(msgspec.Struct, frozen=True, kw_only=True):
    """Saturation model: `capacity` sequences run at once per worker, each running sequence
    beyond the first slows TTFT and ITL by `slowdown` (0.02 = 2 %); up to `queue_limit`
    more wait for a slot; beyond that the request gets 429."""
    capacity: int
    slowdown: float = 0.0
    queue_limit: int = 0


class Profile(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    ttft: Ttft
    itl: Dist
    output_tokens: Dist
    load: Load | None = None


_LOAD_OFF = Load(capacity=0)  # an explicit "load: off" while parsing


def _fail(path, message):
    raise ConfigError(f"{path}: {message}")


def _number(value, path):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        _fail(path, f"expected a finite number, got {value!r}")
    return float(value)


def parse_quantity(value, path, unit=DURATION):
    """A duration in ns ("250us", "1.5s", bare number = ms) or a token count; >= 0."""
    if isinstance(value, str):
        m = _QUANTITY.fullmatch(value)
        if not m:
            what = "a duration like '200ms', '1.5s' or '250us'" if unit == DURATION else "a number"
            _fail(path, f"expected {what}, got {value!r}")
        x, suffix = float(m.group(1)), m.group(2)
        if unit == COUNT:
            if suffix:
                _fail(path, f"a token count takes no unit, got {value!r}")
            return x
        return x * (_UNITS[suffix] if suffix else _BARE_DURATION)
    x = _number(value, path)
    if x < 0:
        _fail(path, f"must be >= 0, got {value!r}")
    return x * _BARE_DURATION if unit == DURATION else x


def _shorthand(text, path, unit):
    if ".." in text:
        low, high = text.split("..", 1)
        return Dist(kind="uniform", params={"low": parse_quantity(low, path, unit),
                                            "high": parse_quantity(high, path, unit)})
    m = _SPREAD.fullmatch(text)
    if not m:
        return Dist(kind="constant", params={"value": parse_quantity(text, path, unit)})
    mean = parse_quantity(m.group(1), path, unit)
    pct = _PERCENT.fullmatch(m.group(2))
    spread = mean * float(pct.group(1)) / 100 if pct else parse_quantity(m.group(2), path, unit)
    return Dist(kind="normal", params={"mean": mean, "stddev": spread})


def _percentiles(value, path):
    items = value.items() if isinstance(value, dict) else value
    points = []
    try:
        for key, v in items:
            m = _PERCENTILE.fullmatch(str(key).strip())
            if not m:
                _fail(path, f"percentile keys look like 'p50' or 99.9, got {key!r}")
            points.append((float(m.group(1)), v))
    except (TypeError, ValueError):
        _fail(path, "expected {p50: 20ms, p99: 80ms, ...} or a list of [percent, value] pairs")
    return sorted(points)


def parse_dist(value, path, unit=DURATION):
    """A Dist from any accepted form; ConfigError names `path` and the bad key."""
    if isinstance(value, str):
        dist = _shorthand(value, path, unit)
    elif isinstance(value, dict):
        dist = _dist_dict(value, path, unit)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        dist = Dist(kind="constant", params={"value": parse_quantity(value, path, unit)})
    else:
        _fail(path, f"expected a value like '20ms', '20ms~5ms' or a {{dist: ...}} mapping, "
                    f"got {type(value).__name__}")
    try:
        dist.compile()
    except ValueError as e:
        _fail(path, str(e))
    return dist


def _dist_dict(value, path, unit):
    kind = value.get("dist")
    if kind not in DIST_KEYS:
        _fail(f"{path}: dist", f"expected one of {', '.join(DIST_KEYS)}, got {kind!r}")
    params, bounds = {}, {}
    for key, v in value.items():
        if key == "dist":
            continue
        if key in ("min", "max"):
            bounds[key] = parse_quantity(v, f"{path}: {key}", unit)
        elif key not in DIST_KEYS[kind]:
            _fail(f"{path}: {key}", f"unknown key for {kind}; expected "
                                    + ", ".join(sorted(DIST_KEYS[kind] | {"min", "max"})))
        elif key == "percentiles":
            params["points"] = [(p, parse_quantity(x, f"{path}: percentiles: p{p:g}", unit))
                                for p, x in _percentiles(v, f"{path}: percentiles")]
        elif key in _UNITLESS:
            params[key] = _number(v, f"{path}: {key}")
        else:
            params[key] = parse_quantity(v, f"{path}: {key}", unit)
    return Dist(kind=kind, params=params, **bounds)


def _parse_ttft(value, base, path):
    if isinstance(value, dict) and "dist" not in value:
        fields = {"overhead", "per_prompt_token", "sampled"}
        for key in value:
            if key not in fields:
                _fail(f"{path}: {key}", "unknown key; expected " + ", ".join(sorted(fields)))
        return Ttft(
            overhead_ns=parse_quantity(value["overhead"], f"{path}: overhead")
            if "overhead" in value else base.overhead_ns,
            per_prompt_token_ns=parse_quantity(value["per_prompt_token"],
                                               f"{path}: per_prompt_token")
            if "per_prompt_token" in value else base.per_prompt_token_ns,
            sampled=parse_dist(value["sampled"], f"{path}: sampled")
            if "sampled" in value else base.sampled)
    return Ttft(sampled=parse_dist(value, path))


def _int(value, path, low):
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        _fail(path, f"expected an integer >= {low}, got {value!r}")
    return value


def parse_load(value, path):
    """A Load, or _LOAD_OFF for off/false/null."""
    if value in (None, False, "off"):
        return _LOAD_OFF
    if not isinstance(value, dict):
        _fail(path, "expected {capacity: N, slowdown: 0.02, queue_limit: M} or off")
    for key in value:
        if key not in ("capacity", "slowdown", "queue_limit"):
            _fail(f"{path}: {key}", "unknown key; expected capacity, slowdown, queue_limit")
    if "capacity" not in value:
        _fail(f"{path}: capacity", "required")
    slowdown = _number(value.get("slowdown", 0.0), f"{path}: slowdown")
    if slowdown < 0:
        _fail(f"{path}: slowdown", f"must be >= 0, got {slowdown:g}")
    return Load(capacity=_int(value["capacity"], f"{path}: capacity", 1), slowdown=slowdown,
                queue_limit=_int(value.get("queue_limit", 0), f"{path}: queue_limit", 0))


_PROFILE_KEYS = ("extends", "ttft", "itl", "output_tokens", "load")


def parse_profile(name, value, base, path):
    """A Profile named `name` from a mapping whose missing fields come from `base`."""
    if not isinstance(value, dict):
        _fail(path, f"expected a profile mapping or a profile name, got {type(value).__name__}")
    for key in value:
        if key not in _PROFILE_KEYS:
            _fail(f"{path}: {key}", "unknown key; expected " + ", ".join(_PROFILE_KEYS))
    return Profile(
        name=name,
        ttft=_parse_ttft(value["ttft"], base.ttft, f"{path}: ttft")
        if "ttft" in value else base.ttft,
        itl=parse_dist(value["itl"], f"{path}: itl") if "itl" in value else base.itl,
        output_tokens=parse_dist(value["output_tokens"], f"{path}: output_tokens", COUNT)
        if "output_tokens" in value else base.output_tokens,
        load=parse_load(value["load"], f"{path}: load") if "load" in value else base.load)


# ---- built-in catalog ----------------------------------------------------------------------
# Typical public-API figures (2025): TTFT for a short prompt, decode speed as the median gap
# between tokens, output lengths of chat answers. Reasoning models spend their hidden
# thinking before the first visible token, hence the long, heavy-tailed TTFT.
PROFILES = {
    "fast-small": {  # ~0.3 s TTFT, ~130 tokens/s
        "ttft": {"overhead": "120ms", "per_prompt_token": "15us",
                 "sampled": {"dist": "lognormal", "median": "180ms", "p99": "900ms"}},
        "itl": {"dist": "lognormal", "median": "7ms", "p99": "25ms"},
        "output_tokens": {"dist": "lognormal", "median": 220, "p99": 1500, "min": 1,
                          "max": 16384},
    },
    "standard": {  # ~0.5 s TTFT, ~70 tokens/s
        "ttft": {"overhead": "200ms", "per_prompt_token": "30us",
                 "sampled": {"dist": "lognormal", "median": "300ms", "p99": "2s"}},
        "itl": {"dist": "lognormal", "median": "14ms", "p99": "45ms"},
        "output_tokens": {"dist": "lognormal", "median": 280, "p99": 2000, "min": 1,
                          "max": 16384},
    },
    "large": {  # ~1.2 s TTFT, ~35 tokens/s
        "ttft": {"overhead": "300ms", "per_prompt_token": "60us",
                 "sampled": {"dist": "lognormal", "median": "900ms", "p99": "5s"}},
        "itl": {"dist": "lognormal", "median": "28ms", "p99": "90ms"},
        "output_tokens": {"dist": "lognormal", "median": 300, "p99": 2000, "min": 1,
                          "max": 32768},
    },
    "reasoning-fast": {  # a few seconds of thinking, fast decode
        "ttft": {"overhead": "250ms", "per_prompt_token": "25us",
                 "sampled": {"dist": "lognormal", "median": "2.5s", "p99": "20s"}},
        "itl": {"dist": "lognormal", "median": "6ms", "p99": "25ms"},
        "output_tokens": {"dist": "lognormal", "median": 350, "p99": 3000, "min": 1,
                          "max": 65536},
    },
    "reasoning": {  # long thinking
        "ttft": {"overhead": "400ms", "per_prompt_token": "40us",
                 "sampled": {"dist": "lognormal", "median": "7s", "p99": "60s"}},
        "itl": {"dist": "lognormal", "median": "10ms", "p99": "40ms"},
        "output_tokens": {"dist": "lognormal", "median": 500, "p99": 4000, "min": 1,
                          "max": 65536},
    },
    "embedding": {  # one short round trip; no tokens stream
        "ttft": {"overhead": "25ms", "per_prompt_token": "2us",
                 "sampled": {"dist": "lognormal", "median": "35ms", "p99": "250ms"}},
        "itl": "0ms",
        "output_tokens": "1",
    },
}

# Model name (or prefix: the longest matching entry wins) -> profile.
MODELS = {
    # OpenAI
    "gpt-3.5-turbo": "fast-small", "gpt-4": "large", "gpt-4-turbo": "large",
    "gpt-4.5": "large", "gpt-4o": "standard", "gpt-4o-mini": "fast-small",
    "chatgpt-4o": "standard", "gpt-4.1": "standard", "gpt-4.1-mini": "fast-small",
    "gpt-4.1-nano": "fast-small", "o1": "reasoning", "o1-mini": "reasoning-fast",
    "o3": "reasoning", "o3-pro": "reasoning", "o3-mini": "reasoning-fast",
    "o4-mini": "reasoning-fast", "gpt-5": "reasoning", "gpt-5-mini": "reasoning-fast",
    "gpt-5-nano": "reasoning-fast", "gpt-5-chat": "standard", "gpt-5.1-chat": "standard",
    "gpt-5.1-codex-mini": "reasoning-fast", "gpt-5.2-chat": "standard",
    "gpt-5.3-chat": "standard", "gpt-5.4-mini": "reasoning-fast", "gpt-5.4-nano": "reasoning-fast",
    "gpt-5.6-luna": "reasoning-fast", "gpt-6": "reasoning", "gpt-6-luna": "reasoning-fast",
    "gpt-audio-mini": "fast-small", "davinci-002": "fast-small",
    "babbage-002": "fast-small", "text-embedding": "embedding",
    # Anthropic
    "claude-opus-4": "large", "claude-sonnet-4": "standard", "claude-haiku-4": "fast-small",
    "claude-opus-5": "large", "claude-sonnet-5": "standard", "claude-haiku-5": "fast-small",
    "claude-fable": "large", "claude-mythos": "large",
    "claude-3-opus": "large", "claude-3-7-sonnet": "standard", "claude-3-5-sonnet": "standard",
    "claude-3-5-haiku": "fast-small", "claude-3-haiku": "fast-small",
    # Google Gemini
    "gemini-3-pro": "reasoning", "gemini-3.1-pro": "reasoning", "gemini-3-flash": "standard",
    "gemini-3.5-flash": "standard", "gemini-3.6-flash": "standard",
    "gemini-3.1-flash-lite": "fast-small", "gemini-3.5-flash-lite": "fast-small",
    "gemini-2.5-pro": "reasoning", "gemini-2.5-flash": "standard",
    "gemini-flash-lite-latest": "fast-small",
    "gemini-2.5-flash-lite": "fast-small", "gemini-2.0-flash": "fast-small",
    "gemini-1.5-pro": "standard", "gemini-1.5-flash": "fast-small",
    "gemini-embedding": "embedding", "embedding-001": "embedding",
}


def _builtin_profiles():
    blank = Profile(name="", ttft=Ttft(sampled=Dist(kind="constant", params={"value": 0.0})),
                    itl=Dist(kind="constant", params={"value": 0.0}),
                    output_tokens=Dist(kind="constant", params={"value": 1.0}))
    return {name: parse_profile(name, spec, blank, f"built-in profile {name}")
            for name, spec in PROFILES.items()}


BUILTIN = _builtin_profiles()
_CACHE_LIMIT = 4096


class Catalog:
    """Resolved profiles and the model -> profile table of one configuration."""

    def __init__(self, profiles, models, default):
        self.profiles = profiles      # name -> Profile
        self.models = models          # model name or prefix -> Profile
        self.default = default
        self._prefixes = sorted(models, key=len, reverse=True)
        self._cache = {}

    def lookup(self, model):
        """The profile of `model`: exact name, longest prefix, then the default."""
        hit = self._cache.get(model)
        if hit is not None:
            return hit
        name = model[7:] if model.startswith("models/") else model
        profile = self.models.get(name)
        if profile is None:
            profile = next((self.models[p] for p in self._prefixes if name.startswith(p)),
                           self.default)
        if len(self._cache) < _CACHE_LIMIT:
            self._cache[model] = profile
        return profile


_TOP_KEYS = ("profiles", "models", "default", "ttft", "itl", "load")


def load_catalog(config, path="config: latency"):
    """Build the Catalog of a `latency:` config section (see the module docstring)."""
    if config is None:
        config = {}
    if not isinstance(config, dict):
        _fail(path, f"expected a mapping, got {type(config).__name__}")
    for key in config:
        if key not in _TOP_KEYS:
            _fail(f"{path}: {key}", "unknown key; expected " + ", ".join(_TOP_KEYS))
    specs = config.get("profiles") or {}
    if not isinstance(specs, dict):
        _fail(f"{path}: profiles", "expected a mapping of profile name -> profile")
    profiles = dict(BUILTIN)
    resolving = []

    def resolve(name, where):
        if name in resolving:
            _fail(where, "profiles extend each other in a cycle: "
                         + " -> ".join(resolving + [name]))
        if name in specs and name not in done:
            resolving.append(name)
            spec, ppath = specs[name], f"{path}: profiles: {name}"
            if isinstance(spec, str):
                profiles[name] = msgspec.structs.replace(resolve(spec, ppath), name=name)
            else:
                base = spec.get("extends", name if name in BUILTIN else "standard") \
                    if isinstance(spec, dict) else "standard"
                # a profile named like a built-in one extends the built-in one
                base_profile = BUILTIN[name] if base == name and name in BUILTIN \
                    else resolve(base, f"{ppath}: extends")
                profiles[name] = parse_profile(name, spec, base_profile, ppath)
            resolving.pop()
            done.add(name)
        if name not in profiles:
            _fail(where, f"unknown profile {name!r}; known: {', '.join(sorted(profiles))}")
        return profiles[name]

    done = set()
    for name in specs:
        resolve(name, f"{path}: profiles: {name}")

    def model_profile(model, spec, where, inherited):
        if isinstance(spec, str):
            return resolve(spec, where)
        if isinstance(spec, dict):
            base = resolve(spec["extends"], f"{where}: extends") if "extends" in spec \
                else inherited
            return parse_profile(model, spec, base, where)
        _fail(where, f"expected a profile name or mapping, got {type(spec).__name__}")

    default = model_profile("default", config.get("default", "standard"), f"{path}: default",
                            profiles["standard"])
    table = {model: profiles[name] for model, name in MODELS.items()}
    builtin = Catalog(profiles, dict(table), default)
    models = config.get("models") or {}
    if not isinstance(models, dict):
        _fail(f"{path}: models", "expected a mapping of model name -> profile")
    for model, spec in models.items():
        table[str(model)] = model_profile(str(model), spec, f"{path}: models: {model}",
                                          builtin.lookup(str(model)))
    overrides = {}
    if "ttft" in config:
        overrides["ttft"] = Ttft(sampled=parse_dist(config["ttft"], f"{path}: ttft"))
    if "itl" in config:
        overrides["itl"] = parse_dist(config["itl"], f"{path}: itl")
    load = parse_load(config["load"], f"{path}: load") if "load" in config else None

    def finish(p):
        changes = dict(overrides)
        if p.load is None:  # not set: the section-wide load model, if any
            changes["load"] = load if load is not None and load.capacity else None
        elif not p.load.capacity:  # explicitly off
            changes["load"] = None
        return msgspec.structs.replace(p, **changes) if changes else p

    final = {}  # one finished copy per Profile object, so shared profiles stay shared

    def fin(p):
        key = id(p)
        if key not in final:
            final[key] = (p, finish(p))
        return final[key][1]

    return Catalog({name: fin(p) for name, p in profiles.items()},
                   {model: fin(p) for model, p in table.items()}, fin(default))


class Override(msgspec.Struct, frozen=True, kw_only=True):
    """A parsed x-llmsim-latency header (see parse_override)."""
    off: bool = False
    profile: str | None = None
    ttft: Dist | None = None
    itl: Dist | None = None
    multiplier: float = 1.0
    tokens: int | None = None


HEADER = "x-llmsim-latency"


def parse_override(raw):
    """Parse the per-request header: "off", or comma-separated key=value pairs:
    profile=NAME, ttft=DELAY, itl=DELAY (DELAY in the short forms: 100ms, 20ms~5ms,
    10ms..30ms), x=FACTOR (multiplier), tokens=N (output length, still capped by max_tokens).
    ttft= replaces the whole TTFT (no overhead or prefill term)."""
    try:
        text = raw.decode() if isinstance(raw, (bytes, bytearray)) else str(raw)
    except UnicodeDecodeError:
        _fail(HEADER, "not valid UTF-8")
    text = text.strip()
    if text.lower() == "off":
        return Override(off=True)
    fields = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        key, value = key.strip().lower(), value.strip()
        path = f"{HEADER}: {key}"
        if not sep or not value:
            _fail(HEADER, f"expected 'off' or key=value pairs separated by commas, got {item!r}")
        if key in fields:
            _fail(path, "given twice")
        if key in ("ttft", "itl"):
            fields[key] = parse_dist(value, path)
        elif key in ("x", "multiplier"):
            try:
                x = float(value)
            except ValueError:
                x = -1.0
            if not 0 <= x < math.inf:
                _fail(path, f"expected a factor >= 0, got {value!r}")
            fields["multiplier"] = x
        elif key == "tokens":
            if not value.isdigit():
                _fail(path, f"expected a token count, got {value!r}")
            fields["tokens"] = int(value)
        elif key == "profile":
            fields["profile"] = value
        else:
            _fail(path, "unknown key; expected profile, ttft, itl, x, tokens (or 'off')")
    return Override(**fields)
