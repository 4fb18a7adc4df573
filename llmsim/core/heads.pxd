# Ids and header lines of Anthropic and Gemini answers (llmsim/core/heads.pyx).
from libc.stdint cimport int64_t

cpdef bytes message_id()
cpdef bytes anthropic_headers(bytes ctype=*)
cpdef bytes response_id()
cpdef bytes gemini_headers(int64_t processing_ns, bytes ctype=*)
cpdef bint alt_sse(bytes query)
