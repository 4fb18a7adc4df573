"""The requests the bench sends: one table entry per scenario.

A scenario is (name, method, path, request body, request content type). The baseline
serves, from memory, the exact body llmsim answered the same request with, so both send
the same body size and content type.
Scenarios here are driven by wrk, which reads a whole answer, Content-Length or chunked: a
stream with latency off (`chat_stream`) is one chunked answer, compared with nginx sending
the same event bytes. Streams timed event by event are measured by the streams part.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    name: str
    method: str
    path: str
    body: bytes
    content_type: str = "application/json"  # of the request body, if any


SCENARIOS = (
    # The HTTP core alone: parse, route, a fixed answer, write.
    Scenario(name="health", method="GET", path="/health", body=b""),
    Scenario(
        name="chat",
        method="POST",
        path="/v1/chat/completions",
        body=b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}],'
        b'"max_tokens":16}',
    ),
    Scenario(
        name="chat_2k",
        method="POST",
        path="/v1/chat/completions",
        body=b'{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are terse."},'
        b'{"role":"user","content":"' + b"Summarise this paragraph for me. " * 60 + b'"}],'
        b'"max_tokens":16}',
    ),
    Scenario(
        name="chat_stream",
        method="POST",
        path="/v1/chat/completions",
        body=b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}],'
        b'"max_tokens":50,"stream":true,"stream_options":{"include_usage":true}}',
    ),
    Scenario(
        name="embeddings",
        method="POST",
        path="/v1/embeddings",
        body=b'{"model":"text-embedding-3-small","input":"The quick brown fox."}',
    ),
)

HEALTH_PATH = "/health"


def by_name(name):
    for s in SCENARIOS:
        if s.name == name:
            return s
    raise KeyError(name)
