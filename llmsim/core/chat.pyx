# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""POST /v1/chat/completions, compiled: decode, check, count, plan, and the common answer.

`ChatCore` is the per-request path of every chat completion. A body in the common subset
(csrc/llmsim_chat_scan.h: model, role + content messages, token caps, seed, service tier,
stream) is read in C without msgspec; any other body is decoded in full, to the same values.
The common answer (one non-streamed choice of plain text from a chat model: no n, stop,
tools, logprobs, response_format or stream) is rendered here in one template pass; the
common stream (the same, streamed: a scanned body) is llmsim.core.chat_stream's ChatTextStream.
Everything else goes to the Python subclass, llmsim.api.openai_chat.ChatCompletions,
through three hooks: `check(r)` (the checks the common answer does not need), `tools(r)` ->
(function tools, their prompt tokens) and `answer(...)` (choices, tool calls, streams of
decoded bodies).
"""

import msgspec

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_FromStringAndSize
from libc.stdint cimport int64_t
from libc.string cimport memcmp, memcpy

from llmsim.core.chat_stream cimport text_stream
from llmsim.core.connection cimport Handler, Request, delayed, open_answer, record_usage
from llmsim.core.fields cimport field as _f, slot as _slot
from llmsim.core.ids cimport alnum, alnum_into
from llmsim.core.pieces cimport Cyclic, Run, count_tokens as count, planned_text
from llmsim.core.plan cimport PlannerCore
from llmsim.core.render cimport SLOT_INT, SLOT_RAW, SLOT_STR, Buffer, Template, scratch, utf8
from llmsim.core.wire cimport Clock, headers, write_headers
from llmsim.core.wire import JSON, SSE

from llmsim.api.catalog import ModelInfo
from llmsim.api.openai_types import (CHAT, AssistantMessage, ChatRequest, ImagePart,
                                     RefusalPart, TextPart, ToolMessage, UserMessage)
from llmsim.api.openai_wire import decode_error
from llmsim.errors import ApiError
from llmsim.sim import tokens

cdef extern from "llmsim_chat_scan.h":
    ctypedef struct llmsim_chat_scan_t:
        const char *model
        size_t model_len
        int64_t max_tokens
        int64_t max_completion_tokens
        int has_seed
        int64_t seed
        const char *tier
        size_t tier_len
        size_t messages
        size_t content_tokens
        const char *last_user
        size_t last_user_len
        int stream
        int include_usage
    int llmsim_chat_scan(const char *body, size_t n, llmsim_chat_scan_t *out) noexcept nogil

_decode = CHAT.decode
cdef bytes _JSON = JSON
cdef object _DECODE = object()   # ChatCore.scanned: "decode this body" (None: answer written)
cdef dict _TIERS = {"flex": b"flex", "priority": b"priority", "scale": b"scale"}


cdef inline object _header(dict hdrs, bytes name):
    """A kept request header's value, or None; most requests keep none (no lookup then)."""
    return hdrs.get(name) if hdrs else None


cdef inline char *_put(char *dst, const char *src, Py_ssize_t n) noexcept:
    """n bytes of src copied to dst; the byte after them."""
    memcpy(dst, src, n)
    return dst + n


cdef inline bytes _tier(tier):
    """The service_tier an answer reports for the requested one (None: not asked)."""
    return b"default" if tier is None else _TIERS.get(tier, b"default")


# The slots of the common answer's template, in the order common() fills them.
cdef tuple _SIMPLE_SLOTS = ("id", "created", "model", "index", "content", "finish", "prompt",
                            "completion", "total", "reasoning", "tier", "fingerprint")
cdef bytes _SIMPLE_KINDS = bytes([SLOT_RAW, SLOT_INT, SLOT_STR, SLOT_INT, SLOT_RAW, SLOT_RAW,
                                  SLOT_INT, SLOT_INT, SLOT_INT, SLOT_INT, SLOT_RAW, SLOT_RAW])
cdef enum:
    ID_LEN = 29         # random characters after "chatcmpl-"
    SIMPLE_SLOTS = 12
    MID = 1             # the slots ChatCore keeps rendered: MID .. CONTENT - 1 (created,
    CONTENT = 4         # model, index), and from TAIL on (finish, usage, tier, fingerprint)
    TAIL = 5
