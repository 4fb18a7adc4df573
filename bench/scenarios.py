"""The requests the bench sends: one table entry per scenario.

A scenario is (name, method, path, request body, request content type). The baseline
serves, from memory, the exact body llmsim answered the same request with, so both send
the same body size and content type.
Scenarios here are driven by wrk, so the answer must be a single Content-Length response;
streamed answers need a client that times events and are not wrk scenarios.
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
)

HEALTH_PATH = "/health"


def by_name(name):
    for s in SCENARIOS:
        if s.name == name:
            return s
    raise KeyError(name)
