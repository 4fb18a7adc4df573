cdef class Endpoint:
    cdef readonly str name        # "openai.chat_completions"
    cdef readonly str provider    # "openai", "anthropic", "gemini", "admin"
    cdef readonly int id          # metrics route id
    cdef readonly object handler

cdef class PathEntry:
    cdef dict methods             # {b"POST": Endpoint}
    cdef readonly str provider
    cdef readonly bytes allow     # b"GET, POST"

cdef class Router:
    cdef dict exact               # {path: PathEntry}
    cdef list patterns            # [(segments, PathEntry)]
    cdef readonly list names      # route id -> name
    cdef readonly tuple params    # parameters of the last lookup
    cdef readonly bytes last_method, last_path   # the last request routed
    cdef Endpoint last_ep
    cdef tuple last_params
    cdef PathEntry lookup(self, bytes path)
    cdef Endpoint endpoint(self, PathEntry entry, bytes method, bytes path)
    cdef Endpoint recall(self, const char *method, size_t method_len, const char *path,
                         size_t path_len)
