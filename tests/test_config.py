"""Config: defaults, precedence (file < env < flags), and errors that name the field."""

import os
import subprocess
import sys

import pytest

from llmsim import config as configuration
from llmsim.cli import FLAGS, build_parser
from llmsim.config import Config, load, parse_cpu_list, worker_cpus
from llmsim.errors import ConfigError


def write(path, text):
    path.write_text(text)
    return str(path)


def test_defaults_match_the_interface():
    c = load(None, {}, environ={})
    assert (c.host, c.port, c.workers, c.cpu_affinity, c.backlog) == \
        ("127.0.0.1", 8080, 0, "auto", 4096)
    assert (c.max_head_bytes, c.max_headers, c.max_body_bytes) == (16384, 100, 8388608)
    assert (c.header_timeout, c.body_timeout, c.keepalive_timeout) == (10.0, 30.0, 75.0)
    assert (c.graceful_timeout, c.heartbeat_timeout) == (30.0, 10.0)
    assert (c.tune_governor, c.nofile_limit, c.api_keys, c.log_level) == (False, 0, [], "info")
    assert (c.latency, c.models, c.generators) == ({}, {}, {})


@pytest.mark.parametrize("name,text", [
    ("c.yaml", "port: 9001\nworkers: 3\nhost: 0.0.0.0\ngraceful_timeout: 5\n"),
    ("c.toml", 'port = 9001\nworkers = 3\nhost = "0.0.0.0"\ngraceful_timeout = 5\n'),
])
def test_precedence_defaults_file_env_flags(tmp_path, name, text):
    path = write(tmp_path / name, text)
    c = load(path, {}, environ={})
    assert (c.port, c.workers, c.host, c.graceful_timeout) == (9001, 3, "0.0.0.0", 5.0)
    assert c.backlog == 4096                                      # default kept
    env = {"LLMSIM_PORT": "9002", "LLMSIM_WORKERS": "4"}
    c = load(path, {}, environ=env)
    assert (c.port, c.workers, c.host) == (9002, 4, "0.0.0.0")   # env beats file
    c = load(path, {"port": 9003}, environ=env)
    assert (c.port, c.workers) == (9003, 4)                       # flag beats env


def test_env_values_are_parsed_by_field_type():
    c = load(None, {}, environ={"LLMSIM_API_KEYS": "k1, k2,", "LLMSIM_TUNE_GOVERNOR": "true",
                                "LLMSIM_BODY_TIMEOUT": "2.5", "LLMSIM_MODELS": '{"aliases": {"m": "gpt-4o"}}',
                                "LLMSIM_CPU_AFFINITY": "0"})
    assert c.api_keys == ["k1", "k2"]
    assert c.tune_governor is True
    assert c.body_timeout == 2.5
    assert c.models == {"aliases": {"m": "gpt-4o"}}
    assert c.cpu_affinity == "0"


@pytest.mark.parametrize("text,message", [
    ("port: '8080'\n", "bad.yaml: port: Expected `int`, got `str`"),
    ("port: 70000\n", "bad.yaml: port: Expected `int` <= 65535"),
    ("prot: 1\n", "bad.yaml: Object contains unknown field `prot`"),
    ("log_level: loud\n", "bad.yaml: log_level: Invalid enum value 'loud'"),
    ("api_keys: [1]\n", "bad.yaml: api_keys[0]: Expected `str`, got `int`"),
    ("cpu_affinity: 3-1\n", "bad.yaml: cpu_affinity: range '3-1' runs backwards"),
    ("cpu_affinity: all\n", "bad.yaml: cpu_affinity: expected 'auto', 'off' or a CPU list"),
    ("- port\n", "bad.yaml: expected a mapping of settings at the top level"),
    ("port: [\n", "bad.yaml: while parsing"),
])
def test_file_errors_name_the_field(tmp_path, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "bad.yaml", text)
    with pytest.raises(ConfigError) as err:
        load("bad.yaml", {}, environ={})
    assert str(err.value).startswith(message)


def test_other_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="No such file"):
        load(str(tmp_path / "missing.yaml"), {}, environ={})
    with pytest.raises(ConfigError, match="unknown config format '.ini'"):
        load(write(tmp_path / "c.ini", "port=1"), {}, environ={})
    with pytest.raises(ConfigError, match=r"c.toml: .*line 1"):
        load(write(tmp_path / "c.toml", "port = = 1"), {}, environ={})
    assert load(write(tmp_path / "empty.yaml", ""), {}, environ={}) == Config()


