"""Rate limits (llmsim.policy.ratelimit) against a real prefork server: one budget per node
across workers, per API key, each provider's 429 and rate-limit headers."""

import time

import anthropic
import httpx
import openai
import pytest
import yaml
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from test_metrics_routes import requests_by_label

from llmsim import config
from llmsim.core.shm import RATE_BUCKETS, Segment
from llmsim.errors import ConfigError
from llmsim.policy.ratelimit import go_duration, token_cost

GPT, CLAUDE, GEMINI = "gpt-4o-mini", "claude-haiku-4-5", "gemini-2.5-flash"
CHAT = {"model": GPT, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}


def start(server, tmp_path, limits, *args, workers=1):
    path = tmp_path / "limits.yaml"
    path.write_text(yaml.safe_dump({"no_latency": True, "rate_limits": limits}))
    return server("--workers", workers, "--config", path, *args)


def test_the_limit_is_per_node_across_workers(server, tmp_path):
    srv = start(server, tmp_path, {"requests_per_minute": 6}, workers=2)
    assert len(srv.workers()) == 2
    codes = []
    for _ in range(24):   # a fresh connection each: SO_REUSEPORT spreads them on both workers
        codes.append(httpx.post(srv.base_url + "/v1/chat/completions", json=CHAT,
                                headers={"connection": "close"}).status_code)
    # A minute's budget at once, refilled at one request per 10 s: per-worker buckets would
    # have let 12 through.
    assert codes[:6] == [200] * 6
    assert codes.count(200) <= 7 and codes.count(429) >= 17


def test_openai_headers_count_down_then_429(server, tmp_path):
    srv = start(server, tmp_path, {"requests_per_minute": 3, "tokens_per_minute": 10000})
    client = openai.OpenAI(base_url=srv.base_url + "/v1", api_key="k", max_retries=0)
    left = []
    for _ in range(3):
        r = client.chat.completions.with_raw_response.create(
            model=GPT, max_tokens=5, messages=[{"role": "user", "content": "hi"}])
        h = r.headers
        assert h["x-ratelimit-limit-requests"] == "3"
        assert h["x-ratelimit-limit-tokens"] == "10000"
        assert h["x-ratelimit-reset-requests"].endswith("s")
        left.append((int(h["x-ratelimit-remaining-requests"]),
                     int(h["x-ratelimit-remaining-tokens"])))
    assert [n for n, _ in left] == [2, 1, 0]
    assert left[0][1] > left[1][1] > left[2][1]
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model=GPT, max_tokens=5,
                                       messages=[{"role": "user", "content": "hi"}])
    err = info.value
    assert err.body["code"] == "rate_limit_exceeded" and err.body["type"] == "requests"
    assert int(err.response.headers["retry-after"]) >= 1
    assert err.response.headers["x-ratelimit-remaining-requests"] == "0"


def test_tokens_per_minute(server, tmp_path):
    srv = start(server, tmp_path, {"tokens_per_minute": 200})
    url = srv.base_url + "/v1/chat/completions"
    # An answer of all 120 tokens it asked for: nothing goes back when it ends.
    assert httpx.post(url, json={**CHAT, "max_tokens": 120},
                      headers={"x-llmsim-latency": "tokens=120"}).status_code == 200
    r = httpx.post(url, json={**CHAT, "max_tokens": 120})
    assert r.status_code == 429
    assert r.json()["error"]["type"] == "tokens"
    assert "x-ratelimit-remaining-requests" not in r.headers
    assert httpx.post(url, json={**CHAT, "max_tokens": 20}).status_code == 200


def test_anthropic_headers_and_429(server, tmp_path):
    srv = start(server, tmp_path, {"requests_per_minute": 2, "tokens_per_minute": 5000})
    client = anthropic.Anthropic(base_url=srv.base_url, api_key="k", max_retries=0)
    left = []
    for _ in range(2):
        r = client.messages.with_raw_response.create(
            model=CLAUDE, max_tokens=5, messages=[{"role": "user", "content": "hi"}])
        h = r.headers
        for name in ("requests", "tokens", "input-tokens", "output-tokens"):
            assert f"anthropic-ratelimit-{name}-limit" in h
            assert h[f"anthropic-ratelimit-{name}-reset"].endswith("Z")
        left.append(int(h["anthropic-ratelimit-requests-remaining"]))
    assert left == [1, 0]
    with pytest.raises(anthropic.RateLimitError) as info:
        client.messages.create(model=CLAUDE, max_tokens=5,
                               messages=[{"role": "user", "content": "hi"}])
    assert info.value.body["error"]["type"] == "rate_limit_error"
    assert int(info.value.response.headers["retry-after"]) >= 1


