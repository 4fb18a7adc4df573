"""Per-worker state the OpenAI endpoints share: catalog, generators, planner, clock.

Built once per worker from the server context (`ctx.config`, `ctx.planner`).
"""

import zlib

from llmsim.api.catalog import Catalog
from llmsim.api.openai_wire import Clock
from llmsim.core.ids import u64
from llmsim.sim.text import Generators

_M64 = (1 << 64) - 1


def mix(key, i):
    """A well-spread 64-bit value from (key, i): splitmix64's finalizer."""
    z = (key * 0x9E3779B97F4A7C15 + (i + 1) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


class Env:
    """What every OpenAI handler of one worker uses."""

    def __init__(self, ctx):
        config = ctx.config
        self.catalog = Catalog(config.models)
        self.generators = Generators(config.generators)
        self.planner = ctx.planner
        self.clock = Clock()

    def key(self, seed, body):
        """The determinism key of a request: its `seed`, else a hash of the body when a global
        seed is configured, else None (fresh randomness)."""
        if seed is not None:
            return seed
        g = self.generators.seed
        if g is not None:
            return (g << 32) ^ zlib.crc32(body)
        return None

    @staticmethod
    def rand(key, i):
        """Random int number i of a request with determinism key `key`."""
        return u64() if key is None else mix(key, i)


def due(plan, i):
    """When token i is due (ns after the request), extrapolating past the planned tokens at
    the plan's mean inter-token gap (content such as tool arguments may outgrow the plan)."""
    n = plan.n_tokens
    if i < n:
        return plan.due_ns(i)
    if n <= 1:
        return plan.ttft_ns
    return plan.total_ns + (i - n + 1) * ((plan.total_ns - plan.ttft_ns) // (n - 1))
