"""POST /v1/chat/completions: decide what each choice says, render.

The request path, the common answer (one non-streamed choice of plain text, one template
render over pre-escaped corpus bytes) and the common stream are compiled: llmsim.core.chat. Everything
else goes through `Said` per choice (text or tool calls, stop sequences, formats, logprobs)
and is rendered non-streamed here or streamed by `openai_chat_stream`.
"""

import msgspec

from llmsim.api import openai_logprobs, openai_tools, planning
from llmsim.api.openai_chat_stream import chat_stream
from llmsim.api.openai_types import JsonObjectFormat, JsonSchemaFormat
from llmsim.api.openai_wire import SSE, Delayed, headers
from llmsim.core.chat import ChatCore
from llmsim.core.ids import alnum
from llmsim.core.pieces import Run
from llmsim.core.render import Template
from llmsim.errors import ApiError
from llmsim.sim import output
from llmsim.sim.jsonschema_gen import generate
from llmsim.sim.stop import cut
from llmsim.sim.tokens import PER_MESSAGE, Pieces, count

_USAGE = (b'{"prompt_tokens":{{prompt:int}},"completion_tokens":{{completion:int}},'
          b'"total_tokens":{{total:int}},'
          b'"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},'
          b'"completion_tokens_details":{"reasoning_tokens":{{reasoning:int}},"audio_tokens":0,'
          b'"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}')
_CHOICE = (b'{"index":{{index:int}},"message":{"role":"assistant","content":"{{content:raw}}",'
           b'"refusal":null,"annotations":[]},"logprobs":{{logprobs:raw}},'
           b'"finish_reason":"{{finish:raw}}"}')
_BODY = (b'{"id":"chatcmpl-{{id:raw}}","object":"chat.completion","created":{{created:int}},'
         b'"model":"{{model:str}}","choices":[{{choices:raw}}],"usage":{{usage:raw}},'
         b'"service_tier":"{{tier:raw}}","system_fingerprint":"{{fingerprint:raw}}"}')

USAGE = Template(_USAGE)
CHOICE = Template(_CHOICE)
TOOL_CHOICE = Template(b'{"index":{{index:int}},"message":{"role":"assistant","content":null,'
                       b'"tool_calls":[{{calls:raw}}],"refusal":null,"annotations":[]},'
                       b'"logprobs":null,"finish_reason":"{{finish:raw}}"}')
TOOL_CALL = Template(b'{"id":"{{id:raw}}","type":"function","function":{"name":"{{name:str}}",'
                     b'"arguments":"{{arguments:raw}}"}}')
BODY = Template(_BODY)
# The common case in one pass: one text choice, usage inline.
SIMPLE = Template(_BODY.replace(b"{{choices:raw}}", _CHOICE.replace(b"{{logprobs:raw}}", b"null"))
                  .replace(b"{{usage:raw}}", _USAGE))

_EFFORT = {"none": 0, "minimal": 0, "low": 1, "medium": 4, "high": 16, "xhigh": 32}
# What `response_format` json_object (and an answer format without a schema) generates.
_ANSWER_SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}},
                  "required": ["answer"]}


def _check(r):
    if r.stream_options is not None and not r.stream:
        raise ApiError(400, "The 'stream_options' parameter is only allowed when 'stream' "
                            "is enabled.", param="stream_options", code="invalid_value")
    if r.top_logprobs and not r.logprobs:
        raise ApiError(400, "Invalid value for 'top_logprobs': 'logprobs' must be set to true "
                            "when 'top_logprobs' is used.", param="top_logprobs")
    rf = r.response_format
    if type(rf) is JsonObjectFormat and not any(
            "json" in (m.content if type(m.content) is str else
                       " ".join(getattr(p, "text", "") for p in m.content or ())).lower()
            for m in r.messages):
        raise ApiError(400, "'messages' must contain the word 'json' in some form, to use "
                            "'response_format' of type 'json_object'.", param="messages")


class Said:
    """What one choice says: text (`run`) or tool calls, and how it ended."""
    __slots__ = ("run", "calls", "finish", "tokens", "lp_key")

    def __init__(self, run, calls, finish, tokens, lp_key=None):
        self.run = run            # Run of the content, or None for tool calls
        self.calls = calls        # [(call id bytes, function name, arguments Run)]
        self.finish = finish      # b"stop" | b"length" | b"tool_calls"
        self.tokens = tokens      # completion tokens (one per streamed token event)
        self.lp_key = lp_key      # logprobs RNG key, or None


def reasoning_tokens(model, effort, rng, cap):
    """(hidden reasoning tokens a reasoning model spends at `effort`, the output cap left
    for the visible answer)."""
    if model.kind != "reasoning":
        return 0, cap
    reasoning = 32 * (1 + rng.below(8)) * _EFFORT.get(effort, 4)
    if cap is None:
        return reasoning, cap
    reasoning = min(reasoning, cap)
    return reasoning, cap - reasoning


def json_answer(schema, rng, cap):
    """(Run of a JSON document valid against `schema` (None: the json_object default), whether
    `cap` cut it)."""
    return output.capped(msgspec.json.encode(generate(_ANSWER_SCHEMA if schema is None
                                                      else schema, rng)), cap)


