/* picohttpparser's request-parsing API as pycohttpparser builds it (through cffi).
 * llmsim does not link picohttpparser: it takes the address of phr_parse_request from the
 * cffi module at import and calls it through this function-pointer type. The struct layout is
 * checked against cffi's sizeof/offsetof at import. */
#ifndef LLMSIM_PHR_H
#define LLMSIM_PHR_H

#include <stddef.h>

struct phr_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

typedef int (*llmsim_phr_parse_request_t)(const char *buf, size_t len, const char **method,
                                          size_t *method_len, const char **path,
                                          size_t *path_len, int *minor_version,
                                          struct phr_header *headers, size_t *num_headers,
                                          size_t last_len);

#endif /* LLMSIM_PHR_H */
