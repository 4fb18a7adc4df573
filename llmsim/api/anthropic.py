"""The Anthropic API: Messages (streamed or not), token counting and models.

`claims(req)` tells llmsim.api which requests to paths the OpenAI API also serves
(GET /v1/models...) are Anthropic's: those that carry `anthropic-version`, as every Anthropic
SDK request does.
"""

from llmsim.api import anthropic_messages, anthropic_models
from llmsim.api.openai_env import Env

__all__ = ["routes", "claims"]


def claims(req):
    return b"anthropic-version" in req.headers


def routes(ctx):
    """Routes `(method, pattern, name, handler)` of the Anthropic endpoints for one worker."""
    env = Env(ctx)
    return anthropic_messages.routes(env) + anthropic_models.routes(env)