def test_env_and_override_errors_name_their_source():
    with pytest.raises(ConfigError) as err:
        load(None, {}, environ={"LLMSIM_PORT": "http"})
    assert str(err.value) == "LLMSIM_PORT: Expected `int`, got `str`"
    with pytest.raises(ConfigError) as err:
        load(None, {"workers": -1}, environ={})
    assert str(err.value) == "workers: Expected `int` >= 0"
    with pytest.raises(ConfigError, match="nope: not a configuration field"):
        load(None, {"nope": 1}, environ={})


def test_parse_cpu_list():
    assert parse_cpu_list("0") == [0]
    assert parse_cpu_list("3,0-2,2") == [3, 0, 1, 2]
    for bad in ("", "a", "1-", "-1", "2-1", "1,,2"):
        with pytest.raises(ValueError):
            parse_cpu_list(bad)


def test_worker_cpus_plan():
    allowed = sorted(os.sched_getaffinity(0))
    assert worker_cpus(Config()) == allowed
    assert worker_cpus(Config(workers=3, cpu_affinity="off")) == [None] * 3
    assert worker_cpus(Config(workers=len(allowed) + 1)) == allowed + allowed[:1]
    assert worker_cpus(Config(cpu_affinity=str(allowed[-1]))) == [allowed[-1]]
    with pytest.raises(ConfigError, match="cpu_affinity: cpu 4095 is not among"):
        worker_cpus(Config(cpu_affinity="4095"))


def test_every_flag_is_a_field_with_its_type():
    assert set(FLAGS) <= set(configuration.FIELDS)
    args = build_parser().parse_args(["serve", "--port", "9000", "--graceful-timeout", "1.5",
                                      "--tune-governor", "--cpu-affinity", "off"])
    assert (args.port, args.graceful_timeout, args.tune_governor, args.cpu_affinity) == \
        (9000, 1.5, True, "off")
    assert not hasattr(build_parser().parse_args(["serve"]), "port")   # unset: no override


def run_cli(tmp_path, *args, env=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSIM_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-I", "-m", "llmsim", *args], cwd=tmp_path,
                          env=full_env, capture_output=True, text=True, timeout=60)


def test_cli_config_error_exits_2_with_the_field(tmp_path):
    write(tmp_path / "bad.yaml", "port: '8080'\n")
    res = run_cli(tmp_path, "serve", "--config", "bad.yaml")
    assert res.returncode == 2
    assert res.stderr == "llmsim: config error: bad.yaml: port: Expected `int`, got `str`\n"
    res = run_cli(tmp_path, "serve", env={"LLMSIM_WORKERS": "many"})
    assert res.returncode == 2
    assert "llmsim: config error: LLMSIM_WORKERS: Expected `int`, got `str`" in res.stderr


def test_cli_refuses_to_serve_without_the_compiled_core(tmp_path):
    # Importing a module whose sys.modules entry is None raises ImportError: as if not built.
    code = ("import sys; sys.modules['llmsim.core.http'] = None\n"
            "from llmsim.cli import main\n"
            f"sys.exit(main(['serve', '--port', '1']))")
    res = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)
    assert res.returncode == 1
    assert res.stderr.startswith("llmsim: the compiled core could not be loaded: ")
    assert "llmsim.core.http" in res.stderr
    assert "reinstall with a C compiler (pip install --force-reinstall llmsim)" in res.stderr


def test_cli_version(tmp_path):
    res = run_cli(tmp_path, "version")
    assert res.returncode == 0 and res.stdout.startswith("llmsim ")


def test_latency_flags_reach_the_config(tmp_path):
    from llmsim.cli import build_parser, _load_config
    config, _ = _load_config(build_parser().parse_args(
        ["serve", "--no-latency", "--seed", "7", "--ttft", "120ms", "--itl", "8ms~2ms",
         "--latency-multiplier", "0.5"]))
    assert (config.no_latency, config.seed, config.ttft, config.itl,
            config.latency_multiplier) == (True, 7, "120ms", "8ms~2ms", 0.5)
    config, _ = _load_config(build_parser().parse_args(["serve"]))
    assert config.no_latency is False and config.seed is None


def test_bad_latency_flag_is_a_config_error_naming_the_field():
    res = subprocess.run([sys.executable, "-I", "-m", "llmsim", "serve", "--itl", "quick"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert "itl" in res.stderr and "quick" in res.stderr


@pytest.mark.parametrize("section,words", [
    ("models:\n  aliases: 5\n", "models"),
    ("generators:\n  default: nosuch\n", "generators"),
])
def test_bad_models_or_generators_section_stops_serve_with_the_field(tmp_path, section, words):
    path = tmp_path / "bad.yaml"
    path.write_text(section)
    res = subprocess.run([sys.executable, "-I", "-m", "llmsim", "serve", "--config", str(path)],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert words in res.stderr
