# C declarations of csrc/llmsim_shm.h and the Segment that owns the shared mapping.
#
# Hot path (connection, scheduler), once per worker at start:
#     cdef llmsim_worker_t *blk = segment.worker(index)      # NULL if index is out of range
# then, with no Python involved:
#     llmsim_count_request(blk, route, status, duration_ns)
#     llmsim_observe(&blk.ttft, ns)  (also &blk.itl, &blk.e2e)
#     llmsim_chaos_enabled(segment.hdr) ...
# Keep a reference to the Segment for as long as `blk` is used: the mapping dies with it.
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t

cdef extern from "llmsim_shm.h" nogil:
    enum:
        LLMSIM_SHM_VERSION
        LLMSIM_MAX_WORKERS
        LLMSIM_MAX_ROUTES
        LLMSIM_STATUS_CLASSES
        LLMSIM_RATE_BUCKETS
        LLMSIM_RULE_COUNTERS
        LLMSIM_HIST_INF
        LLMSIM_HIST_BUCKETS
        LLMSIM_STATE_EMPTY
        LLMSIM_STATE_BOOTING
        LLMSIM_STATE_SERVING
        LLMSIM_STATE_DRAINING

    ctypedef struct llmsim_hist_t:
        pass

    # Fields are C11 atomics: touch them only through the functions below.
    ctypedef struct llmsim_worker_t:
        llmsim_hist_t request_duration
        llmsim_hist_t ttft
        llmsim_hist_t itl
        llmsim_hist_t e2e

    ctypedef struct llmsim_shm_t:
        uint32_t version

    ctypedef struct llmsim_hist_snap_t:
        uint64_t bucket[LLMSIM_HIST_BUCKETS]
        uint64_t sum_ns

    ctypedef struct llmsim_snapshot_t:
        uint64_t bytes_in
        uint64_t bytes_out
        uint64_t parse_errors
        uint64_t tokens_out
        int64_t open_connections
        int64_t open_streams
        int64_t queued
        uint64_t requests[LLMSIM_MAX_ROUTES][LLMSIM_STATUS_CLASSES]
        llmsim_hist_snap_t request_duration
        llmsim_hist_snap_t ttft
        llmsim_hist_snap_t itl
        llmsim_hist_snap_t e2e

    # hot path: the worker writing its own block
    void llmsim_count_request(llmsim_worker_t *w, unsigned route, int status,
                              uint64_t duration_ns)
    void llmsim_observe(llmsim_hist_t *h, uint64_t ns)
    void llmsim_add_bytes_in(llmsim_worker_t *w, uint64_t n)
    void llmsim_add_bytes_out(llmsim_worker_t *w, uint64_t n)
    void llmsim_add_tokens(llmsim_worker_t *w, uint64_t n)
    void llmsim_parse_error(llmsim_worker_t *w)
    void llmsim_conn_opened(llmsim_worker_t *w)
    void llmsim_conn_closed(llmsim_worker_t *w)
    void llmsim_stream_opened(llmsim_worker_t *w)
    void llmsim_stream_closed(llmsim_worker_t *w)
    void llmsim_queued_inc(llmsim_worker_t *w)
    void llmsim_queued_dec(llmsim_worker_t *w)
    void llmsim_heartbeat(llmsim_worker_t *w, uint64_t now_ns)
    void llmsim_set_state(llmsim_worker_t *w, unsigned state)

    # runtime switches, read per request
    int llmsim_chaos_enabled(llmsim_shm_t *s)
    uint32_t llmsim_chaos_rate_ppm(llmsim_shm_t *s)
    uint32_t llmsim_latency_multiplier_milli(llmsim_shm_t *s)
    uint64_t llmsim_config_generation(llmsim_shm_t *s)
    void llmsim_set_chaos_enabled(llmsim_shm_t *s, int on)
    void llmsim_set_chaos_rate_ppm(llmsim_shm_t *s, uint32_t ppm)
    void llmsim_set_latency_multiplier_milli(llmsim_shm_t *s, uint32_t milli)
    void llmsim_set_config_generation(llmsim_shm_t *s, uint64_t generation)

    # rate limits and fault draws, shared by every worker
    uint64_t llmsim_rate_take(llmsim_shm_t *s, unsigned i, uint64_t now, uint64_t cost_ns,
                              uint64_t window_ns, uint64_t *backlog)
    void llmsim_rate_refund(llmsim_shm_t *s, unsigned i, uint64_t cost_ns)
    uint64_t llmsim_rate_backlog(llmsim_shm_t *s, unsigned i, uint64_t now)
    void llmsim_rate_reset(llmsim_shm_t *s, unsigned first, unsigned n)
    uint64_t llmsim_fault_seq(llmsim_shm_t *s)
    int llmsim_rule_use(llmsim_shm_t *s, unsigned i, uint64_t times)
    void llmsim_rule_reset(llmsim_shm_t *s, unsigned first, unsigned n)

    # cold path: the master and readers
    unsigned llmsim_hist_index(uint64_t ns)
    uint64_t llmsim_hist_upper_ns(unsigned i)
    void llmsim_shm_init(llmsim_shm_t *s, uint32_t nworkers)
    uint32_t llmsim_shm_nworkers(llmsim_shm_t *s)
    uint32_t llmsim_shm_expected_workers(llmsim_shm_t *s)
    void llmsim_shm_set_expected_workers(llmsim_shm_t *s, uint32_t n)
    int llmsim_shm_ready(llmsim_shm_t *s)
    llmsim_worker_t *llmsim_shm_worker(llmsim_shm_t *s, uint32_t i)
    void llmsim_set_worker(llmsim_worker_t *w, int32_t pid, unsigned state, uint64_t now_ns)
    unsigned llmsim_worker_state(llmsim_worker_t *w)
    int32_t llmsim_worker_pid(llmsim_worker_t *w)
    uint64_t llmsim_worker_heartbeat(llmsim_worker_t *w)
    void llmsim_shm_reset_worker(llmsim_shm_t *s, uint32_t i)
    void llmsim_shm_resize(llmsim_shm_t *s, uint32_t n)
    int llmsim_shm_snapshot(llmsim_shm_t *s, llmsim_snapshot_t *d)


cdef class Segment:
    cdef llmsim_shm_t *hdr
    cdef llmsim_worker_t *worker(self, int i) noexcept
    cdef llmsim_worker_t *_block(self, int i) except NULL   # worker() or IndexError
