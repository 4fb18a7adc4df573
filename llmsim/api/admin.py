"""Operational endpoints: liveness, readiness, version and Prometheus metrics."""

import msgspec

from llmsim import __version__
from llmsim.core.router import Route

JSON = b"content-type: application/json\r\n"
TEXT = b"content-type: text/plain; charset=utf-8\r\n"
PROMETHEUS = b"content-type: text/plain; version=0.0.4; charset=utf-8\r\n"


def routes(ctx):
    health = (200, JSON, b'{"status":"ok"}')
    version = (200, JSON, msgspec.json.encode({"name": "llmsim", "version": __version__}))

    def get_health(req):
        return health

    def get_ready(req):
        seg = ctx.segment
        if seg is None or seg.all_serving():
            return 200, JSON, b'{"status":"ready"}'
        return 503, JSON, b'{"status":"starting"}'

    def get_version(req):
        return version

    def get_metrics(req):
        from llmsim.metrics import prometheus_text
        return 200, PROMETHEUS, prometheus_text(ctx.segment, ctx.route_names)

    return [
        Route(b"GET", "/health", "admin.health", get_health),
        Route(b"GET", "/ready", "admin.ready", get_ready),
        Route(b"GET", "/version", "admin.version", get_version),
        Route(b"GET", "/metrics", "admin.metrics", get_metrics),
    ]
