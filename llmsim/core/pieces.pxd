# Token sequences as escaped byte runs: what the renderer streams one token at a time.
from libc.stdint cimport int64_t, uint32_t, uint64_t

from llmsim.core.plan cimport PlannerCore

cdef extern from "llmsim_tokens.h":
    size_t llmsim_tok_next(const char *s, size_t n, size_t i) noexcept nogil
    size_t llmsim_tok_count(const char *s, size_t n) noexcept nogil


cpdef Py_ssize_t count_tokens(text) except -1


cdef class Pieces:
    cdef readonly bytes raw      # the UTF-8 text
    cdef readonly bytes esc      # the same text JSON-escaped
    cdef uint32_t *raw_ends      # end offset of token i in raw
    cdef uint32_t *esc_ends      # end offset of token i in esc
    cdef readonly Py_ssize_t count

    cdef inline const char *esc_piece(self, Py_ssize_t i, Py_ssize_t *n) noexcept:
        cdef uint32_t start = self.esc_ends[i - 1] if i > 0 else 0
        n[0] = self.esc_ends[i] - start
        return (<const char *>self.esc) + start
    cdef inline const char *raw_piece(self, Py_ssize_t i, Py_ssize_t *n) noexcept:
        cdef uint32_t start = self.raw_ends[i - 1] if i > 0 else 0
        n[0] = self.raw_ends[i] - start
        return (<const char *>self.raw) + start


cdef class Run:
    cdef readonly Pieces pieces
    cdef readonly Py_ssize_t first     # token index in pieces (taken modulo pieces.count)
    cdef readonly Py_ssize_t count     # tokens in the run
    cdef readonly Py_ssize_t skip      # leading bytes of the first token left out

    cpdef bytes esc(self)
    cdef const char *esc_view(self, Py_ssize_t *n) noexcept


cdef class Cyclic:
    cdef readonly Pieces pieces
    cdef uint64_t *starts              # per sentence: first token << 1 | leading bytes to
    cdef Py_ssize_t n_starts           # skip (0 or 1: a space)

    cpdef tuple generate(self, prompt, plan, cap, uint64_t r)
    cdef Run run(self, plan, cap, uint64_t r, bint *cut)


cdef Run planned_text(PlannerCore planner, int64_t received, plan, gen, prompt, cap, bint *cut,
                      int64_t *done)
