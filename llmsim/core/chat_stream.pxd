# The streamed chat completion's frames and its common stream (llmsim/core/chat_stream.pyx).
from llmsim.core.pieces cimport Run
from llmsim.core.plan cimport PlannerCore
from llmsim.core.sse cimport EventStream

cdef EventStream text_stream(Run run, bint cut, plan, PlannerCore planner, tuple head,
                             bytes usage)
