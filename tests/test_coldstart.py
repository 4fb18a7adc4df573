"""Start-up path: what `llmsim serve` imports, and where (master before fork, not workers)."""

import calendar
import email.utils
import gc
import os
import re
import subprocess
import sys

import pytest

from conftest import Server
from llmsim import cli
from llmsim.worker import http_date

# Modules the serving path has no use for; each one imported costs every start.
NOT_AT_START = ("email.utils", "pkgutil", "encodings.idna", "unicodedata", "yaml", "psutil",
                "importlib.metadata", "llmsim.doctor", "argparse", "shutil")

# Command lines `serve` parses without argparse, and ones it leaves to argparse.
PLAIN = [
    ["serve"],
    ["doctor"],
    ["serve", "--port", "9000", "--graceful-timeout=1.5", "--tune-governor", "--cpu-affinity",
     "off"],
    ["serve", "--no-tune-governor", "--no-latency", "--api-keys", "a,b", "--host=", "--seed",
     "7", "--port", "1", "--port", "2", "--api-keys=k=v"],
    ["doctor", "--config", "x.yaml", "--ttft", "200ms~5ms", "--tune-governor",
     "--no-tune-governor", "--latency-multiplier", "0.5"],
]
NOT_PLAIN = [
    [], ["version"], ["--help"], ["serve", "--help"], ["serve", "-h"], ["serve", "--po", "9"],
    ["serve", "--seed", "-1"], ["serve", "--port", "x"], ["serve", "--port"],
    ["serve", "--no-latency=1"], ["serve", "--tune-governor=yes"], ["serve", "extra"],
    ["serve", "--", "--port", "1"], ["serve", "--no-no-latency"], ["srv"],
]


@pytest.mark.parametrize("when", [0, 951782400, 1709164800, 1795879725, 4102444799,
                                  calendar.timegm((2026, 12, 31, 23, 59, 59))])
def test_http_date_is_the_imf_fixdate_email_utils_gives(when):
    assert http_date(when) == email.utils.formatdate(when, usegmt=True).encode()


def test_http_date_defaults_to_now():
    assert re.fullmatch(rb"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT",
                        http_date())


@pytest.fixture
def importtime_server(tmp_path, port):
    """`python -X importtime -I -m llmsim serve` with 2 workers; its stderr is the log."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSIM_")}
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-X", "importtime", "-I", "-m", "llmsim", "serve", "--port",
             str(port), "--workers", "2", "--cpu-affinity", "off"],
            env=env, cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT)
    srv = Server(proc, port, "127.0.0.1", log_path)
    yield srv
    srv.stop()


def _imported(log):
    """Module names in the order `-X importtime` reports them finished."""
    return re.findall(r"^import time:\s*\d+ \|\s*\d+ \| *(\S+)$", log, re.M)


def test_serve_imports_once_in_the_master_and_nothing_it_does_not_use(importtime_server):
    srv = importtime_server
    srv.wait_healthy()
    srv.stop()
    imported = _imported(srv.output())
    assert "llmsim.master" in imported
    # The interpreter's own start-up (site, and any .pth file of the installation) is not
    # llmsim's doing: only what llmsim adds to it counts.
    bare = subprocess.run([sys.executable, "-X", "importtime", "-I", "-c", "pass"],
                          capture_output=True, text=True, check=True).stderr
    added = set(imported) - set(_imported(bare))
    for name in NOT_AT_START:
        assert name not in added, f"{name} imported at start-up"
    # Workers inherit every module from the master: a module imported after fork would
    # appear once per worker.
    api = [name for name in imported if name.startswith("llmsim.")]
    assert "llmsim.api.gemini_generate" in api and "llmsim.api.openai_chat" in api
    assert sorted(api) == sorted(set(api))


@pytest.mark.parametrize("argv", [["version"], ["--help"]])
def test_main_leaves_garbage_collection_as_it_found_it(argv, capsys):
    assert gc.isenabled()
    try:
        cli.main(argv)
    except SystemExit:
        pass
    assert gc.isenabled()
    gc.disable()
    try:
        cli.main(["version"])
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize("argv", PLAIN)
@pytest.mark.parametrize("config_env", [None, "env.yaml"])
def test_plain_command_lines_parse_as_argparse_does(argv, config_env, monkeypatch):
    if config_env:
        monkeypatch.setenv("LLMSIM_CONFIG", config_env)
    else:
        monkeypatch.delenv("LLMSIM_CONFIG", raising=False)
    assert vars(cli._parse_plain(argv)) == vars(cli.build_parser().parse_args(argv))


@pytest.mark.parametrize("argv", NOT_PLAIN)
def test_other_command_lines_are_left_to_argparse(argv):
    assert cli._parse_plain(argv) is None