def test_gemini_429_carries_retry_info(server, tmp_path):
    srv = start(server, tmp_path, {"requests_per_minute": 1})
    client = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=srv.base_url))
    client.models.generate_content(model=GEMINI, contents="hi")
    with pytest.raises(genai_errors.ClientError) as info:
        client.models.generate_content(model=GEMINI, contents="hi")
    assert info.value.code == 429 and info.value.status == "RESOURCE_EXHAUSTED"
    (retry,) = info.value.details["error"]["details"]
    assert retry["@type"] == "type.googleapis.com/google.rpc.RetryInfo"
    assert int(retry["retryDelay"].rstrip("s")) >= 1


def test_each_key_has_its_own_budget(server, tmp_path):
    srv = start(server, tmp_path, {"requests_per_minute": 2}, "--api-keys", "k1,k2")
    one = openai.OpenAI(base_url=srv.base_url + "/v1", api_key="k1", max_retries=0)
    two = openai.OpenAI(base_url=srv.base_url + "/v1", api_key="k2", max_retries=0)
    one.models.list()
    one.models.list()
    with pytest.raises(openai.RateLimitError):
        one.models.list()
    assert two.models.list().data   # k2's budget is untouched


LONG = "word " * 200   # ~250 tokens of body: over the whole minute's 100 with its output


def test_a_request_over_a_minutes_tokens_is_refused_for_good(server, tmp_path):
    srv = start(server, tmp_path, {"requests_per_minute": 10, "tokens_per_minute": 100})
    # The SDK retries 429s twice by default: x-should-retry: false stops it.
    client = openai.OpenAI(base_url=srv.base_url + "/v1", api_key="k", max_retries=2)
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model=GPT, max_tokens=5,
                                       messages=[{"role": "user", "content": LONG}])
    err = info.value
    assert err.body["type"] == "tokens" and err.body["code"] == "rate_limit_exceeded"
    requested = sum(token_cost(err.request.content))
    assert err.body["message"] == (
        f"Request too large for {GPT} on tokens per min (TPM): Limit 100, Requested "
        f"{requested}. The input or output tokens must be reduced in order to run "
        f"successfully.")
    h = err.response.headers
    assert "retry-after" not in h and h["x-should-retry"] == "false"
    # Nothing was charged: both budgets are still whole.
    assert h["x-ratelimit-remaining-requests"] == "10"
    assert h["x-ratelimit-remaining-tokens"] == "100"
    assert requests_by_label(srv)[("openai", "openai.chat_completions", "4xx")] == 1
    r = client.chat.completions.with_raw_response.create(
        model=GPT, max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    assert r.headers["x-ratelimit-remaining-requests"] == "9"


def test_anthropic_and_gemini_refuse_an_oversized_request_for_good(server, tmp_path):
    srv = start(server, tmp_path, {"tokens_per_minute": 100})
    claude = anthropic.Anthropic(base_url=srv.base_url, api_key="k", max_retries=2)
    with pytest.raises(anthropic.RateLimitError) as info:
        claude.messages.create(model=CLAUDE, max_tokens=5,
                               messages=[{"role": "user", "content": LONG}])
    assert info.value.body["error"]["type"] == "rate_limit_error"
    assert "of 100 tokens per minute" in info.value.body["error"]["message"]
    h = info.value.response.headers
    assert "retry-after" not in h and h["anthropic-ratelimit-tokens-remaining"] == "100"
    assert requests_by_label(srv)[("anthropic", "anthropic.messages", "4xx")] == 1

    client = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=srv.base_url))
    with pytest.raises(genai_errors.ClientError) as ginfo:
        client.models.generate_content(model=GEMINI, contents=LONG)
    assert ginfo.value.code == 429 and ginfo.value.status == "RESOURCE_EXHAUSTED"
    assert "limit: 100, model: " + GEMINI in ginfo.value.message
    (quota,) = ginfo.value.details["error"]["details"]   # a QuotaFailure, no RetryInfo
    assert quota["@type"] == "type.googleapis.com/google.rpc.QuotaFailure"
    assert quota["violations"][0]["quotaValue"] == "100"
    assert "retry-after" not in ginfo.value.response.headers
    # The budget is whole: a request of most of a minute's worth still goes through.
    assert client.models.generate_content(
        model=GEMINI, contents="hi",
        config=types.GenerateContentConfig(max_output_tokens=60)).text