cdef Py_ssize_t _MEMO_LIMIT = 1024
cdef Py_ssize_t PER_MESSAGE = tokens.PER_MESSAGE, PER_NAME = tokens.PER_NAME
cdef Py_ssize_t REPLY_PRIMING = tokens.REPLY_PRIMING
cdef Py_ssize_t IMAGE_LOW = tokens.IMAGE_LOW, IMAGE_HIGH = tokens.IMAGE_HIGH
# Fields read on every request.
cdef Py_ssize_t R_MODEL = _slot(ChatRequest, "model"), R_MESSAGES = _slot(ChatRequest, "messages")
cdef Py_ssize_t R_MAX_TOKENS = _slot(ChatRequest, "max_tokens")
cdef Py_ssize_t R_MAX_COMPLETION = _slot(ChatRequest, "max_completion_tokens")
cdef Py_ssize_t R_N = _slot(ChatRequest, "n"), R_STOP = _slot(ChatRequest, "stop")
cdef Py_ssize_t R_STREAM = _slot(ChatRequest, "stream")
cdef Py_ssize_t R_STREAM_OPTIONS = _slot(ChatRequest, "stream_options")
cdef Py_ssize_t R_LOGPROBS = _slot(ChatRequest, "logprobs")
cdef Py_ssize_t R_TOP_LOGPROBS = _slot(ChatRequest, "top_logprobs")
cdef Py_ssize_t R_FORMAT = _slot(ChatRequest, "response_format")
cdef Py_ssize_t R_TOOLS = _slot(ChatRequest, "tools")
cdef Py_ssize_t R_TOOL_CHOICE = _slot(ChatRequest, "tool_choice")
cdef Py_ssize_t R_PARALLEL = _slot(ChatRequest, "parallel_tool_calls")
cdef Py_ssize_t R_SEED = _slot(ChatRequest, "seed"), R_TIER = _slot(ChatRequest, "service_tier")
cdef Py_ssize_t M_KIND = _slot(ModelInfo, "kind"), M_MAX_OUTPUT = _slot(ModelInfo, "max_output")
cdef Py_ssize_t M_FINGERPRINT = _slot(ModelInfo, "fingerprint")


cdef Py_ssize_t prompt_tokens(list messages) except -1:
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


cdef str last_user_text(list messages):
    """The text of the last user message ('' when there is none)."""
    for m in reversed(messages):
        if type(m) is UserMessage:
            c = m.content
            if type(c) is str:
                return c
            return "\n".join([p.text for p in c if type(p) is TextPart])
    return ""


cdef completion_cap(r, model):
    """The request's output token cap after OpenAI's checks, or None."""
    if _f(model, M_KIND) == "reasoning":
        if _f(r, R_MAX_TOKENS) is not None:
            raise ApiError(400, "Unsupported parameter: 'max_tokens' is not supported with this "
                                "model. Use 'max_completion_tokens' instead.",
                           param="max_tokens", code="unsupported_parameter")
        for name in ("temperature", "top_p"):
            v = getattr(r, name)
            if v is not None and v != 1:
                raise ApiError(400, f"Unsupported value: '{name}' does not support {v} with this "
                                    "model. Only the default (1) value is supported.",
                               param=name, code="unsupported_value")
    return limit(_f(r, R_MAX_COMPLETION), _f(r, R_MAX_TOKENS), model)


cdef limit(given, max_tokens, model):
    """The output token cap from max_completion_tokens (`given`) or max_tokens, or None;
    OpenAI's error when it is over the model's limit."""
    cap = given if given is not None else max_tokens
    if cap is not None and cap > _f(model, M_MAX_OUTPUT):
        param = "max_completion_tokens" if given is not None else "max_tokens"
        raise ApiError(400, f"{param} is too large: {cap}. This model supports at most "
                            f"{model.max_output} completion tokens, whereas you provided {cap}.",
                       param=param, code="invalid_value")
    return cap


