"""GET /v1/models and GET /v1/models/{id} in Anthropic's shape (requests that carry
`anthropic-version`; llmsim.api routes the others to the OpenAI handlers).

Lists the catalog's Claude model ids (not their aliases: claude-sonnet-4-5 is listed as
claude-sonnet-4-5-20250929; Claude models added in config too), newest first,
with `limit`, `after_id` and `before_id` paging as the API does.
"""

import datetime
import re
from urllib.parse import parse_qs, unquote

from llmsim.api.anthropic_wire import JSON, headers, model_not_found
from llmsim.core.render import Template
from llmsim.errors import ApiError

MODEL = Template(b'{"type":"model","id":"{{id:str}}","display_name":"{{name:str}}",'
                 b'"created_at":"{{created:raw}}","lifecycle":"active",'
                 b'"max_input_tokens":200000,"max_tokens":{{max:int}}}')
PAGE = Template(b'{"data":[{{data:raw}}],"has_more":{{more:raw}},"first_id":{{first:raw}},'
                b'"last_id":{{last:raw}}}')
_DATED = re.compile(r"-\d{8}$")


def display_name(model_id):
    """'claude-sonnet-4-5-20250929' -> 'Claude Sonnet 4.5'."""
    words, version = [], []
    for part in _DATED.sub("", model_id).removesuffix("-latest").split("-"):
        (version if part.isdigit() else words).append(part)
    name = " ".join(w.capitalize() for w in words)
    v = ".".join(version).removesuffix(".0")
    return f"{name} {v}" if v else name


def _rfc3339(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ").encode()


def _render(m):
    return MODEL.render((m.id, display_name(m.id), _rfc3339(m.created), m.max_output))


def _quoted(s):
    return b'"' + s.encode() + b'"' if s is not None else b"null"


def listed(catalog):
    """The Claude models GET /v1/models lists, newest first."""
    models = [m for m in catalog.models("anthropic") if not catalog.is_alias(m.id)]
    return sorted(models, key=lambda m: (-m.created, m.id))


class ListModels:
    def __init__(self, env):
        self.models = listed(env.catalog)
        self.rendered = {m.id: _render(m) for m in self.models}
        self.index = {m.id: i for i, m in enumerate(self.models)}

    def __call__(self, req):
        q = parse_qs(req.query.decode("latin-1")) if req.query else {}
        try:
            limit = int(q.get("limit", ["20"])[0])
        except ValueError:
            raise ApiError(400, "limit: Input should be a valid integer") from None
        if not 1 <= limit <= 1000:
            raise ApiError(400, "limit: Input should be greater than or equal to 1 and less "
                                "than or equal to 1000")
        start, stop = 0, len(self.models)
        if "after_id" in q:
            start = self._position(q["after_id"][0]) + 1
        if "before_id" in q:
            stop = self._position(q["before_id"][0])
            start = max(start, stop - limit) if "after_id" not in q else start
        page = self.models[start:min(stop, start + limit)]
        more = (start + len(page) < stop) if "before_id" not in q else start > 0
        body = PAGE.render((b",".join(self.rendered[m.id] for m in page),
                            b"true" if more else b"false",
                            _quoted(page[0].id if page else None),
                            _quoted(page[-1].id if page else None)))
        return 200, headers(JSON), body

    def _position(self, model_id):
        i = self.index.get(model_id)
        if i is None:
            raise model_not_found(model_id)
        return i


class RetrieveModel:
    def __init__(self, env):
        self.catalog = env.catalog

    def __call__(self, req):
        name = unquote(req.params[0].decode("utf-8", "replace"))
        m = self.catalog.get(name)
        if m is None or m.provider != "anthropic":
            raise model_not_found(name)
        return 200, headers(JSON), _render(m)


def routes(env):
    return [(b"GET", "/v1/models", "anthropic.models", ListModels(env)),
            (b"GET", "/v1/models/{id}", "anthropic.model", RetrieveModel(env))]
