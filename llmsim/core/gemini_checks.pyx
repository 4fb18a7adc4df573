# cython: language_level=3, boundscheck=False, wraparound=False
"""The checks Gemini makes on a GenerateContentRequest before it answers, compiled (every
generateContent request passes them): valid roles and non-empty parts in `contents`, and
generationConfig values in their supported ranges. The errors are Gemini's own words
(400 INVALID_ARGUMENT).
"""

from llmsim.core.fields cimport field as _f, slot

from llmsim.api.gemini_types import Content, GenerateContentRequest, GenerationConfig
from llmsim.api.gemini_wire import invalid

MAX_CANDIDATES = 8
MAX_STOPS = 5
cdef frozenset _ROLES = frozenset((None, "user", "model", "function"))
cdef Py_ssize_t R_CONTENTS = slot(GenerateContentRequest, "contents")
cdef Py_ssize_t R_CONFIG = slot(GenerateContentRequest, "generation_config")
cdef Py_ssize_t C_ROLE = slot(Content, "role"), C_PARTS = slot(Content, "parts")
cdef Py_ssize_t G_MAX = slot(GenerationConfig, "max_output_tokens")
cdef Py_ssize_t G_TEMPERATURE = slot(GenerationConfig, "temperature")
cdef Py_ssize_t G_TOP_P = slot(GenerationConfig, "top_p")
cdef Py_ssize_t G_CANDIDATES = slot(GenerationConfig, "candidate_count")
cdef Py_ssize_t G_STOPS = slot(GenerationConfig, "stop_sequences")


cdef _range_error(name, value, low, high):
    return invalid(f"Unable to submit request because it has a {name} value of {value} but "
                   f"the supported range is from {low} (inclusive) to {high} (exclusive). "
                   "Update the value and try again.")


cpdef tuple check(r, top):
    """The request's output cap and candidate count after the API's checks (`r`: a
    GenerateContentRequest, `top`: its model's most output tokens)."""
    contents = _f(r, R_CONTENTS)
    if not contents:
        raise invalid("* GenerateContentRequest.contents: contents is not specified\n")
    for c in contents:
        if _f(c, C_ROLE) not in _ROLES:
            raise invalid("Please use a valid role: user, model.")
        if not _f(c, C_PARTS):
            raise invalid("* GenerateContentRequest.contents.parts: contents.parts must not "
                          "be empty.\n")
    g = _f(r, R_CONFIG)
    if g is None:
        return top, 1
    cap = _f(g, G_MAX)
    if cap is None:
        cap = top
    if not 1 <= cap <= top:
        raise _range_error("maxOutputTokens", cap, 1, top + 1)
    v = _f(g, G_TEMPERATURE)
    if v is not None and not 0 <= v <= 2:
        raise _range_error("temperature", v, 0, 2.0001)
    v = _f(g, G_TOP_P)
    if v is not None and not 0 <= v <= 1:
        raise _range_error("topP", v, 0, 1.0001)
    n = _f(g, G_CANDIDATES)
    if n is None:
        n = 1
    if not 1 <= n <= MAX_CANDIDATES:
        raise _range_error("candidateCount", n, 1, MAX_CANDIDATES + 1)
    stops = _f(g, G_STOPS)
    if stops is not None and len(stops) > MAX_STOPS:
        raise invalid(f"Unable to submit request because it has more than {MAX_STOPS} stop "
                      "sequences. Remove some stop sequences and try again.")
    return cap, n
