"""Streamed chat completions: the `chat.completion.chunk` frames of each choice as templates
for a `llmsim.core.sse.TokenStream`.

Shape (as the live API): every chunk carries the same id, created, model, service_tier and
system_fingerprint; the first delta of a choice holds the role; then one chunk per token
(content, or tool-call arguments after a chunk naming the call); then a chunk with an empty
delta and the finish_reason; with `stream_options.include_usage` every chunk has
`"usage":null` and one last chunk has `"choices":[]` and the usage; then `data: [DONE]`.
"""

from llmsim.api import openai_logprobs
from llmsim.api.openai_env import gap
from llmsim.core.ids import alnum
from llmsim.core.render import Template, escape
from llmsim.core.sse import TokenStream

_HEAD = Template(b'data: {"id":"chatcmpl-{{id:raw}}","object":"chat.completion.chunk",'
                 b'"created":{{created:int}},"model":"{{model:str}}","service_tier":"{{tier:raw}}",'
                 b'"system_fingerprint":"{{fingerprint:raw}}","choices":')
DONE = b"data: [DONE]\n\n"


def chat_stream(said, plan, model, created, tier, fingerprint, usage, top_logprobs, on_close):
    """The TokenStream of a streamed chat completion (`said`: one Said per choice; `usage`:
    the usage JSON for the final chunk, or None without include_usage)."""
    head = _HEAD.render((alnum(29), created, model, tier, fingerprint))
    end = b',"usage":null}\n\n' if usage is not None else b"}\n\n"
    lead, lanes, finals = [], [], []
    for i, s in enumerate(said):
        c = b'[{"index":%d,"delta":' % i
        open_ = head + c
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
            lead.append(open_ + b'{"role":"assistant","content":"","refusal":null},'
                                b'"logprobs":null,"finish_reason":null}]' + end)
            items = [(s.run, open_ + b'{"content":"',
                      b'"},"logprobs":null,"finish_reason":null}]' + end)]
        lanes.append(items)
        finals.append(open_ + b'{},"logprobs":null,"finish_reason":"%b"}]' % s.finish + end)
    trailer = DONE if usage is None else head + b'[],"usage":' + usage + b"}\n\n" + DONE
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
