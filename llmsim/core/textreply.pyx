# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The common answer of Anthropic's POST /v1/messages and Gemini's :generateContent and
:streamGenerateContent, compiled.

Most requests to them ask for one plain text answer: no tools, thinking, output format, stop
sequences or script (and for Gemini one candidate). `MessagesCore` and `GenerateCore` decode
such a request, plan it, take the generator's text and render the answer in one template
pass, or its stream as a llmsim.core.textstream.TextStream in the provider's frames (from
llmsim.api.anthropic_render and gemini_render, whose general streams say the same). Anything
else, including every request that fails a check, goes whole to `general(req, r)` (`r`: the
body decoded, or None) of the Python handler that subclasses them
(llmsim.api.anthropic_messages.Messages, llmsim.api.gemini_generate.GenerateContent), which
answers it as it answers any request: the bytes are the same either way, and nothing random
is drawn before a request is handed on.
The checks and counts the common answer needs are the handler's own, called from here:
`last_user_text(messages)` (Anthropic) and `last_user_text(contents)` (Gemini); prompts are
counted by llmsim.core.prompts, Gemini's checks made by llmsim.core.gemini_checks.
"""

import msgspec

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_FromStringAndSize
from libc.stdint cimport int64_t
from libc.string cimport memcmp

from llmsim.core.connection cimport Request, delayed, record_usage
from llmsim.core.fields cimport field as _f, slot
from llmsim.core.gemini_checks cimport check
from llmsim.core.heads cimport (alt_sse, anthropic_headers, gemini_headers, message_id,
                                response_id)
from llmsim.core.pieces cimport Cyclic, Run, planned_text
from llmsim.core.plan cimport PlannerCore
from llmsim.core.prompts cimport input_tokens, prompt_tokens
from llmsim.core.render cimport Template
from llmsim.core.textstream cimport framed

from llmsim.api import anthropic_render, gemini_render
from llmsim.api.anthropic_types import MESSAGES, MessagesRequest, OutputConfig
from llmsim.api.gemini_types import GENERATE, GenerateContentRequest, GenerationConfig
from llmsim.api.gemini_wire import FORMATS
from llmsim.api.planning import LATENCY_HEADER
from llmsim.core.heads import ANTHROPIC_SSE, GEMINI_JSON, GEMINI_SSE
from llmsim.sim import tokens

cdef extern from "llmsim_anthropic_scan.h":
    ctypedef struct llmsim_chat_scan_t:
        const char *model
        size_t model_len
        int64_t max_tokens
        int stream
        size_t messages
        size_t content_tokens
        const char *last_user
        size_t last_user_len
    ctypedef struct llmsim_anthropic_scan_t:
        llmsim_chat_scan_t common
        size_t system_len
        size_t system_tokens
    int llmsim_anthropic_scan(const char *body, size_t n,
                              llmsim_anthropic_scan_t *out) noexcept nogil

cdef extern from "llmsim_gemini_scan.h":
    int llmsim_gemini_scan(const char *body, size_t n, llmsim_chat_scan_t *out) noexcept nogil

cdef Template _MESSAGE = anthropic_render.TEXT_MESSAGE
cdef Template _MESSAGE_START = anthropic_render.MESSAGE_START
cdef bytes _OPENING = anthropic_render.TEXT_OPENING
cdef bytes _DELTA_HEAD = anthropic_render.TEXT_DELTA[0]
cdef bytes _DELTA_TAIL = anthropic_render.TEXT_DELTA[1]
cdef Template _MESSAGE_END = anthropic_render.TEXT_END
cdef bytes _ANTHROPIC_SSE = ANTHROPIC_SSE
cdef Template _RESPONSE = gemini_render.TEXT_RESPONSE
cdef tuple _FRAMES_SSE = gemini_render.TEXT_STREAM_SSE
cdef tuple _FRAMES_ARRAY = gemini_render.TEXT_STREAM_ARRAY
cdef bytes _GEMINI_SSE = GEMINI_SSE, _GEMINI_JSON = GEMINI_JSON
_decode_messages = MESSAGES.decode
_decode_generate = GENERATE.typed.decode   # camelCase only: snake_case goes to `general`
_DecodeError = msgspec.DecodeError
cdef tuple _CHAT_KINDS = ("chat", "reasoning")
cdef Py_ssize_t _MEMO_LIMIT = 1024
cdef Py_ssize_t PER_MESSAGE = tokens.PER_MESSAGE, REPLY_PRIMING = tokens.REPLY_PRIMING
# Fields of the decoded requests read on every request, by offset (llmsim.core.fields).
cdef Py_ssize_t A_MODEL = slot(MessagesRequest, "model")
cdef Py_ssize_t A_MESSAGES = slot(MessagesRequest, "messages")
cdef Py_ssize_t A_MAX_TOKENS = slot(MessagesRequest, "max_tokens")
cdef Py_ssize_t A_TOOLS = slot(MessagesRequest, "tools")
cdef Py_ssize_t A_TOOL_CHOICE = slot(MessagesRequest, "tool_choice")
cdef Py_ssize_t A_THINKING = slot(MessagesRequest, "thinking")
cdef Py_ssize_t A_STOPS = slot(MessagesRequest, "stop_sequences")
cdef Py_ssize_t A_STREAM = slot(MessagesRequest, "stream")
cdef Py_ssize_t A_OUTPUT = slot(MessagesRequest, "output_config")
cdef Py_ssize_t A_FORMAT = slot(OutputConfig, "format")
cdef Py_ssize_t G_CONTENTS = slot(GenerateContentRequest, "contents")
cdef Py_ssize_t G_TOOLS = slot(GenerateContentRequest, "tools")
cdef Py_ssize_t G_TOOL_CONFIG = slot(GenerateContentRequest, "tool_config")
cdef Py_ssize_t G_CONFIG = slot(GenerateContentRequest, "generation_config")
cdef Py_ssize_t G_THINKING = slot(GenerationConfig, "thinking_config")
cdef Py_ssize_t G_STOPS = slot(GenerationConfig, "stop_sequences")
cdef Py_ssize_t G_MIME = slot(GenerationConfig, "response_mime_type")
cdef Py_ssize_t G_SEED = slot(GenerationConfig, "seed")


cdef class _Core:
    cdef object catalog, pick, last_user_text
    cdef PlannerCore planner
    cdef dict models    # model name (Gemini: path bytes) -> (generator, name, most output tokens)

    def __init__(self, env, last_user_text):
        self.catalog = env.catalog
        self.pick = env.generators.pick
        self.planner = env.planner
        self.last_user_text = last_user_text
        self.models = {}

    cdef tuple chat_model(self, key):
        """(the generator it gets without the header, name as a str, its most output tokens)
        of the model named `key` (a str, or UTF-8 bytes) when it is a chat or reasoning model,
        else None. They are fixed for the worker's life."""
        cdef tuple entry = self.models.get(key)
        if entry is None:
            name = key if type(key) is str else key.decode("utf-8", "replace")
            model = self.catalog.get(name)
            if model is None or model.kind not in _CHAT_KINDS:
                return None
            entry = (self.pick(name, None), name, model.max_output)
            if len(self.models) < _MEMO_LIMIT:
                self.models[key] = entry
        return entry

    cdef tuple text(self, req, tuple entry, turns, const char *last_user, size_t last_user_len,
                    bytes body, dict hdrs, int64_t received, Py_ssize_t n_in, cap, seed):
        """(run, truncated, delay_ns, plan) of a plain text answer to `req`, its usage
        recorded on it, or None when the generator runs a script (`general` resolves it): the
        plan booked on the model's simulated server, the generator's text, the slot freed
        when the text ends before the plan does (what llmsim.api.planning does for every
        other answer). `turns`: the conversation, or None with `last_user` the ASCII bytes of
        its last user text (NULL: none)."""
        cdef Run run
        cdef bint truncated
        cdef int64_t delay
        cdef PlannerCore planner = self.planner
        gen = entry[0]
        named = hdrs.get(b"x-llmsim-generator")
        if named is not None:
            gen = self.pick(entry[1], named)
        prompt = ""
        if type(gen) is not Cyclic:   # a Cyclic generator runs no script and reads no prompt
            if gen.scripted:
                return None
            if gen.needs_prompt:
                if turns is not None:
                    prompt = self.last_user_text(turns)
                elif last_user != NULL:
                    prompt = last_user[:last_user_len].decode("ascii")
        plan = planner.book(entry[1], n_in, cap, seed, body, hdrs.get(LATENCY_HEADER), received)
        run = planned_text(planner, received, plan, gen, prompt, cap, &truncated, &delay)
        record_usage(req, n_in, run.count)
        return run, truncated, delay, plan


