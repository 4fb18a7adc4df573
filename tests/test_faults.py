"""Injected faults (llmsim.policy.faults) against a real server with the official SDKs:
errors in each provider's shape, retry-after honoured, dropped connections, streams cut
short, seeded reproducibility and config validation."""

import json
import re
import socket
import time

import anthropic
import httpx
import httpx2
import openai
import pytest
import yaml
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from provider_fakes import handlers

from llmsim import config
from llmsim.api.openai_chat import ChatCompletions
from llmsim.errors import ConfigError

GPT, CLAUDE, GEMINI = "gpt-4o-mini", "claude-haiku-4-5", "gemini-2.5-flash"
# The SDKs ride on httpx or its fork httpx2, and OpenAI's wraps transport errors.
DROPPED = (httpx.TransportError, httpx2.TransportError, openai.APIConnectionError)
CHAT = {"model": GPT, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}


def start(server, tmp_path, settings, *args):
    path = tmp_path / "faults.yaml"
    path.write_text(yaml.safe_dump({"no_latency": True, **settings}))
    return server("--workers", "1", "--config", path, *args)


@pytest.fixture
def srv(server, tmp_path):
    """A server whose `faults: []` turns on the x-llmsim-fault header, with no rule."""
    return start(server, tmp_path, {"faults": []})


def forced(value):
    return {"x-llmsim-fault": value}


def oai(srv, value, retries=0):
    return openai.OpenAI(base_url=srv.base_url + "/v1", api_key="k", max_retries=retries,
                         default_headers=forced(value))


def claude(srv, value, retries=0):
    return anthropic.Anthropic(base_url=srv.base_url, api_key="k", max_retries=retries,
                               default_headers=forced(value))


def gem(srv, value):
    return genai.Client(api_key="k", http_options=types.HttpOptions(
        base_url=srv.base_url, headers=forced(value)))


def generate(srv, value):
    client = gem(srv, value)   # kept alive: a collected Client closes its connection pool
    return client.models.generate_content(model=GEMINI, contents="hi")


def chat(client):
    return client.chat.completions.create(model=GPT, max_tokens=5,
                                          messages=[{"role": "user", "content": "hi"}])


def message(client, **kw):
    return client.messages.create(model=CLAUDE, max_tokens=5,
                                  messages=[{"role": "user", "content": "hi"}], **kw)


@pytest.mark.parametrize("status, cls", [
    (400, openai.BadRequestError), (401, openai.AuthenticationError),
    (403, openai.PermissionDeniedError), (404, openai.NotFoundError),
    (429, openai.RateLimitError), (500, openai.InternalServerError),
    (502, openai.InternalServerError), (504, openai.InternalServerError)])
def test_openai_error_faults(srv, status, cls):
    with pytest.raises(cls) as info:
        chat(oai(srv, f"error={status}"))
    assert info.value.status_code == status
    assert set(info.value.body) == {"message", "type", "param", "code"}
    assert info.value.response.headers["x-request-id"].startswith("req_")


def test_openai_overload_is_its_503(srv):
    with pytest.raises(openai.InternalServerError) as info:
        chat(oai(srv, "error=529"))
    assert info.value.status_code == 503
    assert info.value.body["type"] == "server_error"
    assert "overloaded" in info.value.body["message"]


@pytest.mark.parametrize("status, cls, kind", [
    (400, anthropic.BadRequestError, "invalid_request_error"),
    (401, anthropic.AuthenticationError, "authentication_error"),
    (403, anthropic.PermissionDeniedError, "permission_error"),
    (404, anthropic.NotFoundError, "not_found_error"),
    (413, anthropic.APIStatusError, "request_too_large"),
    (429, anthropic.RateLimitError, "rate_limit_error"),
    (500, anthropic.InternalServerError, "api_error"),
    (504, anthropic.InternalServerError, "timeout_error"),
    (529, anthropic.OverloadedError, "overloaded_error")])
def test_anthropic_error_faults(srv, status, cls, kind):
    with pytest.raises(cls) as info:
        message(claude(srv, f"error={status}"))
    assert info.value.status_code == status
    assert info.value.body["type"] == "error"
    assert info.value.body["error"]["type"] == kind
    assert info.value.request_id.startswith("req_")


@pytest.mark.parametrize("status, cls, name, code", [
    (400, genai_errors.ClientError, "INVALID_ARGUMENT", 400),
    (403, genai_errors.ClientError, "PERMISSION_DENIED", 403),
    (404, genai_errors.ClientError, "NOT_FOUND", 404),
    (429, genai_errors.ClientError, "RESOURCE_EXHAUSTED", 429),
    (500, genai_errors.ServerError, "INTERNAL", 500),
    (503, genai_errors.ServerError, "UNAVAILABLE", 503),
    (529, genai_errors.ServerError, "UNAVAILABLE", 503)])
