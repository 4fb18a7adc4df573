"""POST /v1/chat/completions: validate, plan, generate, render (non-streamed answers).

The common answer (one choice of plain text) is one template render over pre-escaped corpus
bytes; anything else (n > 1, stop sequences, logprobs, tools, formats) composes per-choice
fragments. Streams are built in `openai_chat_stream`.
"""

import msgspec

from llmsim.api.openai_env import due
from llmsim.api.openai_types import CHAT, ImagePart, RefusalPart, TextPart, UserMessage
from llmsim.api.openai_wire import Delayed, decode_error, headers
from llmsim.core.ids import alnum
from llmsim.core.render import Template, escape
from llmsim.errors import ApiError
from llmsim.sim.tokens import (IMAGE_HIGH, IMAGE_LOW, PER_MESSAGE, PER_NAME, REPLY_PRIMING,
                               count)

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
BODY = Template(_BODY)
# The common case in one pass: one text choice, usage inline.
SIMPLE = Template(_BODY.replace(b"{{choices:raw}}", _CHOICE.replace(b"{{logprobs:raw}}", b"null"))
                  .replace(b"{{usage:raw}}", _USAGE))

_TIERS = {"flex": b"flex", "priority": b"priority", "scale": b"scale"}


def prompt_tokens(messages):
    """Prompt tokens of a chat request, with OpenAI's per-message framing."""
    n = REPLY_PRIMING
    for m in messages:
        n += PER_MESSAGE
        c = m.content
        if type(c) is str:
            n += count(c)
        elif c:
            for part in c:
                t = type(part)
                if t is TextPart:
                    n += count(part.text)
                elif t is ImagePart:
                    n += IMAGE_LOW if part.image_url.detail == "low" else IMAGE_HIGH
                elif t is RefusalPart:
                    n += count(part.refusal)
        name = getattr(m, "name", None)
        if name:
            n += PER_NAME + count(name)
        calls = getattr(m, "tool_calls", None)
        if calls:
            for call in calls:
                n += PER_MESSAGE + count(call.function.name) + count(call.function.arguments)
    return n


def last_user_text(messages):
    """The text of the last user message ('' when there is none)."""
    for m in reversed(messages):
        if type(m) is UserMessage:
            c = m.content
            if type(c) is str:
                return c
            return "\n".join(p.text for p in c if type(p) is TextPart)
    return ""


def completion_cap(r, model):
    """The request's output token cap after OpenAI's checks, or None."""
    if model.kind == "reasoning":
        if r.max_tokens is not None:
            raise ApiError(400, "Unsupported parameter: 'max_tokens' is not supported with this "
                                "model. Use 'max_completion_tokens' instead.",
                           param="max_tokens", code="unsupported_parameter")
        for name in ("temperature", "top_p"):
            v = getattr(r, name)
            if v is not None and v != 1:
                raise ApiError(400, f"Unsupported value: '{name}' does not support {v} with this "
                                    "model. Only the default (1) value is supported.",
                               param=name, code="unsupported_value")
    cap = r.max_completion_tokens if r.max_completion_tokens is not None else r.max_tokens
    if cap is not None and cap > model.max_output:
        param = "max_completion_tokens" if r.max_completion_tokens is not None else "max_tokens"
        raise ApiError(400, f"{param} is too large: {cap}. This model supports at most "
                            f"{model.max_output} completion tokens, whereas you provided {cap}.",
                       param=param, code="invalid_value")
    return cap


class ChatCompletions:
    """The handler of POST /v1/chat/completions."""

    def __init__(self, env):
        self.env = env
        self.models = env.catalog
        self.pick = env.generators.pick
        self.plan = env.planner.plan
        self.unix = env.clock.unix
        self.key = env.key
        self.rand = env.rand

    def __call__(self, req):
        body = req.body
        try:
            r = CHAT.decode(body)
        except msgspec.DecodeError as e:
            raise decode_error(e, body) from None
        name = r.model
        model = self.models.require(name)
        if model.kind != "chat" and model.kind != "reasoning":
            raise ApiError(404, "This is not a chat model and thus not supported in the "
                                "v1/chat/completions endpoint. Did you mean to use v1/completions?",
                           param="model")
        messages = r.messages
        if not messages:
            raise ApiError(400, "Invalid 'messages': empty array. Expected an array with minimum "
                                "length 1, but got an empty array instead.",
                           param="messages", code="empty_array")
        cap = completion_cap(r, model)
        if r.stream_options is not None and not r.stream:
            raise ApiError(400, "The 'stream_options' parameter is only allowed when 'stream' "
                                "is enabled.", param="stream_options", code="invalid_value")
        hdrs = req.headers
        gen = self.pick(name, hdrs.get(b"x-llmsim-generator"))
        n_prompt = prompt_tokens(messages)
        key = self.key(r.seed, body)
        plan = self.plan(name, n_prompt, cap, key, hdrs.get(b"x-llmsim-latency"))
        prompt = last_user_text(messages) if gen.needs_prompt else ""
        created = self.unix(req.received_ns)
        tier = _TIERS.get(r.service_tier, b"default")
        if r.n is None and r.stop is None:
            run, cut = gen.generate(prompt, plan.n_tokens, cap, self.rand(key, 0))
            completion = run.count
            delay = due(plan, completion - 1) if completion else plan.ttft_ns
            out = SIMPLE.render((alnum(29), created, name, 0, run.esc(),
                                 b"length" if cut else b"stop", n_prompt, completion,
                                 n_prompt + completion, 0, tier, model.fingerprint))
        else:
            stops = [r.stop] if type(r.stop) is str else r.stop
            completion = longest = 0
            parts = []
            for i in range(r.n or 1):
                run, cut = gen.generate(prompt, plan.n_tokens, cap, self.rand(key, i))
                esc, tokens, stopped = _apply_stop(run, stops)
                completion += tokens
                longest = max(longest, tokens)
                parts.append(CHOICE.render((i, esc, b"null",
                                            b"stop" if stopped or not cut else b"length")))
            delay = due(plan, longest - 1) if longest else plan.ttft_ns
            usage = USAGE.render((n_prompt, completion, n_prompt + completion, 0))
            out = BODY.render((alnum(29), created, name, b",".join(parts), usage, tier,
                               model.fingerprint))
        return 200, headers(delay), Delayed(out, delay)


def _apply_stop(run, stops):
    """(escaped content, tokens sent, stopped) of a run cut before the first stop sequence."""
    if stops:
        raw = run.raw()
        cut = -1
        for s in stops:
            i = raw.find(s.encode()) if s else -1
            if i >= 0 and (cut < 0 or i < cut):
                cut = i
        if cut >= 0:
            text = raw[:cut]
            return escape(text), count(text), True
    return run.esc(), run.count, False


def routes(env):
    return [(b"POST", "/v1/chat/completions", "openai.chat_completions", ChatCompletions(env))]
