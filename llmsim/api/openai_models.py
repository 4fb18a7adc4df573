"""GET /v1/models and GET /v1/models/{id}: the catalog as OpenAI model objects.

The list is rendered once per worker; a single model is one template render.
"""

from urllib.parse import unquote

from llmsim.api.openai_wire import headers
from llmsim.core.render import Template

MODEL = Template(b'{"id":"{{id:str}}","object":"model","created":{{created:int}},'
                 b'"owned_by":"{{owned_by:str}}"}')
LIST = Template(b'{"object":"list","data":[{{data:raw}}]}')


def _model(m):
    return MODEL.render((m.id, m.created, m.owned_by))


class ListModels:
    def __init__(self, env):
        self.body = LIST.render((b",".join(_model(m) for m in env.catalog.listed()),))

    def __call__(self, req):
        return 200, headers(0), self.body


class RetrieveModel:
    def __init__(self, env):
        self.env = env

    def __call__(self, req):
        name = req.params[0]
        if type(name) is bytes:
            name = unquote(name.decode("utf-8", "replace"))
        m = self.env.catalog.require(name)
        return 200, headers(0), _model(m)


def routes(env):
    return [(b"GET", "/v1/models", "openai.models", ListModels(env)),
            (b"GET", "/v1/models/{id}", "openai.model", RetrieveModel(env))]
