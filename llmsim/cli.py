"""The `llmsim` command: serve, doctor, version.

Flags come from the FLAGS table: one line per Config field, with the field's type, default
and LLMSIM_<FIELD> variable taken from `llmsim.config`. Unset flags do not override the
config file or the environment.
"""

import gc
import importlib.machinery
import logging
import os
import sys
import types

import msgspec

from llmsim import __version__
from llmsim import config as configuration
from llmsim.errors import ConfigError, CoreUnavailable, LlmsimError

# Config field -> help text. A new flag is one line here.
FLAGS = {
    "host": "address to listen on",
    "port": "TCP port to listen on",
    "workers": "worker processes; 0 = one per allowed CPU",
    "cpu_affinity": "pin workers to CPUs: auto, off, or a list like 0,2-3",
    "backlog": "listen queue length per worker socket",
    "max_head_bytes": "largest request head; larger gets 431",
    "max_headers": "most header lines per request; more gets 431",
    "max_body_bytes": "largest request body; larger gets 413",
    "header_timeout": "seconds to receive a request head",
    "body_timeout": "seconds to receive a request body",
    "keepalive_timeout": "seconds an idle keep-alive connection stays open; 0 = off",
    "graceful_timeout": "seconds workers may drain on SIGTERM before being killed",
    "heartbeat_timeout": "seconds without a heartbeat before a worker is replaced; 0 = off",
    "tune_governor": "set the CPU governor to performance when sysfs allows",
    "nofile_limit": "RLIMIT_NOFILE to raise to; 0 = the hard limit",
    "api_keys": "comma-separated accepted API keys; empty = no auth",
    "log_level": "debug, info, warning, error or critical",
    "seed": "global seed: the same request gives the same text and timing",
    "no_latency": "answer at once (no simulated TTFT or inter-token gaps)",
    "latency_multiplier": "scale every simulated delay (0.5 = twice as fast)",
    "ttft": "default time to first token, e.g. 200ms or 200ms~50ms",
    "itl": "default inter-token latency, e.g. 20ms or 20ms~5ms",
}

# Core modules `serve` needs; any other compiled module found in llmsim/core is loaded too.
REQUIRED_CORE = ("buildinfo", "http", "router", "connection", "stream", "shm")

CORE_HINT = "reinstall with a C compiler (pip install --force-reinstall llmsim)"


def load_core():
    """Import every compiled core module (before fork, so workers inherit them)."""
    import llmsim.core
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    names = set(REQUIRED_CORE) | {entry.name.partition(".")[0]
                                  for path in llmsim.core.__path__ for entry in os.scandir(path)
                                  if entry.name.endswith(suffixes)}
    for name in sorted(names):
        try:
            importlib.import_module(f"llmsim.core.{name}")
        except ImportError as err:
            raise CoreUnavailable(f"llmsim.core.{name}: {err}") from None
    return sorted(names)


def _flags():
    """(option, dest, kind, help) of every config flag. kind: "switch" (a plain store_true
    flag), "boolean" (--x and --no-x) or the type of its value."""
    yield "--config", "config", str, "YAML or TOML config file (env LLMSIM_CONFIG)"
    for name, text in FLAGS.items():
        field = configuration.FIELDS[name]
        env = configuration.ENV_PREFIX + name.upper()
        default = (field.default if field.default is not msgspec.NODEFAULT
                   else field.default_factory())
        base = configuration._base_type(field.type)
        if base is bool:
            # BooleanOptionalAction reads any "--no-" flag as a negation: a plain switch.
            kind = "switch" if name.startswith("no_") else "boolean"
        else:
            # lists (comma-separated) and literals are checked by config.coerce
            kind = base if base in (int, float) else str
        yield ("--" + name.replace("_", "-"), name, kind,
               f"{text} (env {env}; default {default!r})")


