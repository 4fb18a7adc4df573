"""The HTTP APIs llmsim serves; each provider module exposes `routes(ctx)`.

A provider module may also define `claims(req)` when it serves a method + path that an
earlier provider serves too (GET /v1/models): such a request goes to the first later
provider that claims it, else to the first provider. Patterns with a literal suffix after a parameter
(`/v1/models/{model}:generateContent`) are matched before plain ones (`/v1/models/{id}`).
"""

import importlib

from llmsim import errors
from llmsim.core.ids import hexstr
from llmsim.core.router import Route
from llmsim.policy import auth, faults, ratelimit

# Provider modules in routing order; each has routes(ctx) -> [(method, pattern, name, handler)].
PROVIDERS = ("llmsim.api.admin", "llmsim.api.openai", "llmsim.api.anthropic",
             "llmsim.api.gemini")
_JSON = b"content-type: application/json\r\n"


def routes(ctx):
    """Every route, its handler behind the provider's API-key check when keys are configured,
    then the rate limits and injected faults when those are (llmsim.policy)."""
    injected = faults.compile_for(ctx.config, ctx.segment)
    limiter = ratelimit.compile_for(ctx.config, ctx.segment, ctx.rate_bank)
    table = {}  # (method, pattern) -> [(name, provider, handler, claims)]
    for module in PROVIDERS:
        mod = importlib.import_module(module)
        claims = getattr(mod, "claims", None)
        for method, pattern, name, handler in mod.routes(ctx):
            provider = name.partition(".")[0]
            handler = faults.guard(provider, name, handler, injected)
            handler = ratelimit.guard(provider, handler, limiter)
            handler = auth.guard(provider, handler, ctx.config.api_keys)
            entries = table.setdefault((method, pattern), [])
            if entries and claims is None:
                raise ValueError(f"route {method!r} {pattern} defined twice")
            entries.append((name, provider, handler, claims))
    out = [Route(method, pattern, entries[0][0],
                 entries[0][2] if len(entries) == 1 else _shared(entries, ctx.route_names))
           for (method, pattern), entries in table.items()]
    out.sort(key=lambda r: "}:" not in r.pattern)
    return out


def _shared(entries, route_names):
    """One handler for a method + path several providers serve (see the module docstring).

    /metrics counts a request under the route of the provider that answers it: the names of
    the later providers' routes are added to `route_names` (route id -> name), and
    llmsim.worker puts the router's names before them."""
    default = entries[0][2]
    others = [(claims, name, provider, handler) for name, provider, handler, claims in entries[1:]]
    route_names.extend(name for _, name, _, _ in others)

    def dispatch(req):
        for claims, name, provider, handler in others:
            if claims(req):
                req.route = route_names.index(name)
                try:
                    return handler(req)
                except errors.ApiError as e:  # the core would answer in the first one's shape
                    rid = "req_" + hexstr(24).decode()
                    return (e.status, _JSON + e.headers + errors.id_headers(provider, rid),
                            errors.render(provider, e, rid))
        return default(req)

    return dispatch
