# cython: language_level=3
"""What the compiled core was built with (reported by `llmsim doctor` and the bench)."""

cdef extern from *:
    const char *LLMSIM_BUILD_CFLAGS

BUILD_CFLAGS = LLMSIM_BUILD_CFLAGS.decode()
