# cython: language_level=3
"""msgspec Struct fields read by offset: a compiled hot path reads a decoded request's field
with one load (`field`) instead of through the attribute protocol (~130 instructions a read).
Offsets are taken once, at import, and checked (`slot`).
"""

import types

import msgspec

cdef extern from "structmember.h":
    enum: T_OBJECT_EX

cdef extern from "Python.h":
    ctypedef struct PyMemberDef:
        int type
        Py_ssize_t offset
    ctypedef struct PyMemberDescrObject:
        PyMemberDef *d_member


cdef Py_ssize_t slot(cls, str name) except -1:
    """Where instances of the msgspec Struct `cls` keep field `name`."""
    d = cls.__dict__.get(name)
    if (type(d) is not types.MemberDescriptorType
            or (<PyMemberDescrObject *>d).d_member.type != T_OBJECT_EX):
        raise ImportError(f"llmsim.core.fields: {cls.__name__}.{name} is not a plain slot; "
                          f"msgspec {msgspec.__version__} lays Structs out differently")
    return (<PyMemberDescrObject *>d).d_member.offset
