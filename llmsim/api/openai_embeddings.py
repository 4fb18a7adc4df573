"""POST /v1/embeddings: deterministic unit vectors for strings, lists of strings and token
arrays; `dimensions`; `encoding_format` float or base64 (little-endian float32).

The same input, model and dimensions always give the same vector (in any worker), and
different inputs or models different ones. The answer body depends on the request body alone:
llmsim.core.embeddings answers a body it has answered before from the kept bytes, and calls
`general` for any other request. The rendered `data` element of recent inputs (at their index) is
cached per worker too, so a new list that repeats an input renders it once.
"""

from array import array
from base64 import b64encode

from llmsim.api.openai_types import EMBEDDING, text_inputs
from llmsim.api.openai_wire import decode
from llmsim.core.embeddings import EmbeddingsCore
from llmsim.core.render import Template
from llmsim.core.vectors import json_floats, key_of, unit_vector
from llmsim.errors import ApiError
from llmsim.sim.tokens import count

BODY = Template(b'{"object":"list","data":[{{data:raw}}],"model":"{{model:str}}",'
                b'"usage":{"prompt_tokens":{{prompt:int}},"total_tokens":{{total:int}}}}')
ITEM_FLOAT = Template(b'{"object":"embedding","index":{{index:int}},"embedding":{{vector:raw}}}')
ITEM_BASE64 = Template(b'{"object":"embedding","index":{{index:int}},'
                       b'"embedding":"{{vector:raw}}"}')
MAX_INPUTS = 2048
MAX_TOKENS = 8192
_CACHE_LIMIT = 1024


class Embeddings(EmbeddingsCore):
    """The handler of POST /v1/embeddings (the per-request path: llmsim.core.embeddings)."""

    def __init__(self, env):
        super().__init__(env.planner)
        self.env = env
        self.cache = {}

    def general(self, req):
        """(model name as sent, prompt tokens, answer body) of a request; the API's error
        when it is not a valid request."""
        r = decode(EMBEDDING, req.body)
        model = self.env.catalog.require(r.model)
        if model.kind != "embedding":
            raise ApiError(400, f"The model `{r.model}` does not support embeddings. Use an "
                                "embedding model such as text-embedding-3-small.", param="model")
        inputs = text_inputs(r.input, "input")
        if len(inputs) > MAX_INPUTS:
            raise ApiError(400, f"'$.input' is invalid: at most {MAX_INPUTS} inputs per "
                                "request.", param="input")
        dims = model.dimensions
        if r.dimensions is not None:
            if model.id.startswith("text-embedding-ada"):
                raise ApiError(400, "This model does not support specifying dimensions.",
                               param="dimensions")
            if r.dimensions > dims:
                raise ApiError(400, f"Invalid value for 'dimensions' = {r.dimensions}. Must be "
                                    f"less than or equal to {dims}.", param="dimensions")
            dims = r.dimensions
        b64 = r.encoding_format == "base64"
        items, n_prompt = [], 0
        cache = self.cache
        for i, value in enumerate(inputs):
            tokens = count(value) if type(value) is str else len(value)
            if tokens > MAX_TOKENS:
                raise ApiError(400, f"This model's maximum context length is {MAX_TOKENS} "
                                    f"tokens, however you requested {tokens} tokens ({tokens} "
                                    "in your prompt; 0 for the completion). Please reduce your "
                                    "prompt; or completion length.", param=None)
            if type(value) is str and not value:
                raise ApiError(400, "'$.input' is invalid. Please check the API reference: "
                                    "https://platform.openai.com/docs/api-reference.")
            n_prompt += tokens
            ck = (r.model, dims, b64, i, value if type(value) is str else tuple(value))
            item = cache.get(ck)
            if item is None:
                key = key_of(value.encode()) if type(value) is str else \
                    key_of(array("q", value).tobytes(), True)
                f32 = unit_vector(key ^ key_of(r.model.encode()), dims)
                item = (ITEM_BASE64 if b64 else ITEM_FLOAT).render(
                    (i, b64encode(f32) if b64 else json_floats(f32)))
                if len(cache) >= _CACHE_LIMIT:
                    cache.clear()
                cache[ck] = item
            items.append(item)
        return r.model, n_prompt, BODY.render((b",".join(items), r.model, n_prompt, n_prompt))


def routes(env):
    return [(b"POST", "/v1/embeddings", "openai.embeddings", Embeddings(env))]