cdef class ChatCore(Handler):
    """The handler of POST /v1/chat/completions (see the module docstring)."""
    cdef object models, pick
    cdef readonly PlannerCore planner
    cdef Clock clock
    cdef Template simple, usage
    cdef dict memo      # model name -> (catalog entry, generator without the header)
    cdef bytes last_name_raw    # the model name of the last scanned request, as sent ...
    cdef str last_name          # ... and as a str
    cdef object last_key        # the name model() was last asked for (kept alive) ...
    cdef tuple last_entry       # ... and its entry
    cdef bytes mid              # the last common answer's slots MID .. CONTENT - 1 and
                                # the literal before the content ...
    cdef object mid_name        # ... of this model name (kept alive: compared by identity)
    cdef int64_t mid_created    # ... and this second
    cdef bytes tail             # the last common answer from slot TAIL on, rendered ...
    cdef bytes tail_finish, tail_tier, tail_fingerprint    # ... from these (kept alive:
    cdef int64_t tail_ints[4]   # compared by identity) and these token counts

    def __init__(self, env, Template simple, Template usage):
        """`simple`: the template of the common answer (slots as _SIMPLE_SLOTS); `usage`: of
        its usage object."""
        if simple.slots != _SIMPLE_SLOTS or simple.kinds != _SIMPLE_KINDS:
            raise ValueError(f"the common chat answer's template has slots {simple.slots}; "
                             f"llmsim.core.chat fills {_SIMPLE_SLOTS}")
        self.models = env.catalog
        self.pick = env.generators.pick
        self.planner = env.planner
        self.clock = env.clock
        self.simple = simple
        self.usage = usage
        self.memo = {}
        self.last_name_raw = b""
        self.last_name = ""
        self.last_key = None

    cdef tuple model(self, name):
        """(the catalog entry of `name`, the generator it gets without the header); the
        catalog's 404 for an unknown name. Both are fixed for the worker's life."""
        if name is self.last_key:   # the same str again (name_of keeps it): no hashing
            return self.last_entry
        cdef tuple entry = self.memo.get(name)
        if entry is None:
            model = self.models.require(name)
            if type(model) is not ModelInfo:   # its fields are read by offset
                raise TypeError(f"catalog entry of {name!r} is a {type(model).__name__}")
            entry = (model, self.pick(name, None))
            if len(self.memo) < _MEMO_LIMIT:
                self.memo[name] = entry
        self.last_key, self.last_entry = name, entry
        return entry

    def __call__(self, req):
        if type(req) is Request:
            return self.handle(<Request>req)
        return self.serve(req, req.body, req.headers, req.received_ns)

    cdef handle(self, Request req):
        return self.serve(req, req.body, req.headers, req.received_ns)

    cdef serve(self, req, bytes body, dict hdrs, int64_t received):
        """The answer to `req` (its body, kept headers and receive time given): (status,
        headers, body), or None when it went straight into the output (open_answer)."""
        cdef llmsim_chat_scan_t s
        if llmsim_chat_scan(PyBytes_AS_STRING(body), PyBytes_GET_SIZE(body), &s):
            out = self.scanned(req, body, hdrs, received, &s)
            if out is not _DECODE:
                return out
        return self.decoded(req, body, hdrs, received)

    cdef str name_of(self, const char *raw, size_t n):
        """The model name str of ASCII bytes; the last one is kept (its hash with it)."""
        cdef bytes last = self.last_name_raw
        if <size_t>PyBytes_GET_SIZE(last) != n or memcmp(PyBytes_AS_STRING(last), raw, n):
            self.last_name_raw = PyBytes_FromStringAndSize(raw, n)
            self.last_name = self.last_name_raw.decode("ascii")
        return self.last_name

    cdef scanned(self, req, bytes body, dict hdrs, int64_t received, llmsim_chat_scan_t *s):
        """The common answer to a body llmsim_chat_scan accepted, with what the decoded path
        would read from it; _DECODE when the model or the generator needs the decoded path."""
        name = self.name_of(s.model, s.model_len)
        model, gen = self.model(name)
        if _f(model, M_KIND) != "chat":
            return _DECODE
        # limit() on C ints (the scanner's caps are >= 1, 0 when absent); it raises
        cdef int64_t cap_c = s.max_completion_tokens if s.max_completion_tokens else s.max_tokens
        if cap_c > <int64_t>_f(model, M_MAX_OUTPUT):
            limit(s.max_completion_tokens if s.max_completion_tokens else None,
                  s.max_tokens if s.max_tokens else None, model)
        cap = cap_c if cap_c else None
        named = _header(hdrs, b"x-llmsim-generator")
        if named is not None:
            gen = self.pick(name, named)
        prompt = ""
        if type(gen) is not Cyclic:   # a Cyclic generator runs no script and reads no prompt
            if gen.scripted:
                return _DECODE
            if gen.needs_prompt and s.last_user != NULL:
                prompt = PyBytes_FromStringAndSize(s.last_user, s.last_user_len).decode("ascii")
        cdef Py_ssize_t n_prompt = (REPLY_PRIMING + <Py_ssize_t>s.messages * PER_MESSAGE
                                    + <Py_ssize_t>s.content_tokens)
        plan = self.planner.book(name, n_prompt, cap, s.seed if s.has_seed else None, body,
                                 _header(hdrs, b"x-llmsim-latency"), received)
        tier = (PyBytes_FromStringAndSize(s.tier, s.tier_len).decode("ascii")
                if s.tier != NULL else None)
        if s.stream:
            return self.streamed(req, received, plan, name, model, gen, prompt, cap,
                                 n_prompt, tier, s.include_usage)
        return self.common(req, received, plan, name, model, gen, prompt, cap, n_prompt, tier)

    cdef decoded(self, req, bytes body, dict hdrs, int64_t received):
        """Any request, decoded and checked in full."""
        cdef list messages
        cdef Py_ssize_t n_prompt
        try:
            r = _decode(body)
        except msgspec.DecodeError as e:
            raise decode_error(e, body) from None
        name = _f(r, R_MODEL)
        model, gen = self.model(name)
        kind = _f(model, M_KIND)
        if kind != "chat" and kind != "reasoning":
            raise ApiError(404, "This is not a chat model and thus not supported in the "
                                "v1/chat/completions endpoint. Did you mean to use v1/completions?",
                           param="model")
        messages = _f(r, R_MESSAGES)
        if not messages:
            raise ApiError(400, "Invalid 'messages': empty array. Expected an array with minimum "
                                "length 1, but got an empty array instead.",
                           param="messages", code="empty_array")
        cap = completion_cap(r, model)
        named = _header(hdrs, b"x-llmsim-generator")
        if named is not None:
            gen = self.pick(name, named)
        prompt = last_user_text(messages) if gen.needs_prompt else ""
        scripted_call = None
        if gen.scripted:
            gen, scripted_call = gen.resolve(prompt, name)
        tooling = (_f(r, R_TOOLS) is not None or _f(r, R_TOOL_CHOICE) is not None or
                   _f(r, R_PARALLEL) is not None)
        simple = (_f(r, R_N) is None and _f(r, R_STOP) is None and not tooling and
                  not _f(r, R_LOGPROBS) and _f(r, R_TOP_LOGPROBS) is None and
                  _f(r, R_FORMAT) is None and not _f(r, R_STREAM) and
                  _f(r, R_STREAM_OPTIONS) is None and kind == "chat" and scripted_call is None)
        if not simple:
            self.check(r)
        n_prompt = prompt_tokens(messages)
        fns = ()
        if tooling:
            fns, tool_tokens = self.tools(r)
            n_prompt += tool_tokens
        plan = self.planner.book(name, n_prompt, cap, _f(r, R_SEED), body,
                                 _header(hdrs, b"x-llmsim-latency"), received)
        if simple:
            return self.common(req, received, plan, name, model, gen, prompt, cap, n_prompt,
                               _f(r, R_TIER))
        return self.answer(req, r, model, gen, plan, cap, prompt, fns, scripted_call,
                           n_prompt, self.clock.created(received),
                           _tier(_f(r, R_TIER)))

    cdef common(self, req, int64_t received, plan, name, model, gen, prompt, cap,
                Py_ssize_t n_prompt, tier):
        """The common answer: one text choice. Its template's slots before and after the
        content are most often the last answer's again: their bytes are kept, and the
        answer is five copies, straight into the output when it is due at once."""
        cdef Run run
        cdef bint direct
        cdef Py_ssize_t completion, content_len, length
        cdef bint cut
        cdef int64_t delay
        cdef char rid[ID_LEN]
        cdef const char *vp[SIMPLE_SLOTS]
        cdef Py_ssize_t vn[SIMPLE_SLOTS]
        cdef int64_t vi[SIMPLE_SLOTS]
        cdef const char *content
        cdef char *dst
        cdef Buffer out
        cdef Template t = self.simple
        run = planned_text(self.planner, received, plan, gen, prompt, cap, &cut, &delay)
        completion = run.count
        record_usage(req, n_prompt, completion)
        # the template's values as C data (order and kinds: _SIMPLE_SLOTS, _SIMPLE_KINDS)
        cdef bytes text = None
        cdef bytes finish = b"length" if cut else b"stop"
        cdef bytes served_tier = _tier(tier)
        fingerprint = _f(model, M_FINGERPRINT)
        if type(fingerprint) is not bytes:
            raise TypeError(f"system_fingerprint of {name!r} is not bytes")
        vi[1] = self.clock.seconds(received)
        if not (name is self.mid_name and vi[1] == self.mid_created):
            vp[2] = utf8(name, &vn[2])
            vi[3] = 0
            out = scratch()
            t.emit_span(out, vp, vn, vi, MID, CONTENT)
            out.write(t.part_ptr[CONTENT], t.part_len[CONTENT])
            self.mid = out.take()
            self.mid_name, self.mid_created = name, vi[1]
        vi[6] = n_prompt
        vi[7] = completion
        vi[8] = n_prompt + completion
        vi[9] = 0
        if not (self.tail is not None and finish is self.tail_finish and
                served_tier is self.tail_tier and fingerprint is self.tail_fingerprint and
                vi[6] == self.tail_ints[0] and vi[7] == self.tail_ints[1] and
                vi[8] == self.tail_ints[2] and vi[9] == self.tail_ints[3]):
            vp[5] = PyBytes_AS_STRING(finish)
            vn[5] = PyBytes_GET_SIZE(finish)
            vp[10] = PyBytes_AS_STRING(served_tier)
            vn[10] = PyBytes_GET_SIZE(served_tier)
            vp[11] = PyBytes_AS_STRING(fingerprint)
            vn[11] = PyBytes_GET_SIZE(fingerprint)
            out = scratch()
            t.emit_span(out, vp, vn, vi, TAIL, SIMPLE_SLOTS)
            self.tail = out.take()
            self.tail_finish, self.tail_tier, self.tail_fingerprint = (finish, served_tier,
                                                                       fingerprint)
            self.tail_ints[0], self.tail_ints[1] = vi[6], vi[7]
            self.tail_ints[2], self.tail_ints[3] = vi[8], vi[9]
        content = run.esc_view(&content_len)
        if content == NULL:   # the run wraps around its text: assembled
            text = run.esc()
            content = PyBytes_AS_STRING(text)
            content_len = PyBytes_GET_SIZE(text)
        alnum_into(rid, ID_LEN)
        length = (t.part_len[0] + ID_LEN + PyBytes_GET_SIZE(self.mid) + content_len +
                  PyBytes_GET_SIZE(self.tail))
        direct = delay <= 0 and type(req) is Request and (<Request>req).conn is not None
        if direct:
            # due at once and the core is calling: the answer goes into the output, and no
            # object is made
            out = open_answer(<Request>req, 200, length)
            write_headers(out, delay, _JSON)
        else:
            out = scratch()
        out.reserve(length)
        dst = _put(out.data + out.length, t.part_ptr[0], t.part_len[0])
        dst = _put(dst, rid, ID_LEN)
        dst = _put(dst, PyBytes_AS_STRING(self.mid), PyBytes_GET_SIZE(self.mid))
        dst = _put(dst, content, content_len)
        _put(dst, PyBytes_AS_STRING(self.tail), PyBytes_GET_SIZE(self.tail))
        out.length += length
        if direct:
            return None
        body = out.take()
        # due at once, the body is its bytes: the core sends them as it would a Delayed due
        # now, and no object is made
        return 200, headers(delay), delayed(body, delay) if delay > 0 else body

    cdef streamed(self, req, int64_t received, plan, name, model, gen, prompt, cap,
                  Py_ssize_t n_prompt, tier, bint include_usage):
        """The common stream: one text choice, each event rendered when it is sent."""
        cdef Run run
        cdef bint cut
        cdef int64_t delay
        run = planned_text(self.planner, received, plan, gen, prompt, cap, &cut, &delay)
        record_usage(req, n_prompt, run.count)
        usage = (self.usage.render((n_prompt, run.count, n_prompt + run.count, 0))
                 if include_usage else None)
        stream = text_stream(run, cut, plan, self.planner,
                             (alnum(ID_LEN), self.clock.seconds(received), name, _tier(tier),
                              _f(model, M_FINGERPRINT)), usage)
        return 200, headers(plan.ttft_ns, SSE), stream
