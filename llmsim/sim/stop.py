"""Stop sequences: generated text cut right before the first stop sequence it contains.

The cut keeps the whole tokens before the stop as a `Run` (streams still render them from
the shared escaped buffer) plus the raw bytes of the token the stop begins inside, so the
text ends exactly where the stop sequence starts. Tokens sent = run.count + count(tail),
which is what re-counting the text gives (the tokenizer cuts a text at a token boundary the
same way, and the tail re-tokenizes on its own).
"""

from typing import NamedTuple

from llmsim.core.pieces import Run
from llmsim.sim.tokens import count


class Cut(NamedTuple):
    run: Run            # whole tokens before the stop
    tail: bytes         # raw bytes of the partial token before the stop (b"" on a boundary)
    stop: str | None    # the stop sequence found, None when there was none

    @property
    def tokens(self):
        return self.run.count + (count(self.tail) if self.tail else 0)

    def raw(self):
        return self.run.raw() + self.tail


def cut(run, stops):
    """`run` cut before the earliest of `stops` (a list of str, may be empty or None)."""
    if not stops or not run.count:
        return Cut(run, b"", None)
    raw = run.raw()
    at, found = -1, None
    for s in stops:
        i = raw.find(s.encode()) if s else -1
        if i >= 0 and (at < 0 or i < at):
            at, found = i, s
    if found is None:
        return Cut(run, b"", None)
    k = count(raw[:at])
    while k:
        whole = Run(run.pieces, run.first, k, run.skip)
        end = len(whole.raw())
        if end <= at:
            return Cut(whole, raw[end:at], found)
        k -= 1
    return Cut(Run(run.pieces, run.first, 0, run.skip), raw[:at], found)
