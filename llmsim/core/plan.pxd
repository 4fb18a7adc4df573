# One response's plan (llmsim/core/plan.pyx): what handlers read, what the planner fills.
from cpython cimport array
from libc.stdint cimport int64_t, uint64_t

from llmsim.core.rng cimport Distribution, Stream, llmsim_stream_t


cdef class Plan:
    cdef readonly Py_ssize_t n_tokens
    cdef readonly bint truncated
    cdef readonly int64_t ttft_ns, total_ns
    cdef readonly str profile
    cdef array.array _itl, _due      # None while every delay is 0 and nobody asked
    cdef Stream _rng                 # `rng` once asked for; until then `text` holds its state
    cdef llmsim_stream_t text
    cdef bint fresh                  # no request key: draw() takes fresh bits, not `text`'s
    cdef object pool, slot           # load model: the model's slots, this plan's booking

    cdef int fill(self, Distribution ttft, Distribution itl, Distribution length, uint64_t key,
                  bint fresh, double fixed_ns, double scale, Py_ssize_t max_tokens,
                  Py_ssize_t forced_n) except -1
    cdef int _arrays(self) except -1
    cdef uint64_t draw(self) noexcept
    cdef int64_t due_at(self, Py_ssize_t i) except? -1
    cpdef stretch(self, double factor, int64_t wait_ns)


cdef class Compiled:
    cdef readonly object profile
    cdef readonly str name
    cdef readonly double overhead_ns, per_token_ns
    cdef readonly Distribution ttft, itl, length
    cdef readonly object load


cdef class PlannerCore:
    cdef readonly dict _by_model     # model -> Compiled (filled by the subclass's _profile)
    cdef object _last_model          # the model plan() last served (kept alive) ...
    cdef Compiled _last_compiled     # ... and its Compiled
    cdef object _global_seed
    cdef uint64_t seed
    cdef public bint no_latency
    cdef public double _multiplier
    cdef readonly bint native        # the class overrides none of request_key, plan, admit

    cpdef request_key(self, seed, bytes body)
    cpdef plan(self, model, Py_ssize_t prompt_tokens, max_tokens, key, override)
    cdef book(self, model, Py_ssize_t prompt_tokens, max_tokens, seed, bytes body, override,
              int64_t now_ns)
    cpdef admit(self, plan, int64_t now_ns)
    cpdef release(self, plan, int64_t now_ns)


cpdef int64_t gap(plan) except? -1
cpdef int64_t due(plan, Py_ssize_t i) except? -1
