"""The model catalog: which model names exist, what kind each is, and config extensions.

Built in: current OpenAI chat, reasoning, completion and embedding models, plus the Anthropic
and Gemini model names the other providers' endpoints answer to. The `models` config section
extends it:

    models:
      accept_any: false          # true: an unknown name is served as a chat model
      aliases:                   # extra names for existing models
        my-gpt: gpt-4o-mini
      add:                       # new models (all keys optional but kind)
        acme-chat: {kind: chat, owned_by: acme, max_output: 8192}
        acme-embed: {kind: embedding, dimensions: 768}

Kinds: `chat`, `reasoning` (chat models that think first: o-series, gpt-5), `completion`
(legacy /v1/completions), `embedding`. `provider` is openai, anthropic or gemini; GET
/v1/models lists the OpenAI models and the ones added in config.
"""

import datetime
import functools

import msgspec

from llmsim.core import rng
from llmsim.errors import ApiError, ConfigError

KINDS = ("chat", "reasoning", "completion", "embedding")


class ModelInfo(msgspec.Struct, frozen=True):
    """One catalog entry."""
    id: str
    kind: str = "chat"
    owned_by: str = "system"
    created: int = 1700000000
    provider: str = "openai"
    max_output: int = 16384
    dimensions: int = 0                  # embedding models: default output size
    fingerprint: bytes = b""             # system_fingerprint for chat answers


_EPOCH = datetime.date(1970, 1, 1).toordinal()


def _ts(day):
    return (datetime.date.fromisoformat(day).toordinal() - _EPOCH) * 86400


# Names checked on 2026-11-28 against the model lists of the openai (3.57) and anthropic
# (2.14) Python SDKs and Google's Gemini model page. Release day: the snapshot's date where an
# id carries one or it is published; otherwise (UNDATED) the day of that check. Max output
# where not published: the figure of the family's previous model.
UNDATED = "2026-11-28"