def _config_flags():
    """A parser holding only the config flags, for `serve` and `doctor` to take as a parent
    (one set of add_argument calls instead of one per command)."""
    import argparse  # only for help, errors and `version` (see _parse_plain)
    parser = argparse.ArgumentParser(add_help=False)
    for flag, dest, kind, help_text in _flags():
        if dest == "config":
            parser.add_argument(flag, default=os.environ.get("LLMSIM_CONFIG"), help=help_text)
        elif kind == "switch":
            parser.add_argument(flag, dest=dest, action="store_true",
                                default=argparse.SUPPRESS, help=help_text)
        elif kind == "boolean":
            parser.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction,
                                default=argparse.SUPPRESS, help=help_text)
        else:
            parser.add_argument(flag, dest=dest, type=kind, default=argparse.SUPPRESS,
                                help=help_text)
    return parser


def build_parser():
    import argparse
    parser = argparse.ArgumentParser(
        prog="llmsim", description="Simulator of the OpenAI, Anthropic and Gemini HTTP APIs.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    flags = _config_flags()
    commands.add_parser("serve", help="run the prefork server", parents=[flags])
    commands.add_parser(
        "doctor", help="report tuning, build flags and the parser's SSE4.2 path; do not serve",
        parents=[flags])
    commands.add_parser("version", help="print the version")
    return parser


def _parse_plain(argv):
    """What build_parser() makes of a plain `serve` or `doctor` command line (exact flags,
    `--flag value` or `--flag=value`), without importing argparse and building its parsers
    (~16 M instructions, ~4 ms of every start). None for anything else (help, abbreviated
    flags, a value starting with "-", a value of the wrong type, other commands): argparse
    then parses it, and words its errors."""
    if not argv or argv[0] not in ("serve", "doctor"):
        return None
    found = {"command": argv[0], "config": os.environ.get("LLMSIM_CONFIG")}
    options = {}
    for flag, dest, kind, _ in _flags():
        options[flag] = (dest, kind)
        if kind == "boolean":
            options["--no-" + flag[2:]] = (dest, "negation")
    words = iter(argv[1:])
    for word in words:
        flag, eq, value = word.partition("=")
        if flag not in options:
            return None
        dest, kind = options[flag]
        if kind in ("switch", "boolean", "negation"):
            if eq:
                return None
            found[dest] = kind != "negation"
            continue
        if not eq:
            value = next(words, None)
            if value is None:
                return None
        if value.startswith("-"):
            return None
        try:
            found[dest] = kind(value)
        except ValueError:
            return None
    return types.SimpleNamespace(**found)


def _load_config(args):
    overrides = {name: getattr(args, name) for name in FLAGS if hasattr(args, name)}
    return configuration.load(args.config, overrides), overrides


def _setup_logging(level):
    logging.basicConfig(level=level.upper(), stream=sys.stderr,
                        format="%(asctime)s llmsim[%(process)d] %(levelname)s %(message)s")


def serve(args):
    config, overrides = _load_config(args)
    _setup_logging(config.log_level)
    try:
        load_core()
    except CoreUnavailable as err:
        sys.stderr.write(f"llmsim: the compiled core could not be loaded: {err}; {CORE_HINT}\n")
        return 1
    from llmsim.master import Master
    from llmsim.worker import preload
    preload()
    # What start-up made lives as long as the process: freeze it out of every collection
    # (workers then never write to those pages to scan them) and collect from here on.
    gc.freeze()
    gc.enable()
    return Master(config, args.config, overrides).run()


def doctor(args):
    from llmsim import doctor as report
    config, _ = _load_config(args)
    _setup_logging("warning")
    ok, text = report.render(config)
    sys.stdout.write(text)
    return 0 if ok else 1


def main(argv=None):
    # Start-up allocates tens of thousands of long-lived objects (modules, classes, the
    # corpus): collecting while it runs is wasted work. `serve` re-enables collection.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _run(argv)
    finally:
        if collecting:
            gc.enable()


def _run(argv):
    argv = sys.argv[1:] if argv is None else argv
    args = _parse_plain(argv)
    if args is None:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return 2
    if args.command == "version":
        sys.stdout.write(f"llmsim {__version__}\n")
        return 0
    try:
        return serve(args) if args.command == "serve" else doctor(args)
    except ConfigError as err:
        sys.stderr.write(f"llmsim: config error: {err}\n")
        return 2
    except LlmsimError as err:
        sys.stderr.write(f"llmsim: {err}\n")
        return 1
