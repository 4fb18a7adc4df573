"""Per-worker state the OpenAI endpoints share: catalog, generators, planner, clock.

Built once per worker from the server context (`ctx.config`, `ctx.planner`).
"""

from llmsim.api.catalog import Catalog
from llmsim.api.openai_wire import Clock
from llmsim.sim.generators import Generators


class Env:
    """What every OpenAI handler of one worker uses."""

    def __init__(self, ctx):
        config = ctx.config
        self.catalog = Catalog(config.models)
        self.generators = Generators(config.generators)
        self.planner = ctx.planner
        self.clock = Clock()


def gap(plan):
    """The plan's mean inter-token gap (ns)."""
    n = plan.n_tokens
    return (plan.total_ns - plan.ttft_ns) // (n - 1) if n > 1 else 0


def due(plan, i):
    """When token i is due (ns after the request), continuing past the planned tokens at the
    plan's mean gap (content such as tool arguments may outgrow the plan). The streams of
    llmsim.core.sse apply the same rule."""
    n = plan.n_tokens
    if i < n:
        return plan.due_ns(i)
    if n == 0:
        return plan.ttft_ns
    return plan.total_ns + (i - n + 1) * gap(plan)
