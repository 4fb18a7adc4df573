"""GET /v1/models, GET /v1/models/{id} and the model catalog."""

import json

import pytest

from llmsim.api.catalog import Catalog
from llmsim.errors import ApiError, ConfigError
from openai_fakes import call, handlers


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
    assert c.is_added("acme-claude") and not c.is_added("my-gemini")
    assert not c.is_added("claude-opus-4-5")
