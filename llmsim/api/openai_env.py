"""Per-worker state the OpenAI endpoints share: catalog, generators, planner, clock; and
when a plan's token i is due (`due`, `gap`: llmsim.core.plan's).

Built once per worker from the server context (`ctx.config`, `ctx.planner`,
`ctx.generators`, which every provider shares).
"""

from llmsim.api.catalog import Catalog
from llmsim.api.openai_wire import Clock
from llmsim.core.plan import due, gap

__all__ = ["Env", "due", "gap"]


class Env:
    """What every OpenAI handler of one worker uses."""

    def __init__(self, ctx):
        config = ctx.config
        self.catalog = Catalog(config.models)
        self.generators = ctx.generators
        self.planner = ctx.planner
        self.clock = Clock()
