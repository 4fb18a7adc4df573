"""What the simulated model says: content generators over llmsim's tokens.

A generator's `generate(prompt, plan, cap, r)` (prompt: the last user message, plan: the
timing plan whose `n_tokens` is the planned length, cap: the token limit or None, r: a random
int) gives `(run, cut)`: a `Run` of `count` consecutive tokens of a `Pieces` text from token
`first` (wrapping around for cyclic texts, the first `skip` bytes left out), and whether the
cap or the planned length cut it (finish_reason `length`). A run is a view, not a copy:
streams render each token straight from the shared escaped buffer.

Built in:
  corpus  natural-looking English from the built-in corpus (llmsim/sim/corpus.txt), a window
          starting at a sentence chosen by the random int; exactly the planned length
          (the planner draws it from the model's length distribution and max_tokens)
  lorem   the same over lorem ipsum
  echo    the last user message, cut at the cap
  fixed   a configured text, cut at the cap
"""

from importlib import resources
import msgspec

from llmsim.errors import ApiError, ConfigError
from llmsim.core.pieces import Run
from llmsim.sim.tokens import Pieces

LOREM = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
         "incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud "
         "exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure "
         "dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla "
         "pariatur. Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia "
         "deserunt mollit anim id est laborum. ")


class Cyclic:
    """A text read as an endless loop, starting at a sentence chosen by the random int."""

    needs_prompt = False

    def __init__(self, text):
        self.pieces = p = Pieces(text)
        starts = [0]
        for i in range(1, p.count):
            tok, prev = p.token(i), p.token(i - 1)
            if prev.endswith(b"\n") or (prev in (b".", b"?", b"!") and tok[:1] == b" "
                                        and tok[1:2].isupper()):
                starts.append(i)
        self.starts = [(i, 1 if p.token(i)[:1] == b" " else 0) for i in starts]

    def generate(self, prompt, plan, cap, r):
        first, skip = self.starts[r % len(self.starts)]
        n = plan.n_tokens
        if cap is not None and n >= cap:
            return Run(self.pieces, first, cap, skip), True
        return Run(self.pieces, first, n, skip), plan.truncated


class Fixed:
    """A given text (or the prompt itself), cut at the cap."""

    def __init__(self, text=None):
        self.pieces = Pieces(text) if text is not None else None
        self.needs_prompt = text is None

    def generate(self, prompt, plan, cap, r):
        p = self.pieces if self.pieces is not None else Pieces(prompt)
        if cap is not None and p.count > cap:
            return Run(p, 0, cap), True
        return Run(p, 0, p.count), False


def _corpus_text():
    return resources.files("llmsim.sim").joinpath("corpus.txt").read_text("utf-8")


CORPUS = Cyclic(_corpus_text())
LOREM_GEN = Cyclic(LOREM)
ECHO = Fixed()
BUILTIN = {"corpus": CORPUS, "lorem": LOREM_GEN, "echo": ECHO}



class _Spec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    type: str
    text: str | None = None


class _Section(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    default: str | _Spec = "corpus"
    models: dict[str, str | _Spec] = {}
    named: dict[str, str | _Spec] = {}


def _build(spec, where, named):
    if isinstance(spec, str):
        gen = BUILTIN.get(spec) or named.get(spec)
        if gen is None:
            raise ConfigError(f"config: {where}: unknown generator {spec!r} (built in: "
                              f"{', '.join(BUILTIN)}{', ' if named else ''}{', '.join(named)})")
        return gen
    if spec.type == "fixed":
        if spec.text is None:
            raise ConfigError(f"config: {where}.text: required for a fixed generator")
        return Fixed(spec.text)
    if spec.type in BUILTIN and spec.text is None:
        return BUILTIN[spec.type]
    raise ConfigError(f"config: {where}.type: expected one of fixed, "
                      f"{', '.join(BUILTIN)}, got {spec.type!r}")


class Generators:
    """The generator for each request: header `x-llmsim-generator` (a built-in or named
    generator), else the model's, else the default. Config section `generators`:

        generators:
          default: corpus              # corpus | lorem | echo | a name below | {type: fixed, text: ...}
          models: {gpt-4o-mini: echo}  # per model (name as the client sends it)
          named:                       # generators a request can pick by header
            hello: {type: fixed, text: "Hello! How can I help you today?"}
    """

    def __init__(self, section=None):
        try:
            cfg = msgspec.convert(section or {}, _Section)
        except msgspec.ValidationError as e:
            raise ConfigError(f"config: generators: {e}") from None
        self.named = named = {}
        for name, spec in cfg.named.items():
            named[name] = _build(spec, f"generators.named.{name}", {})
        self.default = _build(cfg.default, "generators.default", named)
        self.models = {m: _build(s, f"generators.models.{m}", named)
                       for m, s in cfg.models.items()}
        self.by_header = {k.encode(): v for k, v in {**BUILTIN, **named}.items()}

    def pick(self, model, header):
        """The generator for a request to `model` with header value `header` (bytes or None)."""
        if header is not None:
            gen = self.by_header.get(header)
            if gen is None:
                raise ApiError(400, f"Unknown generator {header.decode(errors='replace')!r} in "
                               f"x-llmsim-generator; known: {', '.join(self.by_header_names())}.",
                               param="x-llmsim-generator")
            return gen
        return self.models.get(model, self.default)

    def by_header_names(self):
        return sorted(k.decode() for k in self.by_header)
