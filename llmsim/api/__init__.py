"""The HTTP APIs llmsim serves; each provider module exposes `routes(ctx)`."""

import importlib

from llmsim.core.router import Route
from llmsim.policy import auth

# Provider modules in routing order; each has routes(ctx) -> [Route(method, pattern, name, handler)].
PROVIDERS = ("llmsim.api.admin", "llmsim.api.openai")


def routes(ctx):
    """Every route, its handler behind the provider's API-key check when keys are configured."""
    out = []
    for module in PROVIDERS:
        for method, pattern, name, handler in importlib.import_module(module).routes(ctx):
            provider = name.partition(".")[0]
            out.append(Route(method, pattern, name,
                             auth.guard(provider, handler, ctx.config.api_keys)))
    return out
