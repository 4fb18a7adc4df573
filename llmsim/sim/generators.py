"""Which content generator answers a request, from the `generators` config section.

    generators:
      default: corpus              # corpus | lorem | echo | a named one | {type: fixed, text: ...}
                                   #   | {type: script, rules: [...], fallback: corpus}
      models: {gpt-4o-mini: echo}  # per model (the name as the client sends it)
      named:                       # generators a request can pick with x-llmsim-generator
        hello: {type: fixed, text: "Hello! How can I help you today?"}

Per request: header `x-llmsim-generator: NAME` (a built-in or named generator), else the
model's, else the default. Scripted rules: llmsim.sim.script.
"""

import msgspec

from llmsim.errors import ApiError, ConfigError
from llmsim.sim.script import RuleUses, Script
from llmsim.sim.text import BUILTIN, Fixed

KINDS = ("fixed", "script") + tuple(BUILTIN)


class _Spec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    type: str
    text: str | None = None
    rules: list = []
    fallback: str = "corpus"


class _Section(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    default: str | _Spec = "corpus"
    models: dict[str, str | _Spec] = {}
    named: dict[str, str | _Spec] = {}


def _build(spec, where, named, uses):
    if isinstance(spec, str):
        gen = BUILTIN.get(spec) or named.get(spec)
        if gen is None:
            raise ConfigError(f"config: {where}: unknown generator {spec!r} (known: "
                              f"{', '.join(list(BUILTIN) + list(named))})")
        return gen
    if spec.type == "fixed":
        if spec.text is None:
            raise ConfigError(f"config: {where}.text: required for a fixed generator")
        return Fixed(spec.text)
    if spec.type == "script":
        return Script(spec.rules, _build(spec.fallback, f"{where}.fallback", named, uses), where,
                      uses)
    if spec.type in BUILTIN and spec.text is None:
        return BUILTIN[spec.type]
    raise ConfigError(f"config: {where}.type: expected one of {', '.join(KINDS)}, "
                      f"got {spec.type!r}")


class Generators:
    """The generators of one configuration (see the module docstring); scripted rules count
    their uses in `uses` (llmsim.sim.script.RuleUses: the node's, or this process's)."""

    def __init__(self, section=None, uses=None):
        try:
            cfg = msgspec.convert(section or {}, _Section)
        except msgspec.ValidationError as e:
            raise ConfigError(f"config: generators: {e}") from None
        uses = uses or RuleUses()
        self.named = named = {}
        for name, spec in cfg.named.items():
            named[name] = _build(spec, f"generators.named.{name}", named, uses)
        self.default = _build(cfg.default, "generators.default", named, uses)
        self.models = {m: _build(s, f"generators.models.{m}", named, uses)
                       for m, s in cfg.models.items()}
        self.by_header = {k.encode(): v for k, v in {**BUILTIN, **named}.items()}

    def pick(self, model, header):
        """The generator for a request to `model` with header value `header` (bytes or None)."""
        if header is not None:
            gen = self.by_header.get(header)
            if gen is None:
                known = ", ".join(sorted(k.decode() for k in self.by_header))
                raise ApiError(400, f"Unknown generator {header.decode(errors='replace')!r} in "
                                    f"x-llmsim-generator; known: {known}.",
                               param="x-llmsim-generator")
            return gen
        return self.models.get(model, self.default)
