# Random ids for answers (llmsim/core/ids.pyx), callable from C.
from libc.stdint cimport uint64_t

cdef uint64_t random_u64() noexcept
cpdef bytes alnum(Py_ssize_t n)
cdef void alnum_into(char *p, Py_ssize_t n) noexcept
cpdef bytes hexstr(Py_ssize_t n)
cdef void hex_into(char *p, Py_ssize_t n) noexcept
