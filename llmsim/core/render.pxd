# The response renderer: byte templates with typed slots, written into a reusable buffer.
from libc.stdint cimport int64_t

cdef extern from "llmsim_json.h":
    size_t llmsim_json_escape(char *dst, const char *s, size_t n) noexcept nogil
    size_t llmsim_json_escaped_len(const char *s, size_t n) noexcept nogil
    size_t llmsim_json_i64(char *p, int64_t v) noexcept nogil

cdef extern from "llmsim_chunk.h":
    enum: LLMSIM_CHUNK_ROOM
    size_t llmsim_chunk_close(char *buf, size_t start, size_t open, size_t *end) noexcept nogil

cdef enum SlotKind:
    SLOT_RAW = 0     # bytes copied as they are (pre-rendered or pre-escaped JSON)
    SLOT_INT = 1     # a Python int written in decimal
    SLOT_STR = 2     # a str (or UTF-8 bytes) JSON-escaped, without the quotes


cimport cython


@cython.final
cdef class Buffer:
    """A growable byte buffer that lives as long as its owner; `take()` copies out."""
    cdef char *data
    cdef Py_ssize_t length
    cdef Py_ssize_t capacity
    cdef Py_ssize_t start        # the content is [start, length): in-place chunk framing
                                 # (csrc/llmsim_chunk.h) may leave a gap before it

    cdef int reserve(self, Py_ssize_t extra) except -1
    cdef int write(self, const char *s, Py_ssize_t n) except -1
    cdef int write_bytes(self, bytes b) except -1
    cdef int write_escaped(self, const char *s, Py_ssize_t n) except -1
    cdef int write_str(self, object s) except -1
    cdef int write_int(self, int64_t v) except -1
    cdef Py_ssize_t open_chunk(self) except -1
    cdef int close_chunk(self, Py_ssize_t opened) except -1
    cdef void clear(self) noexcept
    cdef bytes take(self)


cdef enum:
    MAX_SLOTS = 32


@cython.final
cdef class Template:
    cdef tuple parts           # literal bytes around the slots: len(slots) + 1 items
    cdef bytes kinds           # one SlotKind per slot
    cdef readonly tuple slots  # slot names, for errors and tests
    cdef Py_ssize_t n_slots
    cdef const char *part_ptr[MAX_SLOTS + 1]     # parts, as C pointers and lengths
    cdef Py_ssize_t part_len[MAX_SLOTS + 1]
    cdef Py_ssize_t literal_len                 # sum of part_len

    cdef int write(self, Buffer out, tuple values) except -1
    cdef int emit(self, Buffer out, const char **vp, Py_ssize_t *vn, int64_t *vi) except -1
    cdef int emit_span(self, Buffer out, const char **vp, Py_ssize_t *vn, int64_t *vi,
                       Py_ssize_t first, Py_ssize_t stop) except -1
    cpdef bytes render(self, tuple values)
    cdef bytes render_c(self, const char **vp, Py_ssize_t *vn, int64_t *vi)


cdef Buffer scratch()
cdef const char *utf8(object text, Py_ssize_t *n) except NULL
