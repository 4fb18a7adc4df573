"""llmsim's one approximate tokenizer (no vocabulary files, no downloads).

Text is cut the way GPT-family BPE tokenizers cut English prose (rule in
csrc/llmsim_tokens.h): a word with the space before it is one token per 8 bytes, a number
one token per 3 digits, every other visible character one token, a whitespace run one token.
English prose comes out near 1.2 tokens per word, close to the real tokenizers. Everything
llmsim generates is built from these tokens, so `completion_tokens` is exactly the number of
tokens sent, and re-counting the received text gives the same number.

Chat prompts add OpenAI's documented framing: 3 tokens per message, 1 for a `name`, and 3
to prime the reply; an image costs 85 tokens at detail `low` and 765 otherwise.
"""

from llmsim.core.pieces import Pieces, count_tokens

PER_MESSAGE = 3
PER_NAME = 1
REPLY_PRIMING = 3
IMAGE_LOW = 85
IMAGE_HIGH = 765

count = count_tokens

__all__ = ["Pieces", "count", "PER_MESSAGE", "PER_NAME", "REPLY_PRIMING", "IMAGE_LOW",
           "IMAGE_HIGH"]
