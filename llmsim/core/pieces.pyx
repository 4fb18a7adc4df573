# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Token sequences kept as one escaped buffer plus offsets, never one object per token.

`Pieces(text)` cuts UTF-8 text with llmsim's tokenizer (csrc/llmsim_tokens.h) and keeps the
text twice, raw and JSON-escaped, with the end offset of every token in both. Generated
content is a run of consecutive tokens `(first, count)`; `esc_span`/`raw_span` give its bytes
and a stream renders token i straight from the escaped buffer. Runs may wrap around the end
(`cyclic` corpora): token k of a run is token `(first + k) % count`.
"""

cimport cython

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_FromStringAndSize
from libc.stdint cimport uint32_t
from libc.stdlib cimport malloc, free

from llmsim.core.plan cimport Plan, PlannerCore, due
from llmsim.core.render cimport Buffer, scratch, utf8


cpdef Py_ssize_t count_tokens(text) except -1:
    """Number of llmsim tokens in a str or UTF-8 bytes."""
    cdef Py_ssize_t n
    cdef const char *p = utf8(text, &n)
    return llmsim_tok_count(p, n)


cdef class Pieces:

    def __cinit__(self, text):
        cdef Py_ssize_t n, i = 0, j, k = 0, count
        cdef const char *p = utf8(text, &n)
        cdef Buffer out
        if n >= 0xffffffff // 6:
            raise ValueError("text too long for Pieces")
        self.raw = text.encode() if isinstance(text, str) else text
        p = PyBytes_AS_STRING(self.raw)
        count = llmsim_tok_count(p, n)
        self.raw_ends = <uint32_t *>malloc((count + 1) * sizeof(uint32_t))
        self.esc_ends = <uint32_t *>malloc((count + 1) * sizeof(uint32_t))
        if self.raw_ends == NULL or self.esc_ends == NULL:
            raise MemoryError()
        out = scratch()
        while i < n:
            j = llmsim_tok_next(p, n, i)
            out.write_escaped(p + i, j - i)
            self.raw_ends[k] = <uint32_t>j
            self.esc_ends[k] = <uint32_t>out.length
            k += 1
            i = j
        self.count = count
        self.esc = out.take()

    def __dealloc__(self):
        free(self.raw_ends)
        free(self.esc_ends)

    def __len__(self):
        return self.count

    def token(self, Py_ssize_t i):
        """The raw UTF-8 bytes of token i."""
        cdef Py_ssize_t n
        cdef const char *p
        if not 0 <= i < self.count:
            raise IndexError(i)
        p = self.raw_piece(i, &n)
        return p[:n]

    def raw_end(self, Py_ssize_t i):
        """Offset in `raw` where token i ends."""
        if not 0 <= i < self.count:
            raise IndexError(i)
        return self.raw_ends[i]

    def token_at(self, Py_ssize_t offset):
        """Index of the token that holds raw byte `offset` (count when offset is past the end)."""
        cdef Py_ssize_t lo = 0, hi = self.count, mid
        while lo < hi:
            mid = (lo + hi) >> 1
            if self.raw_ends[mid] <= offset:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def esc_span(self, Py_ssize_t first, Py_ssize_t count, Py_ssize_t skip=0):
        """Escaped bytes of `count` tokens from `first`, wrapping around the end, without
        the first `skip` bytes (a leading space)."""
        return _span(self, self.esc, self.esc_ends, first, count, skip)

    def raw_span(self, Py_ssize_t first, Py_ssize_t count, Py_ssize_t skip=0):
        """Raw bytes of `count` tokens from `first`, wrapping around the end."""
        return _span(self, self.raw, self.raw_ends, first, count, skip)


cdef const char *_view(Pieces self, bytes buf, uint32_t *ends, Py_ssize_t first,
                       Py_ssize_t count, Py_ssize_t skip, Py_ssize_t *n) noexcept:
    """The span's bytes in place in `buf` (their length in n), or NULL when the span wraps
    around the end (the span of `count` > 0 tokens from token `first` % self.count)."""
    cdef Py_ssize_t last, start
    if count <= 0 or self.count == 0:
        n[0] = 0
        return PyBytes_AS_STRING(buf)
    first %= self.count
    start = (ends[first - 1] if first > 0 else 0) + skip
    last = first + count - 1
    if last >= self.count:
        return NULL
    n[0] = ends[last] - start
    return PyBytes_AS_STRING(buf) + start


cdef bytes _span(Pieces self, bytes buf, uint32_t *ends, Py_ssize_t first, Py_ssize_t count,
                 Py_ssize_t skip):
    cdef Py_ssize_t start, total, n
    cdef Buffer out
    cdef const char *p = _view(self, buf, ends, first, count, skip, &n)
    if p != NULL:
        return PyBytes_FromStringAndSize(p, n)
    first %= self.count
    start = (ends[first - 1] if first > 0 else 0) + skip
    out = scratch()
    total = PyBytes_GET_SIZE(buf)
    out.write(PyBytes_AS_STRING(buf) + start, total - start)
    count -= self.count - first
    while count > self.count:
        out.write(PyBytes_AS_STRING(buf), total)
        count -= self.count
    out.write(PyBytes_AS_STRING(buf), ends[count - 1])
    return out.take()


cdef Run run_of(Pieces pieces, Py_ssize_t first, Py_ssize_t count, Py_ssize_t skip):
    """Run(pieces, first, count, skip) without the call machinery."""
    cdef Run r = Run.__new__(Run)
    r.pieces = pieces
    r.first = first
    r.count = count
    r.skip = skip
    return r


@cython.freelist(64)
@cython.no_gc   # it holds only Pieces, which hold only bytes: no cycle, no GC bookkeeping
cdef class Run:
    """`count` consecutive tokens of `pieces` from token `first` (wrapping around), without
    the first `skip` bytes: generated content as a view, never a copy per token."""

    def __init__(self, Pieces pieces not None, Py_ssize_t first, Py_ssize_t count,
                 Py_ssize_t skip=0):
        self.pieces = pieces
        self.first = first
        self.count = count
        self.skip = skip

    cpdef bytes esc(self):
        """The JSON-escaped bytes of the run."""
        return _span(self.pieces, self.pieces.esc, self.pieces.esc_ends, self.first, self.count,
                     self.skip)

    cdef const char *esc_view(self, Py_ssize_t *n) noexcept:
        """esc() in place, without a copy (its length in n), or NULL when the run wraps
        around the end of its pieces (esc() assembles it then)."""
        return _view(self.pieces, self.pieces.esc, self.pieces.esc_ends, self.first,
                     self.count, self.skip, n)

    def raw(self):
        """The UTF-8 bytes of the run."""
        return _span(self.pieces, self.pieces.raw, self.pieces.raw_ends, self.first, self.count,
                     self.skip)

    def token(self, Py_ssize_t k):
        """The raw bytes of token k of the run."""
        if not 0 <= k < self.count:
            raise IndexError(k)
        cdef bytes t = self.pieces.token((self.first + k) % self.pieces.count)
        return t[self.skip:] if k == 0 and self.skip else t

    def tokens(self):
        """The raw bytes of each token, as a list (logprobs; not for the hot path)."""
        return [self.token(k) for k in range(self.count)]

    def head(self, Py_ssize_t k):
        """The run of the first k tokens."""
        return run_of(self.pieces, self.first, min(max(k, 0), self.count), self.skip)

    def __repr__(self):
        return f"Run(first={self.first}, count={self.count}, skip={self.skip})"


cdef class Cyclic:
    """A text read as an endless loop, starting at a sentence chosen by the random int (the
    `corpus` and `lorem` generators; llmsim.sim.text describes the generator interface)."""

    needs_prompt = False
    scripted = False

    def __init__(self, text):
        cdef Pieces p = Pieces(text)
        cdef Py_ssize_t i, n, m = 0
        cdef const char *tok
        cdef const char *prev = NULL
        if p.count == 0:
            raise ValueError("a cyclic text needs at least one token")
        self.pieces = p
        self.starts = <uint64_t *>malloc(p.count * sizeof(uint64_t))
        if self.starts == NULL:
            raise MemoryError()
        # A sentence starts at the first token, after a newline, and after a lone ".", "?"
        # or "!" when the token is a space and a capital. Read in place: a bytes object per
        # token of the corpus cost ~2 ms of every start-up.
        self.n_starts = 0
        for i in range(p.count):
            tok = p.raw_piece(i, &n)
            if i == 0 or (m and prev[m - 1] == c'\n') or (
                    m == 1 and prev[0] in b".?!" and n > 1 and tok[0] == c' '
                    and c'A' <= tok[1] <= c'Z'):
                self.starts[self.n_starts] = <uint64_t>i << 1 | (1 if tok[0] == c' ' else 0)
                self.n_starts += 1
            prev, m = tok, n

    def __dealloc__(self):
        free(self.starts)

    cpdef tuple generate(self, prompt, plan, cap, uint64_t r):
        cdef bint cut
        run = self.run(plan, cap, r, &cut)
        return run, cut

    cdef Run run(self, plan, cap, uint64_t r, bint *cut):
        """generate() without the tuple: the run, and in `cut` whether the cap cut it."""
        cdef Py_ssize_t n
        cdef uint64_t start = self.starts[r % <uint64_t>self.n_starts]
        cdef Py_ssize_t first = <Py_ssize_t>(start >> 1), skip = <Py_ssize_t>(start & 1)
        cdef bint typed = type(plan) is Plan   # read by offset, not by attribute lookup
        n = (<Plan>plan).n_tokens if typed else plan.n_tokens
        if cap is not None and n >= <Py_ssize_t>cap:
            cut[0] = True
            return run_of(self.pieces, first, cap, skip)
        cut[0] = (<Plan>plan).truncated if typed else plan.truncated
        return run_of(self.pieces, first, n, skip)


cdef Run planned_text(PlannerCore planner, int64_t received, plan, gen, prompt, cap, bint *cut,
                      int64_t *done):
    """The one text answer `gen` says for `plan` (booked at `received`); `cut`: the cap cut
    it; `done`: when its last token is due. An answer shorter than the plan frees its slot
    on the load model when it ends. The planner's own Plan is read as C fields."""
    cdef Run run
    cdef uint64_t draw
    cdef Py_ssize_t planned
    if type(plan) is Plan:
        draw = (<Plan>plan).draw()
        planned = (<Plan>plan).n_tokens
    else:
        draw = plan.rng.u64()
        planned = plan.n_tokens
    if type(gen) is Cyclic:
        run = (<Cyclic>gen).run(plan, cap, draw, cut)
    else:
        run, c = gen.generate(prompt, plan, cap, draw)
        cut[0] = c
    done[0] = due(plan, run.count - 1) if run.count else plan.ttft_ns
    if run.count < planned:
        planner.release(plan, received + done[0])
    return run
