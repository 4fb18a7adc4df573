"""/metrics labels a request to a path several APIs serve (GET /v1/models, /v1/models/{id})
with the route and provider that answered it, not the first API that defines the path."""

import re

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types


def requests_by_label(srv):
    """{(provider, route, code): count} from llmsim_requests_total."""
    out = {}
    for m in re.finditer(r'^llmsim_requests_total\{provider="([^"]*)",route="([^"]*)",'
                         r'code="([^"]*)"\} (\d+)$', httpx.get(srv.base_url + "/metrics").text,
                         re.M):
        out[m.groups()[:3]] = int(m.group(4))
    return out


def test_shared_model_paths_are_counted_under_the_provider_that_answered(server):
    srv = server("--workers", "2", "--no-latency")
    close = {"connection": "close"}   # a connection per request: both workers answer some
    oa = openai.OpenAI(base_url=srv.base_url + "/v1", api_key="x", default_headers=close)
    an = anthropic.Anthropic(base_url=srv.base_url, api_key="x", default_headers=close)
    gm = genai.Client(api_key="x", http_options=types.HttpOptions(base_url=srv.base_url))
    for _ in range(3):
        assert oa.models.list().data
    for _ in range(4):
        assert an.models.list().data
    for _ in range(2):
        assert list(gm.models.list())
    an.models.retrieve(an.models.list().data[0].id)
    with pytest.raises(anthropic.NotFoundError):
        an.models.retrieve("no-such-model")
    counts = requests_by_label(srv)
    assert counts[("openai", "openai.models", "2xx")] == 3
    assert counts[("anthropic", "anthropic.models", "2xx")] == 5
    assert counts[("anthropic", "anthropic.model", "2xx")] == 1
    assert counts[("anthropic", "anthropic.model", "4xx")] == 1
    assert counts[("gemini", "gemini.models", "2xx")] >= 2   # the SDK may page
    assert ("openai", "openai.model", "4xx") not in counts
