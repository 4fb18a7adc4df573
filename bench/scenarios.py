"""The requests the bench sends: one table entry per scenario.

A scenario is a name, method, path (query included), request body, request content type,
extra request headers, and for another API's request the OpenAI scenario it is compared
with (`against`). The baseline serves, from memory, the exact body llmsim answered the same
request with, so both send the same body size and content type.
Scenarios here are driven by wrk, which reads a whole answer, Content-Length or chunked: a
stream with latency off (`chat_stream`, `anthropic_stream`, `gemini_stream`) is one chunked
answer, compared with nginx sending the same event bytes. The Anthropic and Gemini requests
ask for as many tokens as the OpenAI request they are compared with (all answers run to
the cap with latency off), so the ratio compares the cost of the same answer in each API's
shape. Streams timed event by event are measured by the streams part.
"""
from dataclasses import dataclass

import http1

@dataclass(frozen=True)
class Scenario:
    name: str
    method: str
    path: str
    body: bytes
    content_type: str = "application/json"  # of the request body, if any
    headers: tuple = ()                      # extra (name, value) request headers
    against: str = ""                        # the OpenAI scenario this one is compared with

    def request(self):
        """The request's bytes, as every client of the bench sends it."""
        return http1.request_bytes(self.method, self.path, self.body, self.content_type,
                                   headers=self.headers)


ANTHROPIC = (("anthropic-version", "2023-06-01"),)
CLAUDE = b'{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"Hello"}],' \
    b'"max_tokens":%b}'
GEMINI = "/v1beta/models/gemini-2.5-flash:"
GEMINI_BODY = b'{"contents":[{"role":"user","parts":[{"text":"Hello"}]}],' \
    b'"generationConfig":{"maxOutputTokens":%d}}'
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
    # The same answers in Anthropic's and Gemini's shapes, compared with chat and chat_stream.
    Scenario("anthropic_messages", "POST", "/v1/messages", CLAUDE % b"16", headers=ANTHROPIC,
             against="chat"),
    Scenario("anthropic_stream", "POST", "/v1/messages", CLAUDE % b'50,"stream":true',
             headers=ANTHROPIC, against="chat_stream"),
    Scenario("gemini_generate", "POST", GEMINI + "generateContent", GEMINI_BODY % 16,
             against="chat"),
    Scenario("gemini_stream", "POST", GEMINI + "streamGenerateContent?alt=sse",
             GEMINI_BODY % 50, against="chat_stream"),
    Scenario(
        name="embeddings",
        method="POST",
        path="/v1/embeddings",
        body=b'{"model":"text-embedding-3-small","input":"The quick brown fox."}',
    ),
    # Gemini's embedding of the same text at the same 1536 dimensions.
    Scenario("gemini_embed", "POST", "/v1beta/models/gemini-embedding-001:embedContent",
             b'{"content":{"parts":[{"text":"The quick brown fox."}]},'
             b'"outputDimensionality":1536}', against="embeddings"),
)

HEALTH_PATH = "/health"


def by_name(name):
    for s in SCENARIOS:
        if s.name == name:
            return s
    raise KeyError(name)
