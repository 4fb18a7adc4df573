# Input tokens of Anthropic and Gemini requests (llmsim/core/prompts.pyx).
cpdef Py_ssize_t input_tokens(r) except -1
cpdef Py_ssize_t contents_tokens(contents) except -1
cpdef Py_ssize_t prompt_tokens(r) except -1