def test_gemini_error_faults(srv, status, cls, name, code):
    with pytest.raises(cls) as info:
        generate(srv, f"error={status}")
    assert info.value.code == code
    assert info.value.status == name


def test_retry_after_is_honoured_by_the_sdks(srv):
    t0 = time.monotonic()
    with pytest.raises(openai.InternalServerError):
        chat(oai(srv, "error=529, retry_after=2", retries=1))
    assert time.monotonic() - t0 >= 2.0   # the SDK's own back-off would be under 1 s
    t0 = time.monotonic()
    with pytest.raises(anthropic.OverloadedError) as info:
        message(claude(srv, "error=529, retry_after=2", retries=1))
    assert time.monotonic() - t0 >= 2.0
    assert info.value.response.headers["retry-after"] == "2"
    with pytest.raises(genai_errors.ServerError) as ginfo:
        generate(srv, "error=503, retry_after=3")
    assert ginfo.value.details["error"]["details"] == [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "3s"}]


def raw(srv, request):
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(request)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def test_disconnect_closes_with_no_answer(srv):
    body = json.dumps(CHAT).encode()
    req = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json"
           b"\r\nx-llmsim-fault: disconnect\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
    assert raw(srv, req) == b""
    with pytest.raises(openai.APIConnectionError):
        chat(oai(srv, "disconnect"))
    with pytest.raises(anthropic.APIConnectionError):
        message(claude(srv, "disconnect"))
    with pytest.raises(DROPPED):
        generate(srv, "disconnect")
    # The server goes on answering.
    assert httpx.post(srv.base_url + "/v1/chat/completions", json=CHAT).status_code == 200


def test_metrics_count_every_request_dropped_ones_too(srv):
    made = 0
    for value in ("disconnect", "off", "disconnect", "error=500", "disconnect"):
        try:
            httpx.post(srv.base_url + "/v1/chat/completions", json=CHAT, headers=forced(value))
        except httpx.TransportError:
            pass
        made += 1
    with pytest.raises(anthropic.APIConnectionError):
        message(claude(srv, "disconnect"))
    with pytest.raises(DROPPED):
        generate(srv, "disconnect")
    made += 2
    counts = {}
    for m in re.finditer(r'^llmsim_requests_total\{provider="[^"]*",route="([^"]*)",'
                         r'code="([^"]*)"\} (\d+)$', httpx.get(srv.base_url + "/metrics").text,
                         re.M):
        if not m.group(1).startswith("admin."):   # the start-up health checks
            counts[m.groups()[:2]] = int(m.group(3))
    assert sum(counts.values()) == made
    assert counts == {("openai.chat_completions", "other"): 3,
                      ("openai.chat_completions", "2xx"): 1,
                      ("openai.chat_completions", "5xx"): 1,
                      ("anthropic.messages", "other"): 1,
                      ("gemini.generate_content", "other"): 1}


def test_openai_stream_abort_drops_the_connection(srv):
    stream = oai(srv, "stream_abort=2").chat.completions.create(
        model=GPT, max_tokens=20, stream=True, messages=[{"role": "user", "content": "hi"}])
    got = []
    with pytest.raises(DROPPED):
        for chunk in stream:
            got.append(chunk)
    assert len(got) == 2
    assert all(c.choices[0].finish_reason is None for c in got)


def test_stream_abort_from_the_timer_wheel(server, tmp_path):
    # With latency the cut falls due on a later tick than the request's read.
    srv = start(server, tmp_path, {"faults": [], "no_latency": False, "ttft": "30ms",
                                   "itl": "5ms"})
    got = []
    with pytest.raises(DROPPED):
        for chunk in oai(srv, "stream_abort=4").chat.completions.create(
                model=GPT, max_tokens=20, stream=True,
                messages=[{"role": "user", "content": "hi"}]):
            got.append(chunk)
    assert len(got) == 4
    assert httpx.post(srv.base_url + "/v1/chat/completions", json=CHAT).status_code == 200


def test_anthropic_stream_abort_sends_an_overloaded_error_event(srv):
    events = []
    with pytest.raises(anthropic.APIStatusError) as info:
        for event in message(claude(srv, "stream_abort=3"), stream=True):
            events.append(event.type)
    # Stream event 0 is the head (message_start, content_block_start), then one per token.
    assert events == ["message_start", "content_block_start"] + ["content_block_delta"] * 2
    assert info.value.body == {"type": "error",
                               "error": {"type": "overloaded_error", "message": "Overloaded"}}