def test_anthropic_input_and_output_tokens_per_minute(server, tmp_path):
    srv = start(server, tmp_path, {"input_tokens_per_minute": 1000,
                                   "output_tokens_per_minute": 100})
    client = anthropic.Anthropic(base_url=srv.base_url, api_key="k", max_retries=0)
    def ask(max_tokens, tokens):
        return client.messages.with_raw_response.create(
            model=CLAUDE, max_tokens=max_tokens, messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-llmsim-latency": f"tokens={tokens}"})

    # Admitted for the whole minute's 100 output tokens, it uses 10: 90 go back.
    r = ask(100, 10)
    assert r.parse().usage.output_tokens == 10
    assert r.headers["anthropic-ratelimit-output-tokens-remaining"] == "0"   # on admission
    r = ask(90, 90)   # admitted only with those 90 back
    h, usage = r.headers, r.parse().usage
    assert usage.output_tokens == 90
    assert h["anthropic-ratelimit-input-tokens-limit"] == "1000"
    assert h["anthropic-ratelimit-output-tokens-limit"] == "100"
    assert h["anthropic-ratelimit-output-tokens-remaining"] == "0"   # on admission
    # The tokens family shows the most restrictive of the two: here the output budget.
    assert h["anthropic-ratelimit-tokens-limit"] == "100"
    assert "anthropic-ratelimit-requests-limit" not in h
    # Input still has room, output has none: refused on output tokens, and named so.
    with pytest.raises(anthropic.RateLimitError) as info:
        client.messages.create(model=CLAUDE, max_tokens=5,
                               messages=[{"role": "user", "content": "hi"}])
    assert info.value.body["error"]["message"] == (
        "This request would exceed the rate limit for your organization of 100 output "
        "tokens per minute.")
    assert int(info.value.response.headers["retry-after"]) >= 1
    # Asking for more output than a whole minute's: refused for good, charged nothing.
    with pytest.raises(anthropic.RateLimitError) as info:
        client.messages.create(model=CLAUDE, max_tokens=101,
                               messages=[{"role": "user", "content": "hi"}])
    assert "of 100 output tokens per minute" in info.value.body["error"]["message"]
    assert info.value.response.headers["x-should-retry"] == "false"


def test_input_tokens_per_minute_on_openai_and_gemini(server, tmp_path):
    srv = start(server, tmp_path, {"input_tokens_per_minute": 100})
    client = openai.OpenAI(base_url=srv.base_url + "/v1", api_key="k", max_retries=0)
    r = client.chat.completions.with_raw_response.create(
        model=GPT, max_tokens=5000, messages=[{"role": "user", "content": "hi"}])
    # Output is not counted here; OpenAI has no input-token headers to show.
    assert r.parse().choices[0].message.content
    assert not [k for k in r.headers if k.startswith("x-ratelimit-")]
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model=GPT, max_tokens=5,
                                       messages=[{"role": "user", "content": LONG}])
    prompt, _ = token_cost(info.value.request.content)
    assert info.value.body["message"] == (
        f"Request too large for {GPT} on input tokens per min (ITPM): Limit 100, Requested "
        f"{prompt}. The input or output tokens must be reduced in order to run successfully.")
    gem = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=srv.base_url))
    with pytest.raises(genai_errors.ClientError) as ginfo:
        gem.models.generate_content(model=GEMINI, contents=LONG)
    (quota,) = ginfo.value.details["error"]["details"]
    assert quota["violations"][0]["quotaMetric"].endswith("_input_token_count")


def test_gemini_output_quota_is_named_as_output(server, tmp_path):
    srv = start(server, tmp_path, {"output_tokens_per_minute": 50})
    gem = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=srv.base_url))
    with pytest.raises(genai_errors.ClientError) as ginfo:
        gem.models.generate_content(model=GEMINI, contents="hi",
                                    config=types.GenerateContentConfig(max_output_tokens=51))
    (quota,) = ginfo.value.details["error"]["details"]
    assert quota["violations"][0]["quotaMetric"].endswith("_output_token_count")
    assert quota["violations"][0]["quotaId"] == (
        "GenerateContentPaidTierOutputTokensPerModelPerMinute")
    assert "limit: 50, model: " + GEMINI in ginfo.value.message


