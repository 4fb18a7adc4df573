"""The HTTP APIs llmsim serves; each provider module exposes `routes(ctx)`."""

import importlib

# Provider modules in routing order; each has routes(ctx) -> [Route(method, pattern, name, handler)].
PROVIDERS = ("llmsim.api.admin",)


def routes(ctx):
    out = []
    for name in PROVIDERS:
        out.extend(importlib.import_module(name).routes(ctx))
    return out