# (ids sharing one entry, kind, owned_by, release day, max output tokens, dimensions)
_OPENAI = (
    ("gpt-6-astra gpt-6.2-astra gpt-6.1-sol gpt-6.2-sol gpt-6.1-terra gpt-6-sol gpt-6-luna "
     "gpt-5.6-sol gpt-5.6-terra gpt-5.6-luna", "reasoning", "system", UNDATED, 128000, 0),
    ("gpt-5.5 gpt-5.5-2026-04-23", "reasoning", "system", "2026-04-23", 128000, 0),
    ("gpt-5.4-mini gpt-5.4-nano gpt-5.4-mini-2026-03-17 gpt-5.4-nano-2026-03-17", "reasoning",
     "system", "2026-03-17", 128000, 0),
    ("gpt-5.4", "reasoning", "system", UNDATED, 128000, 0),
    ("gpt-5.3-chat-latest", "chat", "system", UNDATED, 16384, 0),
    ("gpt-5.2 gpt-5.2-2025-12-11 gpt-5.2-pro gpt-5.2-pro-2025-12-11", "reasoning", "system",
     "2025-12-11", 128000, 0),
    ("gpt-5.2-chat-latest", "chat", "system", "2025-12-11", 16384, 0),
    ("gpt-audio-mini gpt-audio-mini-2025-12-15", "chat", "system", "2025-12-15", 16384, 0),
    ("gpt-5.1 gpt-5.1-2025-11-13 gpt-5.1-chat-latest gpt-5.1-codex gpt-5.1-codex-mini",
     "reasoning", "system", "2025-11-13", 128000, 0),
    ("gpt-5-pro gpt-5-pro-2025-10-06", "reasoning", "system", "2025-10-06", 272000, 0),
    ("gpt-5 gpt-5-2025-08-07 gpt-5-mini gpt-5-mini-2025-08-07 gpt-5-nano gpt-5-nano-2025-08-07",
     "reasoning", "system", "2025-08-07", 128000, 0),
    ("gpt-5-chat-latest", "chat", "system", "2025-08-07", 16384, 0),
    ("gpt-4.1 gpt-4.1-2025-04-14 gpt-4.1-mini gpt-4.1-mini-2025-04-14 gpt-4.1-nano "
     "gpt-4.1-nano-2025-04-14", "chat", "system", "2025-04-14", 32768, 0),
    ("o3-pro o3-pro-2025-06-10", "reasoning", "system", "2025-06-10", 100000, 0),
    ("o4-mini o4-mini-2025-04-16 o3 o3-2025-04-16", "reasoning", "system", "2025-04-16",
     100000, 0),
    ("o3-mini o3-mini-2025-01-31", "reasoning", "system", "2025-01-31", 100000, 0),
    ("o1 o1-2024-12-17", "reasoning", "system", "2024-12-17", 100000, 0),
    ("o1-mini o1-mini-2024-09-12 o1-preview o1-preview-2024-09-12", "reasoning", "system",
     "2024-09-12", 65536, 0),
    ("gpt-4o gpt-4o-2024-11-20 gpt-4o-2024-08-06 chatgpt-4o-latest gpt-4o-search-preview "
     "gpt-4o-audio-preview", "chat", "system", "2024-08-06", 16384, 0),
    ("gpt-4o-2024-05-13", "chat", "system", "2024-05-13", 4096, 0),
    ("gpt-4o-mini gpt-4o-mini-2024-07-18 gpt-4o-mini-search-preview gpt-4o-mini-audio-preview",
     "chat", "system", "2024-07-18", 16384, 0),
    ("gpt-4-turbo gpt-4-turbo-2024-04-09 gpt-4-turbo-preview gpt-4-0125-preview "
     "gpt-4-1106-preview", "chat", "system", "2024-04-09", 4096, 0),
    ("gpt-4 gpt-4-0613", "chat", "openai", "2023-06-13", 8192, 0),
    ("gpt-3.5-turbo gpt-3.5-turbo-0125 gpt-3.5-turbo-1106 gpt-3.5-turbo-16k", "chat", "openai",
     "2023-03-01", 4096, 0),
    ("gpt-3.5-turbo-instruct gpt-3.5-turbo-instruct-0914", "completion", "system", "2023-08-24",
     4096, 0),
    ("davinci-002 babbage-002", "completion", "system", "2023-08-21", 16384, 0),
    ("text-embedding-3-small", "embedding", "system", "2024-01-22", 0, 1536),
    ("text-embedding-3-large", "embedding", "system", "2024-01-22", 0, 3072),
    ("text-embedding-ada-002", "embedding", "openai-internal", "2022-12-16", 0, 1536),
)
# (aliases, then the id the Models API lists; release day, max output tokens)
_ANTHROPIC = (
    ("claude-fable-5-2", UNDATED, 128000),
    ("claude-mythos-5-2", UNDATED, 128000),
    ("claude-haiku-5-5", UNDATED, 64000),
    ("claude-sonnet-5-5", UNDATED, 128000),
    ("claude-opus-5-5", UNDATED, 128000),
    ("claude-fable-5-1", UNDATED, 128000),
    ("claude-mythos-5-1", UNDATED, 128000),
    ("claude-fable-5", UNDATED, 128000),
    ("claude-mythos-5", UNDATED, 128000),
    ("claude-sonnet-5", UNDATED, 128000),
    ("claude-opus-5", UNDATED, 128000),
    ("claude-opus-4-8", UNDATED, 128000),
    ("claude-opus-4-7", UNDATED, 128000),
    ("claude-mythos-preview", UNDATED, 128000),
    ("claude-sonnet-4-6", "2026-02-17", 128000),
    ("claude-opus-4-6", "2026-02-05", 128000),
    ("claude-opus-4-5 claude-opus-4-5-20251101", "2025-11-01", 64000),
    ("claude-haiku-4-5 claude-haiku-4-5-20251001", "2025-10-01", 64000),
    ("claude-sonnet-4-5 claude-sonnet-4-5-20250929", "2025-09-29", 64000),
    ("claude-opus-4-1 claude-opus-4-1-20250805", "2025-08-05", 32000),
    ("claude-opus-4-0 claude-opus-4-20250514", "2025-05-14", 32000),
    ("claude-sonnet-4-0 claude-sonnet-4-20250514", "2025-05-14", 64000),
    ("claude-3-7-sonnet-latest claude-3-7-sonnet-20250219", "2025-02-19", 64000),
    ("claude-3-5-haiku-latest claude-3-5-haiku-20241022", "2024-10-22", 8192),
    ("claude-3-5-sonnet-latest claude-3-5-sonnet-20241022", "2024-10-22", 8192),
    ("claude-3-haiku-20240307", "2024-03-07", 4096),
)
_GEMINI = (
    ("gemini-3.6-flash gemini-3.5-flash", "chat", UNDATED, 65536, 0),
    ("gemini-3.5-flash-lite gemini-3.1-flash-lite", "chat", UNDATED, 65536, 0),
    ("gemini-3.1-pro-preview gemini-3-flash-preview", "chat", UNDATED, 65536, 0),
    ("gemini-3-pro-preview", "chat", "2025-11-18", 65536, 0),
    ("gemini-2.5-flash-lite-preview-09-2025 gemini-flash-lite-latest", "chat", "2025-09-25",
     65536, 0),
    ("gemini-2.5-pro gemini-2.5-flash gemini-2.5-flash-lite", "chat", "2025-06-17", 65536, 0),
    ("gemini-2.0-flash gemini-2.0-flash-001 gemini-2.0-flash-lite", "chat", "2025-02-05", 8192,
     0),
    ("gemini-1.5-pro gemini-1.5-flash gemini-1.5-flash-8b", "chat", "2024-09-24", 8192, 0),
    ("gemini-embedding-001", "embedding", "2025-07-14", 0, 3072),
    ("text-embedding-004", "embedding", "2024-05-14", 0, 768),
)