@pytest.mark.parametrize("timed", [False, True])
def test_tokens_are_charged_as_used_once_an_answer_ends(server, tmp_path, timed):
    limits = {"tokens_per_minute": 10000}
    if timed:   # answers sent later, from the timer wheel; `faults: []` for a cut stream
        path = tmp_path / "timed.yaml"
        path.write_text(yaml.safe_dump({"rate_limits": limits, "ttft": "20ms", "itl": "1ms",
                                        "faults": []}))
        srv = server("--workers", 1, "--config", path)
    else:
        srv = start(server, tmp_path, limits)
    client = openai.OpenAI(base_url=srv.base_url + "/v1", api_key="k", max_retries=0,
                           default_headers={"x-llmsim-latency": "tokens=50"})
    used = 0
    for i in range(3):   # each asks for up to 3,000 tokens and uses far fewer
        r = client.chat.completions.with_raw_response.create(
            model=GPT, max_tokens=3000, messages=[{"role": "user", "content": "hi"}])
        charged = sum(token_cost(r.http_request.content))
        if i == 0:
            assert int(r.headers["x-ratelimit-remaining-tokens"]) == 10000 - charged
        usage = r.parse().usage
        assert usage.completion_tokens < 1000
        used += usage.total_tokens
    # Streamed: corrected when the stream ends.
    with client.chat.completions.create(model=GPT, max_tokens=3000, stream=True,
                                        stream_options={"include_usage": True},
                                        messages=[{"role": "user", "content": "hi"}]) as s:
        used += [c for c in s][-1].usage.total_tokens
    if timed:   # a stream cut short by a fault ends too; it is charged at most its estimate
        cut = client.with_options(default_headers={"x-llmsim-fault": "stream_abort=2",
                                                   "x-llmsim-latency": "tokens=50"})
        with pytest.raises(openai.APIConnectionError) as info:
            for _ in cut.chat.completions.create(model=GPT, max_tokens=50, stream=True,
                                                 messages=[{"role": "user", "content": "hi"}]):
                pass
        used += sum(token_cost(info.value.request.content))
    # Charged 4 x 3,000+ on admission, this fifth one would not fit; charged as used, it does.
    r = client.chat.completions.with_raw_response.create(
        model=GPT, max_tokens=3000, messages=[{"role": "user", "content": "hi"}])
    left = int(r.headers["x-ratelimit-remaining-tokens"])
    assert left >= 10000 - used - sum(token_cost(r.http_request.content))


@pytest.mark.parametrize("cut", ["fault", "client"])
def test_a_stream_cut_short_is_charged_the_output_it_sent(server, tmp_path, cut):
    path = tmp_path / "cut.yaml"
    path.write_text(yaml.safe_dump({"ttft": "1ms", "itl": "1ms" if cut == "fault" else "50ms",
                                    "faults": [],
                                    "rate_limits": {"output_tokens_per_minute": 100}}))
    srv = server("--workers", 1, "--config", path)
    body = {"model": CLAUDE, "max_tokens": 100, "stream": True,
            "messages": [{"role": "user", "content": "hi"}]}
    headers = {"x-llmsim-latency": "tokens=100", "anthropic-version": "2023-06-01"}
    if cut == "fault":   # events 0-4 (message_start, then 4 tokens), then an error event
        with httpx.stream("POST", srv.base_url + "/v1/messages", json=body,
                          headers={**headers, "x-llmsim-fault": "stream_abort=5"}) as r:
            seen = b"".join(r.iter_raw())
        assert b"event: error" in seen
    else:   # the client leaves after a few tokens of a stream 5 s long
        with httpx.stream("POST", srv.base_url + "/v1/messages", json=body,
                          headers=headers) as r:
            seen = b""
            for part in r.iter_raw():
                seen += part
                if seen.count(b"content_block_delta") >= 4:
                    break
        time.sleep(0.2)   # the worker sees the connection close
    read = seen.count(b"event: content_block_delta")
    assert 1 <= read < 20
    # Charged its whole 100 on admission (and 100 planned), it keeps only what it sent: the
    # client read `read` of them, a few more may have been on the way when it left.
    client = anthropic.Anthropic(base_url=srv.base_url, api_key="k", max_retries=0)
    r = client.messages.with_raw_response.create(
        model=CLAUDE, max_tokens=50, messages=[{"role": "user", "content": "hi"}],
        extra_headers={"x-llmsim-latency": "tokens=1"})
    left = int(r.headers["anthropic-ratelimit-output-tokens-remaining"])   # on admission
    assert 50 - read - 5 <= left <= 50 - read + 1


