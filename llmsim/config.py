"""llmsim's configuration: one typed, frozen `Config`, and `load` that layers its sources.

Precedence, lowest first: defaults < config file (YAML or TOML, by extension) < `LLMSIM_<FIELD>`
environment variables < explicit overrides (the command line). Every value is validated by
msgspec against the field's type and bounds; a `ConfigError` names the source and the field.
"""

import os
import typing
from typing import Annotated, Literal, Optional

import msgspec

from llmsim.errors import ConfigError

ENV_PREFIX = "LLMSIM_"

Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
Count = Annotated[int, msgspec.Meta(ge=0)]
Seconds = Annotated[float, msgspec.Meta(ge=0)]


def parse_cpu_list(text):
    """CPU numbers of a list like "0,2-3" in the order written (duplicates dropped)."""
    cpus = []
    for part in text.split(","):
        lo, sep, hi = part.strip().partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise ValueError(
                f"cpu_affinity: expected 'auto', 'off' or a CPU list like '0,2-3', got {text!r}")
        first, last = int(lo), int(hi) if sep else int(lo)
        if last < first:
            raise ValueError(f"cpu_affinity: range {part.strip()!r} runs backwards")
        cpus.extend(c for c in range(first, last + 1) if c not in cpus)
    return cpus


class Config(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything a master and its workers need; immutable once loaded."""

    host: str = "127.0.0.1"
    port: Port = 8080
    # 0: one per allowed CPU. At most half the shared-memory blocks (256): a reload runs the
    # new workers beside the old ones.
    workers: Annotated[int, msgspec.Meta(ge=0, le=128)] = 0
    cpu_affinity: str = "auto"                                  # "auto" | "off" | "0,2-3"
    backlog: Annotated[int, msgspec.Meta(ge=1)] = 4096
    max_head_bytes: Annotated[int, msgspec.Meta(ge=256)] = 16384
    max_headers: Annotated[int, msgspec.Meta(ge=1, le=256)] = 100
    max_body_bytes: Count = 8388608
    header_timeout: Seconds = 10.0
    body_timeout: Seconds = 30.0
    keepalive_timeout: Seconds = 75.0                           # 0: no keep-alive
    graceful_timeout: Seconds = 30.0
    heartbeat_timeout: Seconds = 10.0                           # 0: no hung-worker check
    tune_governor: bool = False
    nofile_limit: Count = 0                                     # 0: the hard limit
    api_keys: list[str] = []                                    # empty: no auth
    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    seed: Optional[int] = None                                  # same request, same answer
    no_latency: bool = False                                    # answer at once
    latency_multiplier: Annotated[float, msgspec.Meta(ge=0)] = 1.0
    ttft: str = ""                                              # default profile's TTFT
    itl: str = ""                                               # default profile's ITL
    latency: dict = {}
    models: dict = {}
    generators: dict = {}
    faults: Optional[list[dict]] = None                         # llmsim.policy.faults
    rate_limits: dict = {}                                      # llmsim.policy.ratelimit

    def __post_init__(self):
        if self.cpu_affinity not in ("auto", "off"):
            parse_cpu_list(self.cpu_affinity)


FIELDS = {f.name: f for f in msgspec.structs.fields(Config)}


def _base_type(tp):
    """The plain container or scalar type under an Annotated[...] / list[...] annotation."""
    if typing.get_origin(tp) is Annotated:
        tp = typing.get_args(tp)[0]
    if typing.get_origin(tp) is typing.Union:  # Optional[X]: X
        tp = next(t for t in typing.get_args(tp) if t is not type(None))
    return typing.get_origin(tp) or tp


def _message(err):
    """msgspec's "Expected X - at `$.a.b`" as "a.b: Expected X"."""
    text = str(err)
    msg, sep, where = text.rpartition(" - at `$")
    if not sep:
        return text
    where = where.rstrip("`").lstrip(".")
    return f"{where}: {msg}" if where else msg


def coerce(name, value, origin=None):
    """`value` converted to field `name`'s type; text is parsed (lists by commas, dicts as
    JSON), so the same rules serve environment variables and command-line flags. Errors
    are labelled with `origin` (e.g. the variable's name), else the field name."""
    label = origin or name
    field = FIELDS[name]
    if isinstance(value, str):
        kind = _base_type(field.type)
        if kind is list and value.lstrip().startswith("["):
            try:
                value = msgspec.json.decode(value)
            except msgspec.DecodeError as err:
                raise ConfigError(f"{label}: expected a JSON list: {err}") from None
        elif kind is list:
            value = [item.strip() for item in value.split(",") if item.strip()]
        elif kind is dict:
            try:
                value = msgspec.json.decode(value)
            except msgspec.DecodeError as err:
                raise ConfigError(f"{label}: expected a JSON object: {err}") from None
    try:
        return msgspec.convert(value, field.type, strict=False)
    except msgspec.ValidationError as err:
        raise ConfigError(f"{label}: {_message(err)}") from None


def read_file(path):
    """The settings mapping of a YAML (.yaml/.yml) or TOML (.toml) file."""
    ext = os.path.splitext(path)[1].lower()
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        raise ConfigError(f"{path}: {err.strerror}") from None
    if ext in (".yaml", ".yml"):
        import yaml
        try:
            doc = yaml.safe_load(data)
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: {err}") from None
    elif ext == ".toml":
        import tomllib
        try:
            doc = tomllib.loads(data.decode())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise ConfigError(f"{path}: {err}") from None
    else:
        raise ConfigError(f"{path}: unknown config format {ext!r} (use .yaml, .yml or .toml)")
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    return doc


def from_env(environ):
    """Settings given as LLMSIM_<FIELD> variables, typed."""
    out = {}
    for name in FIELDS:
        var = ENV_PREFIX + name.upper()
        if var in environ:
            out[name] = coerce(name, environ[var], var)
    return out


def load(path=None, overrides=None, environ=None):
    """The Config from defaults < file at `path` < LLMSIM_* variables < `overrides`."""
    merged = {}
    if path:
        merged = read_file(path)
        try:
            msgspec.convert(merged, Config)
        except msgspec.ValidationError as err:
            raise ConfigError(f"{path}: {_message(err)}") from None
    merged.update(from_env(os.environ if environ is None else environ))
    for name, value in (overrides or {}).items():
        if name not in FIELDS:
            raise ConfigError(f"{name}: not a configuration field")
        merged[name] = coerce(name, value)
    try:
        config = msgspec.convert(merged, Config)
    except msgspec.ValidationError as err:
        raise ConfigError(_message(err)) from None
    # Sections that workers compile are checked here, not first in a forked worker.
    planner(config)
    from llmsim.api.catalog import Catalog
    from llmsim.sim.generators import Generators
    Catalog(config.models)
    Generators(config.generators)
    from llmsim.policy import faults, ratelimit
    faults.compile_rules(config.faults or [])
    ratelimit.compile_limits(config.rate_limits)
    return config


def latency_section(config):
    """The `latency:` section with the --ttft/--itl shortcuts applied on top."""
    section = dict(config.latency)
    if config.ttft:
        section["ttft"] = config.ttft
    if config.itl:
        section["itl"] = config.itl
    return section


def planner(config):
    """A worker's timing planner for `config` (raises ConfigError naming the bad field)."""
    from llmsim.sim.timing import Planner
    return Planner(latency_section(config), global_seed=config.seed,
                   no_latency=config.no_latency, multiplier=config.latency_multiplier)


def worker_cpus(config):
    """The CPU each worker slot is pinned to (None: not pinned); its length is the count."""
    allowed = sorted(os.sched_getaffinity(0))
    if config.cpu_affinity in ("auto", "off"):
        pool = allowed
    else:
        pool = parse_cpu_list(config.cpu_affinity)
        outside = [c for c in pool if c not in allowed]
        if outside:
            raise ConfigError(f"cpu_affinity: cpu {','.join(map(str, outside))} is not among "
                              f"the CPUs this process may use "
                              f"({','.join(map(str, allowed))})")
    count = config.workers or len(pool)
    if config.cpu_affinity == "off":
        return [None] * count
    return [pool[i % len(pool)] for i in range(count)]