cdef class MessagesCore(_Core):
    """POST /v1/messages (see the module docstring). A body in the common subset
    (csrc/llmsim_anthropic_scan.h: model, max_tokens, role + string content messages, a
    string system prompt, stream, temperature) is read in C without msgspec; any other, or one whose
    model or generator the common answer does not take, is decoded in full."""
    cdef bytes last_model       # the model name of the last scanned request, as sent ...
    cdef tuple last_entry       # ... and its chat_model() entry

    def __init__(self, env, last_user_text):
        super().__init__(env, last_user_text)
        self.last_model = b""

    def __call__(self, req):
        cdef bytes body
        cdef dict hdrs
        cdef int64_t received
        cdef llmsim_anthropic_scan_t s
        if type(req) is Request:   # the server's: fields by offset, not attribute lookups
            body, hdrs, received = ((<Request>req).body, (<Request>req).headers,
                                    (<Request>req).received_ns)
        else:
            body, hdrs, received = req.body, req.headers, req.received_ns
        if llmsim_anthropic_scan(PyBytes_AS_STRING(body), PyBytes_GET_SIZE(body), &s):
            out = self.scanned(req, body, hdrs, received, &s)
            if out is not None:
                return out
        try:
            r = _decode_messages(body)
        except _DecodeError:
            return self.general(req, None)
        entry = self.chat_model(_f(r, A_MODEL))
        output = _f(r, A_OUTPUT)
        max_tokens = _f(r, A_MAX_TOKENS)
        if (entry is None or not _f(r, A_MESSAGES) or max_tokens > entry[2]
                or _f(r, A_TOOLS) is not None or _f(r, A_TOOL_CHOICE) is not None
                or _f(r, A_THINKING) is not None or _f(r, A_STOPS)
                or output is not None and _f(output, A_FORMAT) is not None):
            return self.general(req, r)
        out = self.answer(req, entry, _f(r, A_MESSAGES), NULL, 0, body, hdrs, received,
                          input_tokens(r), max_tokens, _f(r, A_STREAM))
        return self.general(req, r) if out is None else out

    cdef scanned(self, req, bytes body, dict hdrs, int64_t received,
                 llmsim_anthropic_scan_t *s):
        """The common answer to a body llmsim_anthropic_scan accepted, with what the decoded
        path would read from it; None when the model or the generator needs that path."""
        cdef llmsim_chat_scan_t *c = &s.common
        cdef bytes last = self.last_model
        if <size_t>PyBytes_GET_SIZE(last) != c.model_len or memcmp(PyBytes_AS_STRING(last),
                                                                   c.model, c.model_len):
            self.last_model = PyBytes_FromStringAndSize(c.model, c.model_len)
            self.last_entry = self.chat_model(self.last_model)
        entry = self.last_entry
        if entry is None or c.max_tokens > <int64_t>entry[2]:
            return None
        cdef Py_ssize_t n_in = (REPLY_PRIMING + <Py_ssize_t>c.messages * PER_MESSAGE
                                + <Py_ssize_t>c.content_tokens)
        if s.system_len:
            n_in += PER_MESSAGE + <Py_ssize_t>s.system_tokens
        return self.answer(req, entry, None, c.last_user, c.last_user_len, body, hdrs,
                           received, n_in, c.max_tokens, c.stream)

    cdef answer(self, req, tuple entry, turns, const char *last_user, size_t last_user_len,
                bytes body, dict hdrs, int64_t received, Py_ssize_t n_in, max_tokens, stream):
        """The common answer (`turns`, `last_user` as text() takes them), or None when the
        generator runs a script."""
        got = self.text(req, entry, turns, last_user, last_user_len, body, hdrs, received, n_in,
                        max_tokens, None)
        if got is None:
            return None
        run, truncated, delay, plan = got
        name = entry[1]
        sent = (<Run>run).count
        stop = b"max_tokens" if truncated else b"end_turn"
        if stream:
            return 200, anthropic_headers(_ANTHROPIC_SSE), framed(
                _MESSAGE_START.render((message_id(), name, n_in)), _DELTA_HEAD, _DELTA_TAIL,
                _OPENING, _MESSAGE_END.render((stop, n_in, sent)), run, plan, self.planner)
        out = _MESSAGE.render((message_id(), name, (<Run>run).esc(), stop, n_in, sent))
        return 200, anthropic_headers(), delayed(out, delay)