def _fingerprint(name):
    return b"fp_%010x" % (rng.hash64(name.encode()) >> 24)  # 10 hex digits, as OpenAI's


@functools.cache
def _builtin():
    """(name -> ModelInfo, the names that are aliases of another entry), built once per
    process (the master's copy is inherited by its workers); callers copy before adding."""
    out, aliases = {}, set()
    for ids, kind, owner, day, max_output, dims in _OPENAI:
        for name in ids.split():
            out[name] = ModelInfo(name, kind, owner, _ts(day), "openai", max_output, dims,
                                  _fingerprint(name))
    for ids, day, max_output in _ANTHROPIC:
        names = ids.split()
        aliases.update(names[:-1])
        for name in names:
            out[name] = ModelInfo(name, "chat", "anthropic", _ts(day), "anthropic", max_output)
    for ids, kind, day, max_output, dims in _GEMINI:
        for name in ids.split():
            out[name] = ModelInfo(name, kind, "google", _ts(day), "gemini", max_output, dims)
    return out, aliases


class _Added(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    kind: str = "chat"
    owned_by: str = "user"
    created: int = 1700000000
    provider: str = "openai"
    max_output: int = 16384
    dimensions: int = 1536


class _Section(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    accept_any: bool = False
    aliases: dict[str, str] = {}
    add: dict[str, _Added] = {}


class Catalog:
    """Model lookup by name (aliases resolved) and the OpenAI model list."""

    def __init__(self, section=None):
        try:
            cfg = msgspec.convert(section or {}, _Section)
        except msgspec.ValidationError as e:
            raise ConfigError(f"config: models: {e}") from None
        models, aliases = _builtin()
        models, aliases = dict(models), set(aliases)
        added = set()
        for name, a in cfg.add.items():
            if a.kind not in KINDS:
                raise ConfigError(f"config: models.add.{name}.kind: expected one of "
                                  f"{', '.join(KINDS)}, got {a.kind!r}")
            models[name] = ModelInfo(name, a.kind, a.owned_by, a.created, a.provider,
                                     a.max_output, a.dimensions if a.kind == "embedding" else 0,
                                     _fingerprint(name))
            added.add(name)
        for alias, target in cfg.aliases.items():
            if target not in models:
                raise ConfigError(f"config: models.aliases.{alias}: unknown model {target!r}")
            models[alias] = msgspec.structs.replace(models[target], id=alias)
            aliases.add(alias)
        self.accept_any = cfg.accept_any
        self._models = models
        self._aliases = frozenset(aliases - added)
        self._listed = [m for m in models.values()
                        if m.provider == "openai" or m.id in added or m.id in cfg.aliases]
        self._fallback = {}

    def get(self, name):
        """The model for `name`, or None (a fallback chat entry when accept_any is set)."""
        m = self._models.get(name)
        if m is not None or not self.accept_any:
            return m
        m = self._fallback.get(name)
        if m is None and isinstance(name, str):
            if len(self._fallback) > 4096:
                self._fallback.clear()
            m = self._fallback[name] = ModelInfo(name, "chat", "user",
                                                 fingerprint=_fingerprint(name))
        return m

    def listed(self):
        """The models OpenAI's GET /v1/models shows (every OpenAI model, and every model
        added or aliased in config), in catalog order."""
        return self._listed

    def models(self, provider):
        """The models of `provider` ("openai", "anthropic" or "gemini"): built in, added and
        aliased in config, in catalog order."""
        return [m for m in self._models.values() if m.provider == provider]

    def is_alias(self, name):
        """Whether `name` is another name of a model listed under its own id (built-in
        Claude aliases such as claude-opus-4-5, and the `models.aliases` config section)."""
        return name in self._aliases

    def require(self, name):
        """The model for `name`, or OpenAI's 404 model_not_found."""
        m = self.get(name)
        if m is None:
            raise ApiError(404, f"The model `{name}` does not exist or you do not have access "
                                "to it.", type="invalid_request_error", code="model_not_found")
        return m
