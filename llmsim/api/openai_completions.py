"""POST /v1/completions (legacy): string, list and token-id prompts, n, echo, stop, logprobs,
streamed and not. Choices are ordered prompt by prompt: index = prompt_index * n + j.
"""

from llmsim.api import openai_logprobs, planning
from llmsim.api.openai_env import gap
from llmsim.api.openai_types import COMPLETION, text_inputs
from llmsim.api.openai_wire import SSE, Delayed, decode, headers
from llmsim.core.ids import alnum
from llmsim.core.pieces import Run
from llmsim.core.render import Template, escape
from llmsim.core.sse import TokenStream
from llmsim.errors import ApiError
from llmsim.sim.stop import cut
from llmsim.sim.text import Fixed, detokenize
from llmsim.sim.tokens import count

BODY = Template(b'{"id":"cmpl-{{id:raw}}","object":"text_completion","created":{{created:int}},'
                b'"model":"{{model:str}}","choices":[{{choices:raw}}],"usage":{{usage:raw}}}')
CHOICE = Template(b'{"text":"{{echo:raw}}{{text:raw}}","index":{{index:int}},'
                  b'"logprobs":{{logprobs:raw}},"finish_reason":"{{finish:raw}}"}')
USAGE = Template(b'{"prompt_tokens":{{prompt:int}},"completion_tokens":{{completion:int}},'
                 b'"total_tokens":{{total:int}}}')
HEAD = Template(b'data: {"id":"cmpl-{{id:raw}}","object":"text_completion",'
                b'"created":{{created:int}},"choices":')
DONE = b"data: [DONE]\n\n"


class Completions:
    """The handler of POST /v1/completions."""

    def __init__(self, env):
        self.env = env

    def __call__(self, req):
        env = self.env
        r = decode(COMPLETION, req.body)
        name = r.model
        model = env.catalog.require(name)
        if model.kind != "completion":
            raise ApiError(404, "This is a chat model and not supported in the v1/completions "
                                "endpoint. Did you mean to use v1/chat/completions?",
                           param="model")
        prompts = [p if type(p) is str else detokenize(p)
                   for p in text_inputs(r.prompt, "prompt")]
        n = r.n or 1
        if r.best_of is not None and r.best_of < n:
            raise ApiError(400, "best_of must be greater than or equal to n.", param="best_of")
        if r.stream_options is not None and not r.stream:
            raise ApiError(400, "The 'stream_options' parameter is only allowed when 'stream' "
                                "is enabled.", param="stream_options", code="invalid_value")
        cap = r.max_tokens
        if cap is not None and cap > model.max_output:
            raise ApiError(400, f"max_tokens is too large: {cap}. This model supports at most "
                                f"{model.max_output} completion tokens, whereas you provided "
                                f"{cap}.", param="max_tokens", code="invalid_value")
        gen = env.generators.pick(name, req.headers.get(b"x-llmsim-generator"))
        n_prompt = sum(count(p) for p in prompts)
        plan = planning.plan(env, req, name, n_prompt, cap, r.seed)
        rng = plan.rng
        stops = [r.stop] if type(r.stop) is str else r.stop
        choices = []     # (prompt, run, finish, logprobs key)
        for prompt in prompts:
            gen_p = gen
            if gen.scripted:
                gen_p, scripted_call = gen.resolve(prompt, name)
                if scripted_call is not None:
                    gen_p = Fixed(scripted_call[1])
            for _ in range(n):
                run, capped = gen_p.generate(prompt, plan, cap, rng.u64() if cap != 0 else 0)
                if run.skip:    # a continuation keeps the space before its first word
                    run = Run(run.pieces, run.first, run.count)
                run, stop = cut(run, stops)
                choices.append((prompt, run, b"length" if capped and stop is None else b"stop",
                                rng.u64() if r.logprobs is not None else None))
        longest = max(c[1].count for c in choices)
        completion = sum(c[1].count for c in choices)
        planning.settle(env, req, plan, longest, n_prompt, completion)
        usage = USAGE.render((n_prompt, completion, n_prompt + completion))
        created = env.clock.unix(req.received_ns)
        top = r.logprobs or 0
        if r.stream:
            include = r.stream_options is not None and bool(r.stream_options.include_usage)
            return 200, headers(plan.ttft_ns, SSE), _stream(
                choices, plan, name, created, r.echo, top, usage if include else None,
                planning.releaser(env.planner, plan))
        parts = []
        for i, (prompt, run, finish, key) in enumerate(choices):
            lp = b"null"
            if key is not None:
                lp = openai_logprobs.completion(run.tokens(), key, top,
                                                prompt if r.echo else "")
            parts.append(CHOICE.render((escape(prompt) if r.echo else b"", run.esc(), i, lp,
                                        finish)))
        delay = planning.finish_ns(plan, longest)
        out = BODY.render((alnum(29), created, name, b",".join(parts), usage))
        return 200, headers(delay), Delayed(out, delay)


def _stream(choices, plan, model, created, echo, top, usage, on_close):
    head = HEAD.render((alnum(29), created))
    end = b',"model":"' + escape(model) + (b'","usage":null}\n\n' if usage is not None
                                           else b'"}\n\n')
    lead, lanes, finals = [], [], []
    for i, (prompt, run, finish, key) in enumerate(choices):
        if echo:
            lead.append(head + b'[{"text":"' + escape(prompt) +
                        b'","index":%d,"logprobs":null,"finish_reason":null}]' % i + end)
        lanes.append([(run, head + b'[{"text":"',
                       b'","index":%d,"logprobs":null,"finish_reason":null}]' % i + end)])
        finals.append(head + b'[{"text":"","index":%d,"logprobs":null,"finish_reason":"%b"}]'
                      % (i, finish) + end)
    trailer = DONE if usage is None else head + b'[],"model":"' + escape(model) + \
        b'","usage":' + usage + b"}\n\n" + DONE
    tail_fn = None
    if choices and choices[0][3] is not None:
        def tail_fn(lane, step):
            prompt, run, _, key = choices[lane]
            offset = len(run.head(step).raw().decode(errors="replace"))
            if echo:
                offset += len(prompt)
            lp = openai_logprobs.completion([run.token(step)], key, top, start=step,
                                            offset=offset)
            return b'","index":%d,"logprobs":%b,"finish_reason":null}]' % (lane, lp) + end
    return TokenStream(lanes, finals, b"".join(lead), trailer, plan.due, plan.ttft_ns,
                       gap(plan), tail_fn, on_close)


def routes(env):
    return [(b"POST", "/v1/completions", "openai.completions", Completions(env))]
