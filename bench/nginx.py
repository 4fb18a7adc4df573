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


# nginx reads a config token into a 4 KiB buffer: longer bodies are served as the
# concatenation of pieces, each a `geo` variable (still from memory, no file I/O).
PIECE_CHARS = 1000


def quote(body, expand=True):
    """body as the inside of a single-quoted nginx string; `expand`: in `return` text, where
    $variables expand (a literal dollar is written ${dollar})."""
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    text = text.replace("\\", "\\\\").replace("'", "\\'")
    return text.replace("$", "${dollar}") if expand else text


def pieces(name, body):
    """(geo blocks defining $name_0.., the `return` text naming them) for a long body."""
    text = body.decode("utf-8")
    parts = [text[i:i + PIECE_CHARS] for i in range(0, len(text), PIECE_CHARS)]
    geo = "".join(f"    geo ${name}_{i} {{\n        default '{quote(part, expand=False)}';\n    }}\n"
                  for i, part in enumerate(parts))
    return geo, "".join(f"${{{name}_{i}}}" for i in range(len(parts)))


def quote_type(content_type):
    if any(c in content_type for c in "'\\$\r\n"):
        raise ValueError(f"content type unsafe for an nginx config: {content_type!r}")
    return content_type


def location(path, content_type, text):
    return (f"        location = {path} {{\n"
            f"            default_type '{quote_type(content_type)}';\n"
            f"            return 200 '{text}';\n"
            f"        }}\n")


def write_config(prefix, port, workers, path, content_type, body, worker_connections=4096,
                 reuseport=False):
    """nginx.conf answering path (its query ignored) with body, and the health path (unless
    it is path) with ok."""
    with open(TEMPLATE) as f:
        template = f.read()
    answers = {HEALTH_PATH: ("text/plain", b"ok"), path.partition("?")[0]: (content_type, body)}
    geos, locations = [], []
    for i, (p, (ctype, text)) in enumerate(answers.items()):
        if len(text) > PIECE_CHARS:
            geo, text = pieces(f"body{i}", text)
            geos.append(geo)
        else:
            text = quote(text)
        locations.append(location(p, ctype, text))
    conf = template.format(
        user=f"{pwd.getpwuid(os.getuid()).pw_name} {grp.getgrgid(os.getgid()).gr_name}",
        prefix=prefix, port=port, workers=workers, worker_connections=worker_connections,
        listen_options=" reuseport" if reuseport else "",
        pieces="".join(geos), locations="\n".join(locations),
    )
    conf_path = os.path.join(prefix, "nginx.conf")
    with open(conf_path, "w") as f:
        f.write(conf)
    return conf_path


def start(prefix, port, workers, path, content_type, body, wrapper=(),
          worker_connections=4096, reuseport=False):
    """Start nginx in the foreground (daemon off) under prefix, its argv after wrapper
    (e.g. valgrind); Server.stop sends TERM (fast shutdown). reuseport: one listening
    socket per worker, the kernel spreading connections over them (as llmsim's workers)."""
    os.makedirs(prefix, exist_ok=True)
    conf = write_config(prefix, port, workers, path, content_type, body, worker_connections,
                        reuseport)
    argv = [*wrapper, binary(), "-p", prefix, "-c", conf, "-g", "daemon off;"]
    return Server("nginx", argv, port, os.path.join(prefix, "stdout.log"))

