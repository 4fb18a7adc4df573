# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Byte templates with typed slots, rendered into a reusable buffer (no JSON encoder call).

A template is the wire form of an answer with `{{name:kind}}` where values go:

    Template(b'{"id":"{{id:raw}}","created":{{created:int}},"content":"{{text:str}}"}')

Slot kinds: `raw` copies bytes as they are (pre-rendered or pre-escaped JSON), `int` writes a
Python int in decimal, `str` JSON-escapes a str (or UTF-8 bytes) without adding quotes.
`render(values)` takes the values in slot order and returns the bytes; the work happens in
one per-process scratch buffer that grows to the largest answer and is then reused.
"""

from cpython.buffer cimport PyBuffer_FillInfo
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_FromStringAndSize
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from libc.stdint cimport int64_t
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memcpy

cdef dict _KINDS = {b"raw": SLOT_RAW, b"int": SLOT_INT, b"str": SLOT_STR}


cdef const char *utf8(object text, Py_ssize_t *n) except NULL:
    """The UTF-8 bytes of a str, or of UTF-8 bytes (their length in n)."""
    if isinstance(text, str):
        return PyUnicode_AsUTF8AndSize(text, n)
    if isinstance(text, bytes):
        n[0] = PyBytes_GET_SIZE(text)
        return PyBytes_AS_STRING(text)
    raise TypeError(f"text must be str or bytes, got {type(text).__name__}")


cdef class Buffer:

    def __cinit__(self, Py_ssize_t capacity=4096):
        self.data = <char *>malloc(capacity)
        if self.data == NULL:
            raise MemoryError()
        self.capacity = capacity
        self.length = 0

    def __dealloc__(self):
        free(self.data)

    cdef int reserve(self, Py_ssize_t extra) except -1:
        cdef Py_ssize_t need = self.length + extra
        cdef Py_ssize_t cap = self.capacity
        cdef char *p
        if need <= cap:
            return 0
        while cap < need:
            cap *= 2
        p = <char *>realloc(self.data, cap)
        if p == NULL:
            raise MemoryError()
        self.data = p
        self.capacity = cap
        return 0

    cdef int write(self, const char *s, Py_ssize_t n) except -1:
        if self.length + n > self.capacity:
            self.reserve(n)
        memcpy(self.data + self.length, s, n)
        self.length += n
        return 0

    cdef int write_bytes(self, bytes b) except -1:
        return self.write(PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b))

    cdef int write_escaped(self, const char *s, Py_ssize_t n) except -1:
        if self.length + 6 * n > self.capacity:
            self.reserve(6 * n)
        self.length += llmsim_json_escape(self.data + self.length, s, n)
        return 0

    cdef int write_str(self, object s) except -1:
        cdef Py_ssize_t n
        cdef const char *p = utf8(s, &n)
        return self.write_escaped(p, n)

    cdef int write_int(self, int64_t v) except -1:
        if self.length + 20 > self.capacity:
            self.reserve(20)
        self.length += llmsim_json_i64(self.data + self.length, v)
        return 0

    cdef Py_ssize_t open_chunk(self) except -1:
        """Begin an HTTP chunk whose data is written next; returns what close_chunk takes."""
        cdef Py_ssize_t opened = self.length
        self.reserve(LLMSIM_CHUNK_ROOM)
        self.length += LLMSIM_CHUNK_ROOM
        return opened

    cdef int close_chunk(self, Py_ssize_t opened) except -1:
        """Frame what was written since open_chunk as one chunk (nothing, if nothing was)."""
        cdef size_t end = self.length
        self.reserve(2)
        self.start = llmsim_chunk_close(self.data, self.start, opened, &end)
        self.length = end
        return 0

    cdef void clear(self) noexcept:
        self.length = 0
        self.start = 0

    def __getbuffer__(self, Py_buffer *view, int flags):
        """The content, [start, length), read-only (a transport sends it without a copy; the
        owner writes no more to a buffer it lent)."""
        PyBuffer_FillInfo(view, self, self.data + self.start, self.length - self.start, 1,
                          flags)

    cdef bytes take(self):
        cdef bytes out = PyBytes_FromStringAndSize(self.data + self.start,
                                                   self.length - self.start)
        self.clear()
        return out


cdef Buffer _scratch = Buffer(16384)


cdef Buffer scratch():
    """The per-process scratch buffer (single-threaded workers; callers take() before return)."""
    _scratch.clear()
    return _scratch


cdef class Template:

    def __init__(self, bytes source):
        parts = []
        kinds = bytearray()
        names = []
        cdef Py_ssize_t pos = 0, start, end, i
        while True:
            start = source.find(b"{{", pos)
            if start < 0:
                break
            end = source.find(b"}}", start + 2)
            if end < 0:
                raise ValueError(f"template: unclosed slot at byte {start}")
            name, sep, kind = source[start + 2:end].partition(b":")
            if not sep or kind not in _KINDS or not name:
                raise ValueError(f"template: bad slot {source[start:end + 2]!r} "
                                 f"(want {{{{name:raw|int|str}}}})")
            parts.append(source[pos:start])
            kinds.append(_KINDS[kind])
            names.append(name.decode())
            pos = end + 2
        parts.append(source[pos:])
        if len(names) > MAX_SLOTS:
            raise ValueError(f"template: {len(names)} slots, at most {MAX_SLOTS}")
        self.parts = tuple(parts)
        self.kinds = bytes(kinds)
        self.slots = tuple(names)
        self.n_slots = len(names)
        self.literal_len = 0
        for i in range(self.n_slots + 1):
            self.part_ptr[i] = PyBytes_AS_STRING(self.parts[i])
            self.part_len[i] = PyBytes_GET_SIZE(self.parts[i])
            self.literal_len += self.part_len[i]

    cdef int write(self, Buffer out, tuple values) except -1:
        """The values, checked against the slot kinds, then emit()."""
        cdef Py_ssize_t i
        cdef const unsigned char *kinds = <const unsigned char *>PyBytes_AS_STRING(self.kinds)
        cdef const char *vp[MAX_SLOTS]
        cdef Py_ssize_t vn[MAX_SLOTS]
        cdef int64_t vi[MAX_SLOTS]
        cdef object v
        if len(values) != self.n_slots:
            raise ValueError(f"template wants {self.n_slots} values {self.slots}, "
                             f"got {len(values)}")
        for i in range(self.n_slots):
            v = values[i]
            if kinds[i] == SLOT_RAW:
                if type(v) is not bytes:
                    raise TypeError(f"slot {self.slots[i]!r} wants bytes, got {type(v).__name__}")
                vp[i] = PyBytes_AS_STRING(v)
                vn[i] = PyBytes_GET_SIZE(v)
            elif kinds[i] == SLOT_INT:
                vi[i] = v
            else:
                vp[i] = utf8(v, &vn[i])
        return self.emit(out, vp, vn, vi)

    cdef int emit(self, Buffer out, const char **vp, Py_ssize_t *vn, int64_t *vi) except -1:
        """Slot i from vp[i], vn[i] (raw: bytes; str: UTF-8 to escape) or vi[i] (int); the
        entries of the other kind are not read."""
        return self.emit_span(out, vp, vn, vi, 0, self.n_slots)

    cdef int emit_span(self, Buffer out, const char **vp, Py_ssize_t *vn, int64_t *vi,
                       Py_ssize_t first, Py_ssize_t stop) except -1:
        """emit() of slots first .. stop - 1 only, each after the literal before it, and the
        closing literal when stop is the end: emit_span(0, k) then emit_span(k, n_slots)
        writes what emit() does. One reservation, then plain copies."""
        cdef Py_ssize_t i, need = self.literal_len
        cdef const unsigned char *kinds = <const unsigned char *>PyBytes_AS_STRING(self.kinds)
        cdef char *dst
        for i in range(first, stop):
            need += vn[i] if kinds[i] == SLOT_RAW else 20 if kinds[i] == SLOT_INT else 6 * vn[i]
        out.reserve(need)
        dst = out.data + out.length
        for i in range(first, stop):
            memcpy(dst, self.part_ptr[i], self.part_len[i])
            dst += self.part_len[i]
            if kinds[i] == SLOT_RAW:
                memcpy(dst, vp[i], vn[i])
                dst += vn[i]
            elif kinds[i] == SLOT_INT:
                dst += llmsim_json_i64(dst, vi[i])
            else:
                dst += llmsim_json_escape(dst, vp[i], vn[i])
        if stop == self.n_slots:
            memcpy(dst, self.part_ptr[stop], self.part_len[stop])
            dst += self.part_len[stop]
        out.length = dst - out.data
        return 0

    cpdef bytes render(self, tuple values):
        cdef Buffer out = scratch()
        self.write(out, values)
        return out.take()

    cdef bytes render_c(self, const char **vp, Py_ssize_t *vn, int64_t *vi):
        """render() from C values as emit() takes them: no tuple, no int objects."""
        cdef Buffer out = scratch()
        self.emit(out, vp, vn, vi)
        return out.take()

    def __repr__(self):
        return f"Template(slots={self.slots})"


def escape(s):
    """The JSON-escaped UTF-8 bytes of a str (or UTF-8 bytes), without quotes."""
    cdef Buffer out = scratch()
    out.write_str(s)
    return out.take()
