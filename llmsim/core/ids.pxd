# Random ids for answers (llmsim/core/ids.pyx), callable from C.
cpdef bytes alnum(Py_ssize_t n)
cpdef bytes hexstr(Py_ssize_t n)