def test_anthropic_tokens_are_charged_as_used(server, tmp_path):
    srv = start(server, tmp_path, {"tokens_per_minute": 5000})
    client = anthropic.Anthropic(base_url=srv.base_url, api_key="k", max_retries=0,
                                 default_headers={"x-llmsim-latency": "tokens=50"})
    used = 0
    for _ in range(3):
        r = client.messages.with_raw_response.create(
            model=CLAUDE, max_tokens=2000, messages=[{"role": "user", "content": "hi"}])
        usage = r.parse().usage
        used += usage.input_tokens + usage.output_tokens
    left = int(r.headers["anthropic-ratelimit-tokens-remaining"])   # the third's, on admission
    assert left >= 5000 - used - sum(token_cost(r.http_request.content)) + (
        usage.input_tokens + usage.output_tokens)


def left(srv):
    r = httpx.post(srv.base_url + "/v1/chat/completions", json=CHAT)
    return r.status_code, r.headers.get("x-ratelimit-remaining-requests")


def test_reload_with_new_limits_starts_full_buckets(server, tmp_path):
    srv = start(server, tmp_path, {"requests_per_minute": 1})
    assert [left(srv) for _ in range(2)] == [(200, "0"), (429, "0")]
    srv.reload(tmp_path / "limits.yaml", {"rate_limits": {"requests_per_minute": 2}})
    assert left(srv) == (200, "1")   # a whole new minute's worth, not the spent old one
    # Back to the old limit: that is a change too, and its buckets start full again.
    srv.reload(tmp_path / "limits.yaml", {"rate_limits": {"requests_per_minute": 1}})
    assert left(srv) == (200, "0")


def test_reload_with_the_same_limits_keeps_their_state(server, tmp_path):
    srv = start(server, tmp_path, {"requests_per_minute": 1})
    assert left(srv) == (200, "0")
    # Another setting changes, the limits do not: what was spent stays spent.
    srv.reload(tmp_path / "limits.yaml", {"seed": 5, "rate_limits": {"requests_per_minute": 1}})
    assert left(srv) == (429, "0")


def test_no_limits_no_headers(server):
    srv = server("--workers", "1", "--no-latency")
    r = httpx.post(srv.base_url + "/v1/chat/completions", json=CHAT)
    assert r.status_code == 200
    assert not any(k.startswith("x-ratelimit") for k in r.headers)


def test_token_cost_and_durations():
    assert token_cost(b"") == (0, 0)
    assert token_cost(b'{"max_tokens": 100}') == (5, 100)
    assert token_cost(b'{"generationConfig": {"maxOutputTokens": 7}}') == (11, 7)
    assert token_cost(b"not json") == (2, 0)
    assert [go_duration(n) for n in (120_000_000, 1_000_000_000, 17_500_000_000,
                                     360_000_000_000, 90_250_000_000)] == [
        "120ms", "1s", "17.5s", "6m0s", "1m30.25s"]


@pytest.mark.parametrize("limits, message", [
    ({"requests_per_minute": 0},
     "rate_limits: Expected `int` >= 1 - at `$.requests_per_minute`"),
    ({"tokens_per_minute": "many"},
     "rate_limits: Expected `int | null`, got `str` - at `$.tokens_per_minute`"),
    ({"per_hour": 3}, "rate_limits: Object contains unknown field `per_hour`"),
])
def test_config_errors_name_the_field(tmp_path, limits, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"rate_limits": limits}))
    with pytest.raises(ConfigError) as info:
        config.load(str(path), environ={})
    assert message in str(info.value)


def test_bucket_take_backlog_refund_reset():
    seg = Segment(1)
    second = 1_000_000_000
    assert seg.rate_backlog(3) == 0
    wait, backlog = seg.rate_take(3, second, 60 * second)
    assert wait == 0 and 0 < backlog <= second
    assert 0 < seg.rate_backlog(3) <= second
    seg.rate_refund(3, second)
    assert seg.rate_backlog(3) == 0
    seg.rate_take(3, second, 60 * second)
    seg.rate_take(4, second, 60 * second)
    seg.rate_reset(4, 2)
    assert seg.rate_backlog(3) > 0 and seg.rate_backlog(4) == 0
    with pytest.raises(IndexError):
        seg.rate_backlog(RATE_BUCKETS)
    with pytest.raises(IndexError):
        seg.rate_reset(RATE_BUCKETS - 1, 2)
