# One streamed text answer in any provider's frames (llmsim/core/textstream.pyx).
from llmsim.core.pieces cimport Pieces, Run
from llmsim.core.plan cimport PlannerCore
from llmsim.core.render cimport Buffer
from llmsim.core.sse cimport EventStream


cdef class TextStream(EventStream):
    cdef bytes lead, open, tail, prefix, final
    cdef Pieces pieces
    cdef Py_ssize_t first, steps, skip
    cdef object plan
    cdef PlannerCore planner

    cdef int write_lead(self, Buffer out) except -1
    cdef int write_final(self, Buffer out) except -1
    cdef int time_text(self, Run run, plan, PlannerCore planner) except -1


cdef TextStream framed(bytes lead, bytes open, bytes tail, bytes prefix, bytes final, Run run,
                       plan, PlannerCore planner)
