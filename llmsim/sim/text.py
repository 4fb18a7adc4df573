"""What the simulated model says: content generators over llmsim's tokens.

A generator's `generate(prompt, plan, cap, r)` (prompt: the last user message, plan: the
timing plan whose `n_tokens` is the planned length, cap: the token limit or None, r: a random
int) gives `(run, cut)`: a `Run` of `count` consecutive tokens of a `Pieces` text from token
`first` (wrapping around for cyclic texts, the first `skip` bytes left out), and whether the
cap or the planned length cut it (finish_reason `length`). A run is a view, not a copy:
streams render each token straight from the shared escaped buffer.

Built in (`Cyclic`, compiled: llmsim.core.pieces):
  corpus  natural-looking English from the built-in corpus (llmsim/sim/corpus.txt), a window
          starting at a sentence chosen by the random int; exactly the planned length
          (the planner draws it from the model's length distribution and max_tokens)
  lorem   the same over lorem ipsum
  echo    the last user message, cut at the cap
  fixed   a configured text, cut at the cap
Scripted rules (llmsim.sim.script) pick one of these or a tool call or an error; the config
section `generators` (llmsim.sim.generators) says which generator answers which request.
"""

import os

from llmsim.core.pieces import Cyclic, Run
from llmsim.sim.tokens import Pieces

LOREM = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
         "incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud "
         "exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure "
         "dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla "
         "pariatur. Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia "
         "deserunt mollit anim id est laborum. ")


class Fixed:
    """A given text (or the prompt itself), cut at the cap."""

    scripted = False

    def __init__(self, text=None):
        self.pieces = Pieces(text) if text is not None else None
        self.needs_prompt = text is None

    def generate(self, prompt, plan, cap, r):
        p = self.pieces if self.pieces is not None else Pieces(prompt)
        if cap is not None and p.count > cap:
            return Run(p, 0, cap), True
        return Run(p, 0, p.count), False


def _corpus_text():
    # A plain read beside this module: importlib.resources would import pathlib, zipfile and
    # tempfile at every start, and a package with a compiled core never runs from a zip.
    with open(os.path.join(os.path.dirname(__file__), "corpus.txt"), encoding="utf-8") as f:
        return f.read()


CORPUS = Cyclic(_corpus_text())
LOREM_GEN = Cyclic(LOREM)
ECHO = Fixed()


def detokenize(ids):
    """Text for token ids: id k is corpus token k (modulo the corpus), so ids round-trip
    through llmsim's tokenizer vocabulary."""
    p = CORPUS.pieces
    return b"".join(p.token(i % p.count) for i in ids).decode("utf-8", "replace")


BUILTIN = {"corpus": CORPUS, "lorem": LOREM_GEN, "echo": ECHO}
