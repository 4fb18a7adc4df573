# cython: language_level=3, boundscheck=False, wraparound=False
"""A Python view of the C timer wheel (csrc/llmsim_wheel.h) for tests and tools.

The stream scheduler embeds llmsim_wheel_node_t in its own C structures; this binding owns
an array of `capacity` nodes named by index instead.
"""

from libc.stdint cimport int64_t
from libc.stdlib cimport calloc, free


cdef struct Entry:
    llmsim_wheel_node_t node   # first member: a node pointer is its entry's pointer
    Py_ssize_t ident


cdef class Wheel:
    """Wheel(tick_ns, now_ns, capacity): nodes 0 .. capacity - 1, each armed at most once."""
    cdef llmsim_wheel_t *w
    cdef Entry *entries
    cdef Py_ssize_t capacity

    def __cinit__(self, int64_t tick_ns, int64_t now_ns, Py_ssize_t capacity):
        if tick_ns <= 0 or capacity < 0:
            raise ValueError("tick_ns must be > 0 and capacity >= 0")
        self.w = <llmsim_wheel_t *>calloc(1, sizeof(llmsim_wheel_t))
        self.entries = <Entry *>calloc(capacity if capacity else 1, sizeof(Entry))
        if self.w == NULL or self.entries == NULL:
            raise MemoryError()
        self.capacity = capacity
        llmsim_wheel_init(self.w, tick_ns, now_ns)
        cdef Py_ssize_t i
        for i in range(capacity):
            llmsim_wheel_node_init(&self.entries[i].node)
            self.entries[i].ident = i

    def __dealloc__(self):
        free(self.w)
        free(self.entries)

    cdef Entry *_entry(self, Py_ssize_t i) except NULL:
        if not 0 <= i < self.capacity:
            raise IndexError(f"node {i} out of range")
        return &self.entries[i]

    def insert(self, Py_ssize_t i, int64_t due_ns):
        """Arm node i for due_ns; ValueError if it is already armed."""
        if llmsim_wheel_insert(self.w, &self._entry(i).node, due_ns) != 0:
            raise ValueError(f"node {i} is already armed")

    def cancel(self, Py_ssize_t i):
        """Disarm node i (no-op when idle)."""
        llmsim_wheel_cancel(self.w, &self._entry(i).node)

    def armed(self, Py_ssize_t i):
        return bool(llmsim_wheel_node_armed(&self._entry(i).node))

    def advance(self, int64_t now_ns):
        """Indices of every node due at or before now_ns, in tick order."""
        cdef llmsim_wheel_list_t out
        cdef llmsim_wheel_node_t *n
        llmsim_wheel_list_init(&out)
        llmsim_wheel_advance(self.w, now_ns, &out)
        result = []
        while True:
            n = llmsim_wheel_list_pop(&out)
            if n == NULL:
                break
            result.append((<Entry *>n).ident)
        return result

    def wake_ns(self, Py_ssize_t i):
        """When a wake hands out armed node i: the start of its tick (past when overdue)."""
        cdef Entry *e = self._entry(i)
        if not llmsim_wheel_node_armed(&e.node):
            raise ValueError(f"node {i} is not armed")
        return llmsim_wheel_node_wake_ns(self.w, &e.node)

    def next_due_ns(self):
        """A time at or before the earliest due node (None when nothing is armed)."""
        cdef int64_t t = llmsim_wheel_next_due_ns(self.w)
        return None if t == 0x7FFFFFFFFFFFFFFF else t

    def __len__(self):
        return llmsim_wheel_count(self.w)
