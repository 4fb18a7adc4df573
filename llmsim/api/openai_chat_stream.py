"""Streamed chat completions: the `chat.completion.chunk` frames of each choice (from
llmsim.core.chat_stream, which describes their shape) as templates for a
`llmsim.core.sse.TokenStream`. The common stream, one choice of plain text, is compiled
there; this is every other one (several choices, tool calls, logprobs, stop sequences)."""

from llmsim.api import openai_logprobs
from llmsim.api.openai_env import gap
from llmsim.core.chat_stream import (DONE, END, END_USAGE, FINAL_CLOSE, FINAL_OPEN, HEAD,
                                     TEXT_LEAD, TEXT_OPEN, TOKEN_CLOSE, USAGE_OPEN, choice)
from llmsim.core.ids import alnum
from llmsim.core.render import escape
from llmsim.core.sse import TokenStream


def chat_stream(said, plan, model, created, tier, fingerprint, usage, top_logprobs, on_close):
    """The TokenStream of a streamed chat completion (`said`: one Said per choice; `usage`:
    the usage JSON for the final chunk, or None without include_usage)."""
    head = HEAD.render((alnum(29), created, model, tier, fingerprint))
    end = END_USAGE if usage is not None else END
    lead, lanes, finals = [], [], []
    for i, s in enumerate(said):
        open_ = head + choice(i)
        if s.calls is not None:
            lead.append(open_ + b'{"role":"assistant","content":null,"refusal":null},'
                                b'"logprobs":null,"finish_reason":null}]' + end)
            items = []
            for k, (cid, name, run) in enumerate(s.calls):
                items.append((None, open_ + b'{"tool_calls":[{"index":%d,"id":"%b","type":'
                              b'"function","function":{"name":"%b","arguments":""}}]},'
                              b'"logprobs":null,"finish_reason":null}]' % (k, cid, escape(name))
                              + end, b""))
                items.append((run, open_ + b'{"tool_calls":[{"index":%d,"function":'
                              b'{"arguments":"' % k,
                              b'"}}]},"logprobs":null,"finish_reason":null}]' + end))
        else:
            lead.append(open_ + TEXT_LEAD + end)
            items = [(s.run, open_ + TEXT_OPEN, TOKEN_CLOSE + end)]
        lanes.append(items)
        finals.append(open_ + FINAL_OPEN + s.finish + FINAL_CLOSE + end)
    trailer = DONE if usage is None else head + USAGE_OPEN + usage + END + DONE
    tail_fn = None
    if any(s.lp_key is not None for s in said):
        tail_fn = _logprob_tails(said, top_logprobs, end)
    return TokenStream(lanes, finals, b"".join(lead), trailer, plan.due, plan.ttft_ns,
                       gap(plan), tail_fn, on_close)


def _logprob_tails(said, top, end):
    def tail(lane, step):
        s = said[lane]
        lp = openai_logprobs.chat_chunk(s.run.token(step), s.lp_key, step, top)
        return b'"},"logprobs":' + lp + b',"finish_reason":null}]' + end
    return tail
