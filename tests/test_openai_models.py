"""GET /v1/models, GET /v1/models/{id} and the model catalog."""

import json

import openai
import pytest

from llmsim.api.catalog import Catalog
from llmsim.errors import ApiError, ConfigError
from llmsim.sim.latency import MODELS, load_catalog
from openai_fakes import call, handlers

# Current model ids as OpenAI's model pages and SDK type unions name them.
CURRENT_OPENAI = {
    "gpt-6-astra": "reasoning", "gpt-6.2-sol": "reasoning", "gpt-5.6-luna": "reasoning",
    "gpt-5.5": "reasoning", "gpt-5.5-2026-04-23": "reasoning", "gpt-5.4": "reasoning",
    "gpt-5.4-mini-2026-03-17": "reasoning", "gpt-5.3-chat-latest": "chat",
    "gpt-5.2": "reasoning", "gpt-5.2-pro-2025-12-11": "reasoning", "gpt-5.2-chat-latest": "chat",
    "gpt-5.1": "reasoning", "gpt-5.1-2025-11-13": "reasoning", "gpt-5.1-codex": "reasoning",
    "gpt-5.1-codex-mini": "reasoning", "gpt-5.1-chat-latest": "reasoning",
    "gpt-5": "reasoning", "gpt-5-2025-08-07": "reasoning", "gpt-5-mini": "reasoning",
    "gpt-5-mini-2025-08-07": "reasoning", "gpt-5-nano": "reasoning",
    "gpt-5-nano-2025-08-07": "reasoning", "gpt-5-pro": "reasoning",
    "gpt-5-pro-2025-10-06": "reasoning", "gpt-5-chat-latest": "chat",
    "gpt-4.1": "chat", "gpt-4.1-2025-04-14": "chat", "gpt-4.1-mini": "chat",
    "gpt-4.1-mini-2025-04-14": "chat", "gpt-4.1-nano": "chat", "gpt-4.1-nano-2025-04-14": "chat",
    "o3": "reasoning", "o3-2025-04-16": "reasoning", "o3-pro": "reasoning",
    "o3-pro-2025-06-10": "reasoning", "o4-mini": "reasoning", "o4-mini-2025-04-16": "reasoning",
    "text-embedding-3-small": "embedding", "text-embedding-3-large": "embedding",
}


def test_list_holds_openai_models_only():
    status, _, out, _ = call(handlers(), "openai.models")
    doc = json.loads(out)
    ids = {m["id"] for m in doc["data"]}
    assert status == 200 and doc["object"] == "list"
    assert {"gpt-4o", "gpt-4o-mini", "o3", "text-embedding-3-small", "davinci-002"} <= ids
    assert not any(i.startswith(("claude", "gemini")) for i in ids)
    assert all(m["object"] == "model" and isinstance(m["created"], int) for m in doc["data"])


def test_retrieve_one_model():
    _, _, out, _ = call(handlers(), "openai.model", params=(b"gpt-4o-mini",))
    assert json.loads(out) == {"id": "gpt-4o-mini", "object": "model",
                               "created": json.loads(out)["created"], "owned_by": "system"}


def test_retrieve_unknown_model_is_model_not_found():
    with pytest.raises(ApiError) as e:
        call(handlers(), "openai.model", params=(b"gpt-9",))
    assert (e.value.status, e.value.code, e.value.param) == (404, "model_not_found", None)
    assert e.value.message == "The model `gpt-9` does not exist or you do not have access to it."


def test_config_adds_models_and_aliases_to_the_list():
    hs = handlers(models={"add": {"acme-1": {"owned_by": "acme"}},
                          "aliases": {"fast": "gpt-4o-mini"}})
    ids = {m["id"] for m in json.loads(call(hs, "openai.models")[2])["data"]}
    assert {"acme-1", "fast"} <= ids
    doc = json.loads(call(hs, "openai.model", params=(b"acme-1",))[2])
    assert doc["owned_by"] == "acme"


