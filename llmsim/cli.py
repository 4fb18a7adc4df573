"""The `llmsim` command: serve, doctor, version.

Flags come from the FLAGS table: one line per Config field, with the field's type, default
and LLMSIM_<FIELD> variable taken from `llmsim.config`. Unset flags do not override the
config file or the environment.
"""

import argparse
import gc
import importlib.machinery
import logging
import os
import sys

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


def _flag_type(name):
    kind = configuration._base_type(configuration.FIELDS[name].type)
    if kind is int:
        return int
    if kind is float:
        return float
    return str   # lists (comma-separated) and literals are checked by config.coerce


def _config_flags():
    """A parser holding only the config flags, for `serve` and `doctor` to take as a parent
    (one set of add_argument calls instead of one per command)."""
    parser = argparse.ArgumentParser(add_help=False, formatter_class=_UnsizedFormatter)
    parser.add_argument("--config", default=os.environ.get("LLMSIM_CONFIG"),
                        help="YAML or TOML config file (env LLMSIM_CONFIG)")
    for name, text in FLAGS.items():
        field = configuration.FIELDS[name]
        env = configuration.ENV_PREFIX + name.upper()
        default = (field.default if field.default is not msgspec.NODEFAULT
                   else field.default_factory())
        help_text = f"{text} (env {env}; default {default!r})"
        flag = "--" + name.replace("_", "-")
        if configuration._base_type(field.type) is bool and name.startswith("no_"):
            # BooleanOptionalAction reads any "--no-" flag as a negation: a plain switch.
            parser.add_argument(flag, dest=name, action="store_true",
                                default=argparse.SUPPRESS, help=help_text)
        elif configuration._base_type(field.type) is bool:
            parser.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction,
                                default=argparse.SUPPRESS, help=help_text)
        else:
            parser.add_argument(flag, dest=name, type=_flag_type(name),
                                default=argparse.SUPPRESS, help=help_text)
    return parser


class _UnsizedFormatter(argparse.HelpFormatter):
    """The formatter the parsers use while they are built. argparse makes one for every
    add_argument only to check its metavar, and HelpFormatter sizes each to the terminal,
    which imports shutil (and with it bz2, lzma and zlib: ~2.5 ms of every start). Built
    parsers switch back to HelpFormatter, so --help and usage errors fit the terminal."""

    def __init__(self, prog):
        super().__init__(prog, width=80)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="llmsim", description="Simulator of the OpenAI, Anthropic and Gemini HTTP APIs.",
        formatter_class=_UnsizedFormatter)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    flags = _config_flags()
    built = [
        parser,
        commands.add_parser("serve", help="run the prefork server", parents=[flags],
                            formatter_class=_UnsizedFormatter),
        commands.add_parser(
            "doctor", help="report tuning, build flags and the parser's SSE4.2 path; do not serve",
            parents=[flags], formatter_class=_UnsizedFormatter),
        commands.add_parser("version", help="print the version",
                            formatter_class=_UnsizedFormatter),
    ]
    for each in built:
        each.formatter_class = argparse.HelpFormatter
    return parser


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
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "version":
        sys.stdout.write(f"llmsim {__version__}\n")
        return 0
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return serve(args) if args.command == "serve" else doctor(args)
    except ConfigError as err:
        sys.stderr.write(f"llmsim: config error: {err}\n")
        return 2
    except LlmsimError as err:
        sys.stderr.write(f"llmsim: {err}\n")
        return 1
