# C declarations of csrc/llmsim_clock.h: the monotonic nanosecond clock llmsim stamps with.
from libc.stdint cimport uint64_t

cdef extern from "llmsim_clock.h" nogil:
    uint64_t llmsim_now_ns()
