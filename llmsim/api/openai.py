"""The OpenAI API: every endpoint's routes over one per-worker `Env`."""

from llmsim.api import (openai_chat, openai_completions, openai_embeddings, openai_models,
                        openai_responses)
from llmsim.api.openai_env import Env

ENDPOINTS = (openai_chat, openai_completions, openai_embeddings, openai_responses,
             openai_models)


def routes(ctx):
    """Routes `(method, pattern, name, handler)` of the OpenAI endpoints for one worker."""
    env = Env(ctx)
    return [route for module in ENDPOINTS for route in module.routes(env)]
