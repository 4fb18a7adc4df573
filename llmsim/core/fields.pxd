# msgspec Struct fields read by offset (llmsim/core/fields.pyx).
from cpython.ref cimport PyObject


cdef Py_ssize_t slot(cls, str name) except -1


cdef inline object field(object struct, Py_ssize_t offset):
    """The field at `offset` (from `slot`) of a Struct instance of the type it was taken
    from."""
    cdef PyObject *v = (<PyObject **>((<char *>(<PyObject *>struct)) + offset))[0]
    if v == NULL:
        raise AttributeError(offset)
    return <object>v