cdef class GenerateCore(_Core):
    """:generateContent, or with `streams` :streamGenerateContent (see the module
    docstring). A body in the common subset (csrc/llmsim_gemini_scan.h: contents of user and
    model turns of one text part each, a one-text systemInstruction, a generationConfig of
    maxOutputTokens and temperature) is read in C without msgspec; any other, or one whose
    length or generator the common answer does not take, is decoded in full."""
    cdef bint streams

    def __init__(self, env, streams, last_user_text):
        super().__init__(env, last_user_text)
        self.streams = streams

    def __call__(self, req):
        cdef bytes body
        cdef dict hdrs
        cdef tuple params
        cdef bytes query
        cdef int64_t received
        cdef llmsim_chat_scan_t s
        if type(req) is Request:
            body, hdrs, params, query, received = (
                (<Request>req).body, (<Request>req).headers, (<Request>req).params,
                (<Request>req).query, (<Request>req).received_ns)
        else:
            body, hdrs, params, query, received = (req.body, req.headers, req.params, req.query,
                                                   req.received_ns)
        entry = self.chat_model(params[0])
        if entry is None:
            return self.general(req, None)
        if (llmsim_gemini_scan(PyBytes_AS_STRING(body), PyBytes_GET_SIZE(body), &s)
                and s.max_tokens <= <int64_t>entry[2]):
            out = self.answer(req, entry, None, s.last_user, s.last_user_len, body, hdrs, query,
                              received, <Py_ssize_t>s.content_tokens,
                              s.max_tokens if s.max_tokens else entry[2], None)
            if out is not None:
                return out
        try:
            r = _decode_generate(body)
        except _DecodeError:
            return self.general(req, None)
        cap, n = check(r, entry[2])
        g = _f(r, G_CONFIG)
        if (n != 1 or _f(r, G_TOOLS) is not None or _f(r, G_TOOL_CONFIG) is not None
                or g is not None and (_f(g, G_THINKING) is not None or _f(g, G_STOPS)
                                      or _f(g, G_MIME) in FORMATS)):
            return self.general(req, r)
        out = self.answer(req, entry, _f(r, G_CONTENTS), NULL, 0, body, hdrs, query, received,
                          prompt_tokens(r), cap, _f(g, G_SEED) if g is not None else None)
        return self.general(req, r) if out is None else out

    cdef answer(self, req, tuple entry, turns, const char *last_user, size_t last_user_len,
                bytes body, dict hdrs, bytes query, int64_t received, Py_ssize_t n_in, cap,
                seed):
        """The common answer (`turns`, `last_user` as text() takes them), or None when the
        generator runs a script."""
        got = self.text(req, entry, turns, last_user, last_user_len, body, hdrs, received, n_in,
                        cap, seed)
        if got is None:
            return None
        run, truncated, delay, plan = got
        sent = (<Run>run).count
        finish = b"MAX_TOKENS" if truncated else b"STOP"
        name = entry[1]
        rid = response_id()
        if self.streams:
            sse = alt_sse(query)
            frames = _FRAMES_SSE if sse else _FRAMES_ARRAY
            head = gemini_headers(plan.ttft_ns, _GEMINI_SSE if sse else _GEMINI_JSON)
            return 200, head, framed(
                frames[0], frames[1], (<Template>frames[2]).render((n_in, n_in, n_in, name, rid)),
                None, (<Template>frames[3]).render((finish, n_in, sent, n_in + sent, n_in, name,
                                                    rid)), run, plan, self.planner)
        out = _RESPONSE.render(((<Run>run).esc(), finish, n_in, sent, n_in + sent, n_in, name,
                                rid))
        return 200, gemini_headers(delay), delayed(out, delay)
