# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Embeddings, compiled: a request answered before is answered from its kept bytes.

An embeddings answer holds no id and no time: its body (vectors, model echo, usage) is a
function of the request body and the path's parameters alone (OpenAI's POST /v1/embeddings
has none; Gemini's :embedContent and :batchEmbedContents name the model), and so is every
check it passes. `EmbeddingsCore` keeps the answer body of recent requests; a request that is
one of them is planned (its delay and its booking on the model's simulated server, as every
answer is) and answered with those bytes, which the connection sends without copying them.
Any other request goes to `general(req)` of the Python subclass
(llmsim.api.openai_embeddings.Embeddings, llmsim.api.gemini_embed), which decodes, checks
and renders it (or raises its error: errors are not kept).
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdint cimport int64_t
from libc.string cimport memcmp

from llmsim.core.connection cimport Handler, Request, delayed
from llmsim.core.heads cimport gemini_headers
from llmsim.core.plan cimport Plan, PlannerCore
from llmsim.core.wire cimport headers

from llmsim.api.planning import LATENCY_HEADER

cdef bytes _LATENCY = LATENCY_HEADER
# Kept answers: each one at most ANSWER_MAX bytes (with its request body), all of them at
# most KEPT_MAX; past that the whole set is dropped and fills again.
ANSWER_MAX = 256 << 10
KEPT_MAX = 8 << 20
cdef Py_ssize_t _ANSWER_MAX = ANSWER_MAX, _KEPT_MAX = KEPT_MAX


cdef class EmbeddingsCore(Handler):
    """The handler of an embeddings route (see the module docstring); `gemini`: it answers
    with Gemini's header lines, else OpenAI's."""
    cdef PlannerCore planner
    cdef bint gemini
    cdef dict answers     # request body, or (path parameters, body) when the path has any ->
                          # (model name to plan, prompt tokens, answer body)
    cdef Py_ssize_t kept  # bytes of the request and answer bodies in `answers`
    cdef tuple last_params  # the last request answered with a kept answer (path parameters,
    cdef bytes last_body    # body) ...
    cdef tuple last         # ... and its entry (a repeated request is not hashed)

    def __init__(self, PlannerCore planner, bint gemini=False):
        self.planner = planner
        self.gemini = gemini
        self.answers = {}
        self.kept = 0

    def __call__(self, req):
        if type(req) is Request:
            return self.handle(<Request>req)
        return self.serve(req, req.params, req.body, req.headers, req.received_ns)

    cdef handle(self, Request req):
        return self.serve(req, req.params, req.body, req.headers, req.received_ns)

    cdef serve(self, req, tuple params, bytes body, dict hdrs, int64_t received):
        cdef PlannerCore planner = self.planner
        cdef bytes last = self.last_body
        cdef tuple known
        cdef int64_t delay
        cdef Py_ssize_t n = PyBytes_GET_SIZE(body)
        if last is not None and PyBytes_GET_SIZE(last) == n and not memcmp(
                PyBytes_AS_STRING(last), PyBytes_AS_STRING(body), n) and (
                    params is self.last_params or params == self.last_params):
            known = self.last
        else:
            key = (params, body) if params else body
            known = self.answers.get(key)
            if known is None:
                known = self.general(req)
                self.keep(key, params, body, known)
            else:
                self.last_params, self.last_body, self.last = params, body, known
        plan = planner.plan(known[0], known[1], None, planner.request_key(None, body),
                            hdrs.get(_LATENCY) if hdrs else None)
        planner.admit(plan, received)
        delay = (<Plan>plan).total_ns if type(plan) is Plan else plan.total_ns
        out = known[2]
        return (200, gemini_headers(delay) if self.gemini else headers(delay),
                delayed(out, delay) if delay > 0 else out)

    cdef keep(self, key, tuple params, bytes body, tuple known):
        """Keep `known`, the answer to `body` under `key`, within the size bounds."""
        cdef bytes answer = known[2]
        cdef Py_ssize_t size = PyBytes_GET_SIZE(body) + PyBytes_GET_SIZE(answer)
        if size > _ANSWER_MAX:
            return
        if self.kept + size > _KEPT_MAX:
            self.answers.clear()
            self.kept = 0
        self.answers[key] = known
        self.kept += size
        self.last_params, self.last_body, self.last = params, body, known