class ChatCompletions(ChatCore):
    """The handler of POST /v1/chat/completions: llmsim.core.chat's compiled path, with every
    answer but the common one made here."""

    def __init__(self, env):
        super().__init__(env, SIMPLE, USAGE)
        self.env = env

    check = staticmethod(_check)

    @staticmethod
    def tools(r):
        """(the request's function tools, the prompt tokens their definitions add)."""
        fns = openai_tools.functions(r)
        n = 0
        for f in fns:
            n += count(f.name) + (count(msgspec.json.encode(f.parameters))
                                  if f.parameters else 0) + PER_MESSAGE
        return fns, n

    def answer(self, req, r, model, gen, plan, cap, prompt, fns, scripted_call, n_prompt,
               created, tier):
        """Every answer but the common ones: several choices, tool calls, stop sequences,
        formats, logprobs, reasoning tokens, streams of requests out of the scanned subset."""
        said, reasoning = self.say(r, model, gen, plan, cap, prompt, fns, scripted_call)
        include_usage = r.stream_options is not None and bool(r.stream_options.include_usage)
        return self.reply(req, said, reasoning, r.model, model, plan, n_prompt, created, tier,
                          bool(r.stream), include_usage, r.top_logprobs or 0)

    def reply(self, req, said, reasoning, name, model, plan, n_prompt, created, tier, stream,
              include_usage, top):
        """The answer made of `said` (one Said per choice), streamed or not."""
        tokens = [s.tokens for s in said]
        longest = max(tokens)
        completion = sum(tokens) + reasoning
        planning.settle(self.env, req, plan, longest, n_prompt, completion)
        usage = USAGE.render((n_prompt, completion, n_prompt + completion, reasoning))
        if stream:
            stream = chat_stream(said, plan, name, created, tier, model.fingerprint,
                                 usage if include_usage else None, top,
                                 planning.releaser(self.planner, plan))
            return 200, headers(plan.ttft_ns, SSE), stream
        delay = planning.finish_ns(plan, longest)
        parts = [self.render_choice(i, s, top) for i, s in enumerate(said)]
        out = BODY.render((alnum(29), created, name, b",".join(parts), usage, tier,
                           model.fingerprint))
        return 200, headers(delay), Delayed(out, delay)

    def say(self, r, model, gen, plan, cap, prompt, fns, scripted_call):
        """(one Said per choice, reasoning tokens); `scripted_call` (name, arguments) makes
        every choice that tool call."""
        rng = plan.rng
        reasoning, cap = reasoning_tokens(model, r.reasoning_effort, rng, cap)
        stops = [r.stop] if type(r.stop) is str else r.stop
        wanted, forced = openai_tools.chosen(r, fns, r.messages) if fns else ((), False)
        rf = r.response_format
        out = []
        for _ in range(r.n or 1):
            if scripted_call is not None:
                out.append(self._calls([scripted_call], rng, cap))
                continue
            if wanted:
                out.append(self._calls(openai_tools.draw(wanted, forced, r.parallel_tool_calls,
                                                         rng), rng, cap))
                continue
            if type(rf) is JsonSchemaFormat:
                run, capped = json_answer(rf.json_schema.schema or {}, rng, cap)
            elif type(rf) is JsonObjectFormat:
                run, capped = json_answer(None, rng, cap)
            else:
                run, capped = gen.generate(prompt, plan, cap, rng.u64())
            run, stop = cut(run, stops)
            out.append(Said(run, None, b"length" if capped and stop is None else b"stop",
                            run.count, rng.u64() if r.logprobs else None))
        return out, reasoning

    @staticmethod
    def _calls(fns, rng, cap):
        """A Said of tool calls to `fns` (FunctionDefs, or (name, arguments) pairs)."""
        calls, tokens, finish = [], 0, b"tool_calls"
        for f in fns:
            if type(f) is tuple:
                name, args = f
            else:
                name, args = f.name, openai_tools.arguments(f, rng)
            p = Pieces(args)
            run = Run(p, 0, p.count)
            if cap is not None and tokens + 1 + run.count > cap:
                run = Run(p, 0, max(cap - tokens - 1, 0))
                finish = b"length"
            calls.append((b"call_" + alnum(24), name, run))
            tokens += 1 + run.count
            if finish == b"length":
                break
        return Said(None, calls, finish, tokens)

    @staticmethod
    def render_choice(i, said, top):
        if said.calls is not None:
            calls = b",".join(TOOL_CALL.render((cid, fname, run.esc()))
                              for cid, fname, run in said.calls)
            return TOOL_CHOICE.render((i, calls, said.finish))
        lp = b"null"
        if said.lp_key is not None:
            lp = openai_logprobs.chat_content(said.run.tokens(), said.lp_key, top)
        return CHOICE.render((i, said.run.esc(), lp, said.finish))


def routes(env):
    return [(b"POST", "/v1/chat/completions", "openai.chat_completions", ChatCompletions(env))]
