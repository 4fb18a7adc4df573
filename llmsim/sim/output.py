"""How an answer's planned tokens are shared out, whatever the provider's shape.

A model that thinks (Anthropic's thinking blocks, Gemini's thoughts) spends part of the
planned tokens first: at most its budget, at most half of the plan, so the visible answer
keeps the rest. The visible answer is the generator's text in the tokens the cap leaves, or
a whole document (JSON for a response format) cut at that cap.
"""

from llmsim.core.pieces import Run
from llmsim.sim.text import CORPUS
from llmsim.sim.tokens import Pieces


def thought(plan, budget):
    """The Run of thinking tokens that open the answer, or None (no budget, or a plan too
    short to share)."""
    k = min(budget, plan.n_tokens // 2) if budget else 0
    return CORPUS.generate("", plan, k, plan.rng.u64())[0] if k else None


def text(gen, prompt, plan, cap, thinking):
    """(run, truncated): the generator's visible text after `thinking` tokens of thought,
    at most `cap` tokens; thinking took its share of the plan, so the text ends where the
    plan does."""
    run, truncated = gen.generate(prompt, plan, cap, plan.rng.u64())
    if thinking and run.count > plan.n_tokens - thinking:
        run = Run(run.pieces, run.first, plan.n_tokens - thinking, run.skip)
        truncated = plan.truncated
    return run, truncated


def capped(document, cap):
    """(Run of the tokens of `document` (str or UTF-8 bytes) up to `cap` (None: all),
    whether the cap cut it)."""
    p = Pieces(document)
    if cap is not None and p.count > cap:
        return Run(p, 0, cap), True
    return Run(p, 0, p.count), False