def test_gemini_stream_abort_drops_the_connection(srv):
    chunks = []
    client = gem(srv, "stream_abort=3")
    with pytest.raises(DROPPED):
        for c in client.models.generate_content_stream(
                model=GEMINI, contents="hello there, tell me a long story"):
            chunks.append(c)
    assert len(chunks) == 2   # event 0 (the head) sends nothing on Gemini; then one a token
    assert all(c.candidates[0].finish_reason is None for c in chunks)


def test_bad_override_is_a_400_naming_the_setting(srv):
    r = httpx.post(srv.base_url + "/v1/chat/completions", json=CHAT,
                   headers=forced("error=503, retry_after=x"))
    assert r.status_code == 400 and "retry_after=x" in r.json()["error"]["message"]
    r = httpx.post(srv.base_url + "/v1/chat/completions", json=CHAT, headers=forced("error=500, "
                                                                                    "retry_after=1"))
    assert r.status_code == 400 and "retry_after" in r.json()["error"]["message"]


def statuses(srv, n):
    with httpx.Client(base_url=srv.base_url) as c:
        return [c.post("/v1/chat/completions", json=CHAT).status_code for _ in range(n)]


RULES = [{"rate": 0.3, "kind": "error", "status": 503, "provider": "openai"},
         {"rate": 0.2, "kind": "error", "status": 429, "route": "openai.chat_completions"}]


def test_seeded_faults_repeat(server, tmp_path):
    runs = []
    for seed in (7, 7, 8):
        srv = start(server, tmp_path, {"seed": seed, "faults": RULES})
        runs.append(statuses(srv, 40))
        srv.stop()
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    assert set(runs[0]) == {200, 429, 503}
    assert 0.2 < runs[0].count(200) / 40 < 0.9


def test_filters_limit_a_rule(server, tmp_path):
    srv = start(server, tmp_path, {"faults": [
        {"rate": 1, "kind": "error", "status": 500, "model": "gpt-4o"},
        {"rate": 1, "kind": "error", "status": 403, "provider": "gemini"}]})
    assert statuses(srv, 3) == [200] * 3   # gpt-4o-mini is not gpt-4o
    r = httpx.post(srv.base_url + "/v1/chat/completions", json={**CHAT, "model": "gpt-4o"})
    assert r.status_code == 500
    r = httpx.post(srv.base_url + f"/v1beta/models/{GEMINI}:generateContent",
                   json={"contents": [{"parts": [{"text": "hi"}]}]})
    assert r.status_code == 403 and r.json()["error"]["status"] == "PERMISSION_DENIED"
    # Forcing "off" skips the rules for one request.
    r = httpx.post(srv.base_url + "/v1/chat/completions", json={**CHAT, "model": "gpt-4o"},
                   headers=forced("off"))
    assert r.status_code == 200


def test_no_faults_section_no_faults(server):
    srv = server("--workers", "1", "--no-latency")
    with httpx.Client(base_url=srv.base_url) as c:
        for _ in range(30):
            r = c.post("/v1/chat/completions", json=CHAT, headers=forced("error=500"))
            assert r.status_code == 200   # the header is not looked at


@pytest.mark.parametrize("rule, message", [
    ({"rate": 1.5, "kind": "disconnect"}, "faults[0].rate: expected a probability in 0..1"),
    ({"rate": 1, "kind": "error", "status": 418}, "faults[0].status: expected one of"),
    ({"rate": 1, "kind": "error"}, "faults[0].status: required for kind 'error'"),
    ({"rate": 1, "kind": "error", "status": 500, "retry_after": 1},
     "faults[0].retry_after: only for status 429, 503 or 529"),
    ({"rate": 1, "kind": "stream_abort"}, "faults[0].after: kind 'stream_abort' needs"),
    ({"rate": 1, "kind": "disconnect", "after": 2}, "faults[0].after: only for kind"),
    ({"rate": 1, "kind": "explode"}, "faults: Invalid enum value 'explode'"),
    ({"rate": 1, "kind": "disconnect", "provider": []}, "faults[0].provider: expected a name"),
])
def test_config_errors_name_the_field(tmp_path, rule, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"faults": [rule]}))
    with pytest.raises(ConfigError) as info:
        config.load(str(path), environ={})
    assert message in str(info.value)


def test_faults_from_the_environment():
    env = {"LLMSIM_FAULTS": json.dumps([{"rate": 0.5, "kind": "disconnect"}])}
    assert config.load(environ=env).faults == [{"rate": 0.5, "kind": "disconnect"}]


def test_unconfigured_handlers_are_not_wrapped():
    # Without faults: or rate_limits: the router holds the compiled chat handler itself.
    assert type(handlers()["openai.chat_completions"][2]) is ChatCompletions