def test_catalog_knows_other_providers_and_kinds():
    c = Catalog()
    assert c.get("claude-sonnet-4-5").provider == "anthropic"
    assert c.get("gemini-2.5-flash").provider == "gemini"
    assert c.get("o3").kind == "reasoning"
    assert c.get("text-embedding-3-large").dimensions == 3072
    assert c.get("nope") is None


def test_accept_any_serves_unknown_names_as_chat():
    c = Catalog({"accept_any": True})
    assert c.require("my-local-model").kind == "chat"


@pytest.mark.parametrize("section,words", [
    ({"aliases": {"x": "nope"}}, "models.aliases.x"),
    ({"add": {"m": {"kind": "robot"}}}, "models.add.m.kind"),
    ({"add": {"m": {"colour": 1}}}, "colour"),
    ({"accept_any": "yes"}, "accept_any"),
])
def test_catalog_config_errors_name_the_field(section, words):
    with pytest.raises(ConfigError, match=words.replace(".", r"\.")):
        Catalog(section)


def test_catalog_models_by_provider_in_catalog_order():
    c = Catalog({"add": {"acme-claude": {"provider": "anthropic"}},
                 "aliases": {"my-gemini": "gemini-2.5-pro"}})
    claude = [m.id for m in c.models("anthropic")]
    assert {"claude-opus-4-5", "claude-opus-4-5-20251101", "acme-claude"} <= set(claude)
    assert claude.index("claude-opus-4-5") < claude.index("claude-3-haiku-20240307")
    assert "my-gemini" in {m.id for m in c.models("gemini")}
    assert all(m.provider == "openai" for m in c.models("openai"))
    assert c.models("nobody") == []
    assert c.is_alias("my-gemini") and c.is_alias("claude-opus-4-5")
    assert not any(c.is_alias(n) for n in ("acme-claude", "claude-opus-4-5-20251101",
                                           "claude-opus-4-6", "gemini-2.5-pro", "gpt-4o"))


def test_sdk_lists_and_retrieves_current_openai_models(server):
    srv = server("--workers", "1", "--no-latency")
    client = openai.OpenAI(base_url=srv.base_url + "/v1", api_key="x", max_retries=0)
    listed = {m.id: m for m in client.models.list()}
    assert set(CURRENT_OPENAI) <= set(listed)
    assert all(m.object == "model" and m.owned_by == "system" and m.created > 1.7e9
               for m in listed.values() if m.id in CURRENT_OPENAI)
    assert listed["gpt-5-pro-2025-10-06"].created > listed["gpt-5-2025-08-07"].created
    assert client.models.retrieve("gpt-5.1-codex-mini").id == "gpt-5.1-codex-mini"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-5.1-mini")


def test_current_openai_models_have_their_kinds():
    c = Catalog()
    assert {name: c.get(name).kind for name in CURRENT_OPENAI} == CURRENT_OPENAI
    assert c.get("gpt-5-pro").max_output == 272000
    assert c.get("text-embedding-3-large").dimensions == 3072


def test_every_builtin_model_has_a_named_latency_profile():
    c, latency = Catalog(), load_catalog(None)
    for provider in ("openai", "anthropic", "gemini"):
        for m in c.models(provider):
            assert any(m.id.startswith(prefix) for prefix in MODELS), m.id
    assert latency.lookup("gemini-3-pro-preview").name == "reasoning"
    assert latency.lookup("gpt-5.1-codex-mini").name == "reasoning-fast"
    assert latency.lookup("claude-opus-4-5-20251101").name == "large"
    assert latency.lookup("claude-sonnet-5-5").name == "standard"
    assert latency.lookup("gpt-5.4-nano").name == "reasoning-fast"
    assert latency.lookup("gemini-3.5-flash-lite").name == "fast-small"
    assert latency.lookup("gemini-3.1-pro-preview").name == "reasoning"
