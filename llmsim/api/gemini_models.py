"""GET /{v1,v1beta}/models and GET /{v1,v1beta}/models/{model}: the catalog's Gemini models
(and Gemini models added in config) as Gemini Model objects, with pageSize/pageToken paging.
"""

from urllib.parse import parse_qs, unquote

from llmsim.api.gemini_wire import headers, invalid
from llmsim.core.render import Template
from llmsim.errors import ApiError

MODEL = Template(b'{"name":"models/{{id:str}}","version":"001","displayName":"{{name:str}}",'
                 b'"description":"{{description:str}}","inputTokenLimit":{{input:int}},'
                 b'"outputTokenLimit":{{output:int}},'
                 b'"supportedGenerationMethods":[{{methods:raw}}]{{sampling:raw}}}')
_SAMPLING = (b',"temperature":1,"topP":0.95,"topK":64,"maxTemperature":2')
_GENERATE = b'"generateContent","countTokens","createCachedContent","batchGenerateContent"'
_EMBED = b'"embedContent","countTextTokens","countTokens"'
DEFAULT_PAGE = 50
MAX_PAGE = 1000


def display_name(model_id):
    """'gemini-2.5-flash-lite' -> 'Gemini 2.5 Flash-Lite'."""
    words = model_id.split("-")
    out = []
    for i, w in enumerate(words):
        if i and words[i - 1] in ("flash", "Flash") and w == "lite":
            out[-1] += "-Lite"
        else:
            out.append(w if w[:1].isdigit() else w.capitalize())
    return " ".join(out)


def _render(m):
    embedding = m.kind == "embedding"
    return MODEL.render((m.id, display_name(m.id), f"llmsim's simulation of {m.id}",
                         2048 if embedding else 1048576, 1 if embedding else m.max_output,
                         _EMBED if embedding else _GENERATE, b"" if embedding else _SAMPLING))


def listed(catalog):
    """The Gemini models GET /models lists, in catalog order."""
    return catalog.models("gemini")


class ListModels:
    def __init__(self, env):
        self.models = [_render(m) for m in listed(env.catalog)]

    def __call__(self, req):
        q = parse_qs(req.query.decode("latin-1")) if req.query else {}
        try:
            size = int(q.get("pageSize", [DEFAULT_PAGE])[0]) or DEFAULT_PAGE
            start = int(q.get("pageToken", ["0"])[0] or 0)
        except ValueError:
            raise invalid("Invalid page size or page token.") from None
        if size < 0 or not 0 <= start <= len(self.models):
            raise invalid("Invalid page size or page token.")
        stop = start + min(size, MAX_PAGE)
        body = b'{"models":[' + b",".join(self.models[start:stop]) + b"]"
        if stop < len(self.models):
            body += b',"nextPageToken":"%d"' % stop
        return 200, headers(0), body + b"}"


class GetModel:
    def __init__(self, env, version):
        self.catalog = env.catalog
        self.version = version

    def __call__(self, req):
        name = unquote(req.params[0].decode("utf-8", "replace"))
        m = self.catalog.get(name)
        if m is None or m.provider != "gemini":
            raise ApiError(404, f"models/{name} is not found for API version {self.version}, "
                                "or is not supported for get.", code="NOT_FOUND")
        return 200, headers(0), _render(m)


def routes(env):
    out = []
    for v in ("v1", "v1beta"):
        out += [(b"GET", f"/{v}/models", "gemini.models", ListModels(env)),
                (b"GET", f"/{v}/models/{{id}}", "gemini.model", GetModel(env, v))]
    return out
