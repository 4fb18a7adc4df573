"""API keys: accepted keys pass, wrong or missing ones get the provider's 401 shape."""

import httpx
import openai
import pytest


def test_openai_sdk_with_and_without_a_valid_key(server):
    srv = server("--workers", "1", "--api-keys", "sk-one,sk-two")
    good = openai.OpenAI(base_url=srv.base_url + "/v1", api_key="sk-two", max_retries=0)
    assert any(m.id for m in good.models.list().data)
    bad = openai.OpenAI(base_url=srv.base_url + "/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        bad.models.list()
    assert info.value.status_code == 401
    assert info.value.body["code"] == "invalid_api_key"
    assert "sk-wrong" not in info.value.response.text and "sk-one" not in srv.output()
    missing = httpx.get(srv.base_url + "/v1/models")
    assert missing.status_code == 401
    assert missing.json()["error"]["type"] == "invalid_request_error"
    # Operational endpoints stay open for probes.
    assert httpx.get(srv.base_url + "/health").status_code == 200
