"""Stop sequences: generated text cut right before the first stop sequence it contains.

The text before the stop becomes its own token run (re-tokenized, so a token the stop
sequence begins inside is kept up to the stop), and the tokens sent are exactly that run's.
"""

from llmsim.core.pieces import Run
from llmsim.sim.tokens import Pieces


def cut(run, stops):
    """(run, stop): `run` ended before the earliest of `stops` (a list of str, may be empty
    or None) and the stop sequence found, or (run, None) when it holds none of them."""
    if not stops or not run.count:
        return run, None
    raw = run.raw()
    at, found = -1, None
    for s in stops:
        i = raw.find(s.encode()) if s else -1
        if i >= 0 and (at < 0 or i < at):
            at, found = i, s
    if found is None:
        return run, None
    p = Pieces(raw[:at])
    return Run(p, 0, p.count), found
