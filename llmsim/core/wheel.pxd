# C API of csrc/llmsim_wheel.h: hierarchical timer wheel with intrusive nodes.
from libc.stdint cimport int64_t, uint16_t, uint64_t

cdef extern from "llmsim_wheel.h":
    ctypedef struct llmsim_wheel_node_t:
        llmsim_wheel_node_t *next
        llmsim_wheel_node_t *prev
        int64_t due_ns
        uint64_t tick
        uint16_t where
    ctypedef struct llmsim_wheel_list_t:
        llmsim_wheel_node_t head
    ctypedef struct llmsim_wheel_t:
        int64_t origin_ns
        int64_t tick_ns
        uint64_t cur
    void llmsim_wheel_init(llmsim_wheel_t *w, int64_t tick_ns, int64_t now_ns) noexcept nogil
    void llmsim_wheel_node_init(llmsim_wheel_node_t *n) noexcept nogil
    int llmsim_wheel_node_armed(const llmsim_wheel_node_t *n) noexcept nogil
    void llmsim_wheel_list_init(llmsim_wheel_list_t *l) noexcept nogil
    llmsim_wheel_node_t *llmsim_wheel_list_pop(llmsim_wheel_list_t *l) noexcept nogil
    int llmsim_wheel_insert(llmsim_wheel_t *w, llmsim_wheel_node_t *n, int64_t due_ns) noexcept nogil
    void llmsim_wheel_cancel(llmsim_wheel_t *w, llmsim_wheel_node_t *n) noexcept nogil
    size_t llmsim_wheel_advance(llmsim_wheel_t *w, int64_t now_ns,
                                llmsim_wheel_list_t *out) noexcept nogil
    int64_t llmsim_wheel_next_due_ns(const llmsim_wheel_t *w) noexcept nogil
    int64_t llmsim_wheel_node_wake_ns(const llmsim_wheel_t *w,
                                      const llmsim_wheel_node_t *n) noexcept nogil
    size_t llmsim_wheel_count(const llmsim_wheel_t *w) noexcept nogil
