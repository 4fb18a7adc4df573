# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""POST /v1/chat/completions, compiled: decode, check, count, plan, and the common answer.

`ChatCore` is the per-request path of every chat completion. The common answer (one
non-streamed choice of plain text from a chat model: no n, stop, tools, logprobs,
response_format or stream) is rendered here in one template pass. Everything else goes to
the Python subclass, llmsim.api.openai_chat.ChatCompletions, through three hooks:
`check(r)` (the checks the common answer does not need), `tools(r)` -> (function tools,
their prompt tokens) and `answer(...)` (choices, tool calls, streams).
"""

import msgspec

from llmsim.core.ids cimport alnum
from llmsim.core.plan cimport Plan, due
from llmsim.core.render cimport Template
from llmsim.core.wire cimport Clock, headers

from llmsim.api.openai_types import (CHAT, AssistantMessage, ImagePart, RefusalPart, TextPart,
                                     ToolMessage, UserMessage)
from llmsim.api.openai_wire import decode_error
from llmsim.core.stream import Delayed
from llmsim.errors import ApiError
from llmsim.sim.tokens import (IMAGE_HIGH, IMAGE_LOW, PER_MESSAGE, PER_NAME, REPLY_PRIMING,
                               count)

_decode = CHAT.decode
cdef dict _TIERS = {"flex": b"flex", "priority": b"priority", "scale": b"scale"}
cdef Py_ssize_t _MEMO_LIMIT = 1024


cpdef Py_ssize_t prompt_tokens(list messages) except -1:
    """Prompt tokens of a chat request, with OpenAI's per-message framing."""
    cdef Py_ssize_t n = REPLY_PRIMING
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
        t = type(m)
        if t is not ToolMessage and m.name:
            n += PER_NAME + count(m.name)
        if t is AssistantMessage and m.tool_calls:
            for call in m.tool_calls:
                n += PER_MESSAGE + count(call.function.name) + count(call.function.arguments)
    return n


cpdef str last_user_text(list messages):
    """The text of the last user message ('' when there is none)."""
    for m in reversed(messages):
        if type(m) is UserMessage:
            c = m.content
            if type(c) is str:
                return c
            return "\n".join([p.text for p in c if type(p) is TextPart])
    return ""


cpdef completion_cap(r, model):
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


cdef class ChatCore:
    """The handler of POST /v1/chat/completions (see the module docstring)."""
    cdef object models, pick, plan, request_key, admit
    cdef readonly object planner
    cdef Clock clock
    cdef Template simple
    cdef dict memo      # model name -> (catalog entry, generator without the header)

    def __init__(self, env, Template simple):
        """`simple`: the template of the common answer."""
        planner = env.planner
        self.models = env.catalog
        self.pick = env.generators.pick
        self.planner = planner
        self.plan = planner.plan
        self.request_key = planner.request_key
        self.admit = planner.admit
        self.clock = env.clock
        self.simple = simple
        self.memo = {}

    cdef tuple model(self, name):
        """(the catalog entry of `name`, the generator it gets without the header); the
        catalog's 404 for an unknown name. Both are fixed for the worker's life."""
        cdef tuple entry = self.memo.get(name)
        if entry is None:
            entry = (self.models.require(name), self.pick(name, None))
            if len(self.memo) < _MEMO_LIMIT:
                self.memo[name] = entry
        return entry

    def __call__(self, req):
        cdef bytes body = req.body
        cdef list messages
        cdef Py_ssize_t n_prompt, completion
        try:
            r = _decode(body)
        except msgspec.DecodeError as e:
            raise decode_error(e, body) from None
        name = r.model
        model, gen = self.model(name)
        kind = model.kind
        if kind != "chat" and kind != "reasoning":
            raise ApiError(404, "This is not a chat model and thus not supported in the "
                                "v1/chat/completions endpoint. Did you mean to use v1/completions?",
                           param="model")
        messages = r.messages
        if not messages:
            raise ApiError(400, "Invalid 'messages': empty array. Expected an array with minimum "
                                "length 1, but got an empty array instead.",
                           param="messages", code="empty_array")
        cap = completion_cap(r, model)
        hdrs = req.headers
        named = hdrs.get(b"x-llmsim-generator")
        if named is not None:
            gen = self.pick(name, named)
        prompt = last_user_text(messages) if gen.needs_prompt else ""
        scripted_call = None
        if gen.scripted:
            gen, scripted_call = gen.resolve(prompt, name)
        tooling = (r.tools is not None or r.tool_choice is not None or
                   r.parallel_tool_calls is not None)
        simple = (r.n is None and r.stop is None and not tooling and not r.logprobs and
                  r.top_logprobs is None and r.response_format is None and not r.stream and
                  r.stream_options is None and kind == "chat" and scripted_call is None)
        if not simple:
            self.check(r)
        n_prompt = prompt_tokens(messages)
        fns = ()
        if tooling:
            fns, tool_tokens = self.tools(r)
            n_prompt += tool_tokens
        received = req.received_ns
        plan = self.plan(name, n_prompt, cap, self.request_key(r.seed, body),
                         hdrs.get(b"x-llmsim-latency"))
        self.admit(plan, received)
        created = self.clock.seconds(received)
        tier = _TIERS.get(r.service_tier, b"default")
        if not simple:
            return self.answer(req, r, model, gen, plan, cap, prompt, fns, scripted_call,
                               n_prompt, created, tier)
        run, cut = gen.generate(prompt, plan, cap, (<Plan>plan).draw() if type(plan) is Plan
                                else plan.rng.u64())
        completion = run.count
        delay = due(plan, completion - 1) if completion else plan.ttft_ns
        if completion < plan.n_tokens:
            self.planner.release(plan, received + delay)
        out = self.simple.render((alnum(29), created, name, 0, run.esc(),
                                  b"length" if cut else b"stop", n_prompt, completion,
                                  n_prompt + completion, 0, tier, model.fingerprint))
        return 200, headers(delay), Delayed(out, delay)
