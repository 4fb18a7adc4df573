"""The nginx baseline: a config from nginx.conf.template under a private temp prefix."""
import grp
import os
import pwd
import shutil
import subprocess

from procs import Server
from scenarios import HEALTH_PATH

TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nginx.conf.template")


def binary():
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


def version():
    out = subprocess.run([binary(), "-v"], capture_output=True, text=True).stderr
    return out.strip().rpartition("/")[2] or "unknown"


def quote(body):
    """body as the inside of a single-quoted nginx string in `return` text."""
    text = body.decode("utf-8")
    text = text.replace("\\", "\\\\").replace("'", "\\'").replace("$", "${dollar}")
    return text


def quote_type(content_type):
    if any(c in content_type for c in "'\\$\r\n"):
        raise ValueError(f"content type unsafe for an nginx config: {content_type!r}")
    return content_type


def location(path, content_type, body):
    return (f"        location = {path} {{\n"
            f"            default_type '{quote_type(content_type)}';\n"
            f"            return 200 '{quote(body)}';\n"
            f"        }}\n")


def write_config(prefix, port, workers, path, content_type, body):
    """nginx.conf answering path with body, and the health path (unless it is path) with ok."""
    with open(TEMPLATE) as f:
        template = f.read()
    answers = {HEALTH_PATH: ("text/plain", b"ok"), path: (content_type, body)}
    conf = template.format(
        user=f"{pwd.getpwuid(os.getuid()).pw_name} {grp.getgrgid(os.getgid()).gr_name}",
        prefix=prefix, port=port, workers=workers,
        locations="\n".join(location(p, *a) for p, a in answers.items()),
    )
    conf_path = os.path.join(prefix, "nginx.conf")
    with open(conf_path, "w") as f:
        f.write(conf)
    return conf_path


def start(prefix, port, workers, path, content_type, body, wrapper=()):
    """Start nginx in the foreground (daemon off) under prefix, its argv after wrapper
    (e.g. valgrind); Server.stop sends TERM (fast shutdown)."""
    os.makedirs(prefix, exist_ok=True)
    conf = write_config(prefix, port, workers, path, content_type, body)
    argv = [*wrapper, binary(), "-p", prefix, "-c", conf, "-g", "daemon off;"]
    return Server("nginx", argv, port, os.path.join(prefix, "stdout.log"))

