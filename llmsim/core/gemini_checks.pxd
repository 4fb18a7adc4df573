# The checks of a GenerateContentRequest (llmsim/core/gemini_checks.pyx).
cpdef tuple check(r, top)
