"""The OpenAI API: every endpoint's routes over one per-worker `Env`."""

from llmsim.api import openai_chat, openai_models
from llmsim.api.openai_env import Env
from llmsim.api.openai_wire import guarded


def routes(ctx):
    """Routes `(method, pattern, name, handler)` of the OpenAI endpoints for one worker."""
    env = Env(ctx)
    return [(method, pattern, name, guarded(handler))
            for method, pattern, name, handler in openai_chat.routes(env) + openai_models.routes(env)]
