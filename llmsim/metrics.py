"""Prometheus text exposition (format 0.0.4) of the node totals in the shared-memory segment.

Any worker answers /metrics for the whole node: the segment sums every worker slot plus the
counts of replaced workers, so counters never go backwards while workers come and go.
"""

from llmsim.core.shm import BUCKET_UPPER_NS, EMPTY, SERVING

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Bucket bounds in seconds, formatted once; observations land in (previous, le].
_LE = tuple(repr(ns / 1e9) for ns in BUCKET_UPPER_NS) + ("+Inf",)

_COUNTERS = (
    ("bytes_in", "llmsim_bytes_received_total", "Request bytes read from clients."),
    ("bytes_out", "llmsim_bytes_sent_total", "Response bytes written to clients."),
    ("parse_errors", "llmsim_parse_errors_total", "Requests rejected as malformed HTTP."),
    ("tokens_out", "llmsim_tokens_generated_total", "Simulated output tokens sent."),
)
_GAUGES = (
    ("open_connections", "llmsim_open_connections", "Client connections open now."),
    ("open_streams", "llmsim_open_streams", "Streamed responses in progress."),
    ("queued", "llmsim_queued_requests", "Requests waiting to be served."),
)
_HISTOGRAMS = (
    ("request_duration", "llmsim_request_duration_seconds",
     "Time from a complete request head to its answer."),
    ("ttft", "llmsim_ttft_seconds", "Time to first token of generated responses."),
    ("itl", "llmsim_itl_seconds", "Gap between consecutive streamed tokens."),
    ("e2e", "llmsim_stream_duration_seconds", "End-to-end duration of streamed responses."),
)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _header(out: list, name: str, kind: str, text: str) -> None:
    out.append(f"# HELP {name} {text}\n# TYPE {name} {kind}\n")


def _route_labels(route_id: int, route_names: list) -> str:
    """route="openai.chat_completions" with provider="openai" (the text before the dot)."""
    name = route_names[route_id] if route_id < len(route_names) else "none.unmatched"
    provider = name.partition(".")[0] if "." in name else ""
    return f'provider="{_label(provider)}",route="{_label(name)}"'


def _histogram(out: list, name: str, hist: dict) -> None:
    cumulative = 0
    for le, count in zip(_LE, hist["buckets"]):
        cumulative += count
        out.append(f'{name}_bucket{{le="{le}"}} {cumulative}\n')
    out.append(f"{name}_sum {hist['sum_ns'] / 1e9!r}\n{name}_count {cumulative}\n")


def prometheus_text(segment, route_names: list) -> bytes:
    """The /metrics body for `segment`; route_names[i] names route id i."""
    snap = segment.snapshot()
    out = []
    _header(out, "llmsim_requests_total", "counter",
            "Requests by route and status class (other: closed with no answer).")
    for (route_id, code), count in sorted(snap["requests"].items()):
        labels = _route_labels(route_id, route_names)
        out.append(f'llmsim_requests_total{{{labels},code="{code}"}} {count}\n')
    for key, name, text in _COUNTERS:
        _header(out, name, "counter", text)
        out.append(f"{name} {snap[key]}\n")
    for key, name, text in _GAUGES:
        _header(out, name, "gauge", text)
        out.append(f"{name} {snap[key]}\n")
    for key, name, text in _HISTOGRAMS:
        _header(out, name, "histogram", text)
        _histogram(out, name, snap[key])
    _header(out, "llmsim_workers", "gauge", "Workers this node is configured to run.")
    out.append(f"llmsim_workers {segment.expected_workers}\n")
    _header(out, "llmsim_worker_up", "gauge",
            "Per live worker process: 1 serving, 0 booting or draining.")
    for i in range(segment.nworkers):
        state = segment.worker_state(i)
        if state != EMPTY:
            out.append(f'llmsim_worker_up{{worker="{i}",pid="{segment.worker_pid(i)}"}} '
                       f"{int(state == SERVING)}\n")
    _header(out, "llmsim_config_generation", "gauge",
            "Generation of the configuration workers run.")
    out.append(f"llmsim_config_generation {segment.config_generation}\n")
    return "".join(out).encode()
