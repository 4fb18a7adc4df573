"""POST /v1/embeddings, called as a handler with a fake request."""

import base64
import json
import math
import struct

import pytest

from llmsim.errors import ApiError
from llmsim.sim.tokens import count
from openai_fakes import call, handlers

NAME = "openai.embeddings"


@pytest.fixture
def hs():
    return handlers()


def embed(hs, **body):
    body.setdefault("model", "text-embedding-3-small")
    return json.loads(call(hs, NAME, body)[2])


def vectors(doc):
    return [d["embedding"] for d in doc["data"]]


def test_unit_vectors_of_the_model_dimension(hs):
    doc = embed(hs, input=["hello", "world"])
    assert doc["object"] == "list" and doc["model"] == "text-embedding-3-small"
    assert [d["index"] for d in doc["data"]] == [0, 1]
    for v in vectors(doc):
        assert len(v) == 1536
        assert math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-5)
    assert doc["usage"] == {"prompt_tokens": 2, "total_tokens": 2}
    assert len(vectors(embed(hs, model="text-embedding-3-large", input="x"))[0]) == 3072


def test_same_input_same_vector_different_input_different_vector(hs):
    a, b = vectors(embed(hs, input=["alpha", "beta"]))
    assert vectors(embed(handlers(), input="alpha"))[0] == a
    assert a != b
    assert vectors(embed(hs, model="text-embedding-3-large", input="alpha",
                         dimensions=1536))[0] != a


def test_dimensions_shorten_and_renormalise(hs):
    full = vectors(embed(hs, input="alpha"))[0]
    short = vectors(embed(hs, input="alpha", dimensions=8))[0]
    assert len(short) == 8
    norm = math.sqrt(sum(x * x for x in full[:8]))
    assert all(math.isclose(s, f / norm, abs_tol=2e-6) for s, f in zip(short, full))


def test_base64_is_little_endian_float32_of_the_same_vector(hs):
    floats = vectors(embed(hs, input="alpha", dimensions=16))[0]
    b64 = vectors(embed(hs, input="alpha", dimensions=16, encoding_format="base64"))[0]
    decoded = struct.unpack("<16f", base64.b64decode(b64))
    assert all(math.isclose(a, b, abs_tol=1e-8) for a, b in zip(decoded, floats))


def test_token_array_inputs(hs):
    doc = embed(hs, input=[[1, 2, 3], [4]])
    assert len(doc["data"]) == 2 and doc["usage"]["prompt_tokens"] == 4
    assert vectors(embed(hs, input=[1, 2, 3]))[0] == vectors(doc)[0]


def test_prompt_tokens_count_text(hs):
    text = "The quick brown fox jumps over the lazy dog."
    assert embed(hs, input=text)["usage"]["prompt_tokens"] == count(text)


@pytest.mark.parametrize("body,param", [
    ({"model": "gpt-4o", "input": "x"}, "model"),
    ({"input": ""}, None),
    ({"input": ["a", 1]}, None),
    ({"input": "x", "dimensions": 5000}, "dimensions"),
    ({"model": "text-embedding-ada-002", "input": "x", "dimensions": 8}, "dimensions"),
    ({"input": "x", "encoding_format": "hex"}, "encoding_format"),
    ({"input": "word " * 9000}, None),
])
def test_errors(hs, body, param):
    body.setdefault("model", "text-embedding-3-small")
    with pytest.raises(ApiError) as e:
        call(hs, NAME, body)
    assert e.value.status == 400 and e.value.param == param
