# C API of csrc/llmsim_timer.h: a one-shot timerfd armed with an absolute monotonic deadline.
from libc.stdint cimport int64_t

cdef extern from "llmsim_timer.h" nogil:
    int llmsim_timer_open()
    int llmsim_timer_set(int fd, int64_t at_ns)
