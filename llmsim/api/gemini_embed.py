"""POST /{v1,v1beta}/models/{model}:embedContent and :batchEmbedContents.

Vectors come from llmsim.core.vectors, keyed like the OpenAI embeddings (the text and the
model name): the same text and model give the same unit vector in any worker, and
`outputDimensionality` gives the normalised first components of the full one. The answer
is sent after the model's planned time, like every other answer. It depends on the model in
the path and the body alone: llmsim.core.embeddings answers a request it has answered before
from the kept bytes, and calls `general` for any other.
"""

from llmsim.api.gemini_types import BATCH_EMBED, EMBED
from llmsim.api.gemini_wire import decode, invalid, model_of
from llmsim.core.embeddings import EmbeddingsCore
from llmsim.core.render import Template
from llmsim.core.vectors import json_floats, key_of, unit_vector
from llmsim.sim.tokens import count

ONE = Template(b'{"embedding":{"values":{{values:raw}}}}')
VALUES = Template(b'{"values":{{values:raw}}}')
_CACHE_LIMIT = 4096


class _Embedder(EmbeddingsCore):
    """An embeddings method of one API version; its `general(req)` gives the (model id,
    prompt tokens, answer body) of a request, or raises the API's error."""

    def __init__(self, env, version, method):
        super().__init__(env.planner, gemini=True)
        self.env = env
        self.version = version
        self.method = method
        self.cache = {}

    def model(self, req):
        return model_of(self.env.catalog, req, self.version, self.method, ("embedding",))[1]

    def vector(self, model, r, where):
        """(JSON values, tokens) of one EmbedContentRequest."""
        if r.content is None or not r.content.parts:
            raise invalid(f"* {where}content.parts: contents.parts must not be empty.\n")
        text = "\n".join(p.text for p in r.content.parts if p.text is not None)
        dims = model.dimensions
        if r.output_dimensionality is not None:
            if not 1 <= r.output_dimensionality <= dims:
                raise invalid(f"* {where}output_dimensionality: Output dimensionality must be "
                              f"between 1 and {dims}, got {r.output_dimensionality}.\n")
            dims = r.output_dimensionality
        ck = (model.id, dims, text)
        values = self.cache.get(ck)
        if values is None:
            values = json_floats(unit_vector(key_of(text.encode()) ^ key_of(model.id.encode()),
                                             dims))
            if len(self.cache) >= _CACHE_LIMIT:
                self.cache.clear()
            self.cache[ck] = values
        return values, count(text)


class EmbedContent(_Embedder):
    def __init__(self, env, version):
        super().__init__(env, version, "embedContent")

    def general(self, req):
        model = self.model(req)
        r = decode(EMBED, req.body)
        values, tokens = self.vector(model, r, "EmbedContentRequest.")
        return model.id, tokens, ONE.render((values,))


class BatchEmbedContents(_Embedder):
    def __init__(self, env, version):
        super().__init__(env, version, "batchEmbedContents")

    def general(self, req):
        model = self.model(req)
        r = decode(BATCH_EMBED, req.body)
        if not r.requests:
            raise invalid("* BatchEmbedContentsRequest.requests: requests is not specified\n")
        out, tokens = [], 0
        for i, item in enumerate(r.requests):
            if item.model is not None and item.model.removeprefix("models/") != model.id:
                raise invalid(f"* BatchEmbedContentsRequest.requests[{i}].model: the model "
                              f"({item.model}) must be the model of the URL "
                              f"(models/{model.id}).\n")
            values, n = self.vector(model, item, f"BatchEmbedContentsRequest.requests[{i}].")
            out.append(VALUES.render((values,)))
            tokens += n
        return model.id, tokens, b'{"embeddings":[' + b",".join(out) + b"]}"


def routes(env):
    out = []
    for v in ("v1", "v1beta"):
        base = f"/{v}/models/{{model}}"
        out += [(b"POST", base + ":embedContent", "gemini.embed_content", EmbedContent(env, v)),
                (b"POST", base + ":batchEmbedContents", "gemini.batch_embed_contents",
                 BatchEmbedContents(env, v))]
    return out
