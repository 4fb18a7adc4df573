# C API of csrc/llmsim_rng.h and csrc/llmsim_dist.h, and the cdef classes over them.
from libc.stdint cimport int64_t, uint32_t, uint64_t

cdef extern from "llmsim_rng.h":
    ctypedef struct llmsim_stream_t:
        uint64_t key
        uint64_t counter
    void llmsim_philox4x32_10(const uint32_t *ctr, const uint32_t *key, uint32_t *out) noexcept nogil
    void llmsim_rng_block(uint64_t key, uint64_t index, uint32_t attempt, uint64_t *lanes) noexcept nogil
    uint64_t llmsim_rng_u64(uint64_t key, uint64_t counter) noexcept nogil
    uint64_t llmsim_rng_key(uint64_t global_seed, uint64_t request_key) noexcept nogil
    uint64_t llmsim_rng_subkey(uint64_t key, uint32_t domain) noexcept nogil
    double llmsim_u01(uint64_t bits) noexcept nogil
    void llmsim_stream_init(llmsim_stream_t *s, uint64_t key) noexcept nogil
    uint64_t llmsim_stream_u64(llmsim_stream_t *s) noexcept nogil
    double llmsim_stream_double(llmsim_stream_t *s) noexcept nogil
    uint64_t llmsim_stream_below(llmsim_stream_t *s, uint64_t n) noexcept nogil
    uint64_t llmsim_hash64(const void *data, size_t len, uint64_t seed) noexcept nogil

cdef extern from "llmsim_dist.h":
    enum:
        LLMSIM_DIST_CONSTANT
        LLMSIM_DIST_UNIFORM
        LLMSIM_DIST_NORMAL
        LLMSIM_DIST_LOGNORMAL
        LLMSIM_DIST_EXPONENTIAL
        LLMSIM_DIST_PARETO
        LLMSIM_DIST_EMPIRICAL
        LLMSIM_DIST_MAX_POINTS
        LLMSIM_NORMAL_ATTEMPTS
    ctypedef struct llmsim_dist_t:
        int kind
        int npoints
        double a
        double b
        double min
        double max
        double p[32]
        double v[32]
    double LLMSIM_Z_P90
    double LLMSIM_Z_P95
    double LLMSIM_Z_P99
    double LLMSIM_Z_P999
    void llmsim_lognormal_from_mean_sd(double mean, double sd, double *mu, double *sigma) noexcept nogil
    void llmsim_lognormal_from_median_q(double median, double quantile, double z,
                                        double *mu, double *sigma) noexcept nogil
    double llmsim_dist_clamp(const llmsim_dist_t *d, double x) noexcept nogil
    double llmsim_dist_at(const llmsim_dist_t *d, uint64_t key, uint64_t i) noexcept nogil
    double llmsim_dist_from_block(const llmsim_dist_t *d, const uint64_t *b, uint64_t key,
                                  uint64_t i) noexcept nogil
    double llmsim_dist_sample(const llmsim_dist_t *d, llmsim_stream_t *s) noexcept nogil
    void llmsim_dist_fill(const llmsim_dist_t *d, uint64_t key, uint64_t first, size_t n,
                          double *out) noexcept nogil

# Sub-key domains: one independent stream per use of a request key.
cdef enum:
    DOMAIN_TTFT = 1
    DOMAIN_ITL = 2
    DOMAIN_LENGTH = 3
    DOMAIN_TEXT = 4


cdef class Stream:
    cdef llmsim_stream_t s


cdef class Distribution:
    cdef llmsim_dist_t d
    cdef readonly str kind
