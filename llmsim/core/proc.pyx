# cython: language_level=3
"""Process controls the standard library lacks (ctypes would cost ~2 ms of start-up)."""

import os

from libc.errno cimport errno

cdef extern from "<sys/prctl.h>" nogil:
    int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4,
              unsigned long arg5)
    int PR_SET_PDEATHSIG


def die_with_parent(int signum):
    """Have the kernel send `signum` to this process when its parent thread exits."""
    if prctl(PR_SET_PDEATHSIG, <unsigned long>signum, 0, 0, 0) != 0:
        raise OSError(errno, os.strerror(errno))
