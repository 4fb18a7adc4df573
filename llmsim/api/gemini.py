"""The Gemini API (v1 and v1beta): generateContent streamed or not, countTokens,
embeddings and models.

`claims(req)` tells llmsim.api which requests to paths the OpenAI API also serves
(GET /v1/models...) are Gemini's: those that carry a Gemini API key (`x-goog-api-key`, as
the google-genai SDK sends it, or `?key=`).
"""

from urllib.parse import parse_qs

from llmsim.api import gemini_embed, gemini_generate, gemini_models
from llmsim.api.openai_env import Env

__all__ = ["routes", "claims"]


def claims(req):
    if b"x-goog-api-key" in req.headers:
        return True
    return b"key=" in req.query and "key" in parse_qs(req.query.decode("latin-1"))


def routes(ctx):
    """Routes `(method, pattern, name, handler)` of the Gemini endpoints for one worker."""
    env = Env(ctx)
    return gemini_generate.routes(env) + gemini_embed.routes(env) + gemini_models.routes(env)
