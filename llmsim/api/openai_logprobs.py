"""Synthetic but well-formed log probabilities for generated tokens.

Token i of a choice gets values drawn from (key, i) with the counter-based RNG, so a stream
renders the same numbers whenever it asks, and a seeded request repeats them. The sampled
token is the most likely one; alternatives come from the corpus with lower log
probabilities.
"""

import msgspec

from llmsim.core.rng import u64
from llmsim.sim.text import CORPUS
from llmsim.sim.tokens import Pieces

_MASK = (1 << 64) - 1
_SCALE = 1.0 / (1 << 64)
_encode = msgspec.json.encode


def _logprob(key, counter):
    u = u64(key, counter) * _SCALE
    return -round(u * u * 2.5, 6)


def _alternative(key, counter):
    p = CORPUS.pieces
    return p.token(u64(key, counter) % p.count)


def _entry(token, logprob):
    text = token.decode("utf-8", "replace")
    return {"token": text, "logprob": logprob, "bytes": list(token)}


def chat_entry(token, key, i, top):
    """The ChatCompletionTokenLogprob of token i (raw bytes) with `top` alternatives."""
    lp = _logprob(key, 16 * i)
    out = _entry(token, lp)
    alts = [_entry(token, lp)] if top else []
    floor = lp
    for k in range(1, top):
        floor -= 0.5 - _logprob(key, 16 * i + k)
        alts.append(_entry(_alternative(key, 16 * i + 8 + k), round(floor, 6)))
    out["top_logprobs"] = alts
    return out


def chat_content(tokens, key, top):
    """The `logprobs` object of a non-streamed chat choice (bytes of the JSON)."""
    return _encode({"content": [chat_entry(t, key, i, top) for i, t in enumerate(tokens)],
                    "refusal": None})


def chat_chunk(token, key, i, top):
    """The `logprobs` object of one streamed chat token (bytes of the JSON)."""
    return _encode({"content": [chat_entry(token, key, i, top)], "refusal": None})


def completion(tokens, key, top, prompt="", start=0, offset=0):
    """The legacy /v1/completions `logprobs` object (bytes of the JSON) for raw completion
    `tokens`, the first being token number `start` at character `offset` of the text. An echoed
    `prompt` comes first; its first token has a null logprob, as upstream."""
    echoed = Pieces(prompt) if prompt else None
    texts, lps, tops, offsets = [], [], [], []
    if echoed is not None:
        for i in range(echoed.count):
            text = echoed.token(i).decode("utf-8", "replace")
            lp = None if i == 0 else _logprob(~key & _MASK, 16 * i)
            texts.append(text)
            lps.append(lp)
            tops.append(None if lp is None else {text: lp})
            offsets.append(offset)
            offset += len(text)
    for i, token in enumerate(tokens, start):
        text = token.decode("utf-8", "replace")
        lp = _logprob(key, 16 * i)
        alts = {text: lp}
        floor = lp
        for k in range(1, top):
            floor -= 0.5 - _logprob(key, 16 * i + k)
            alts.setdefault(_alternative(key, 16 * i + 8 + k).decode("utf-8", "replace"),
                            round(floor, 6))
        texts.append(text)
        lps.append(lp)
        tops.append(alts)
        offsets.append(offset)
        offset += len(text)
    return _encode({"tokens": texts, "token_logprobs": lps, "top_logprobs": tops,
                    "text_offset": offsets})
