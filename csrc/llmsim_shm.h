/* The node-wide metrics and control segment shared by the master and every worker.
 *
 * One anonymous MAP_SHARED mapping, made by the master before it forks, holds:
 *   - a header: layout version, block count, the number of workers the node should have
 *     serving, config generation and the runtime switches that admin endpoints flip for all
 *     workers at once;
 *   - a "retired" block that keeps the counters of replaced workers, so node totals never
 *     go backwards;
 *   - one cache-line-aligned block per worker process: pid, state, heartbeat, counters,
 *     gauges and fixed log-scale histograms. The master may keep more blocks than workers
 *     (a replacement worker gets a fresh block while its predecessor drains in the old one);
 *   - rate-limit buckets every worker takes from (compare-and-swap), and the node-wide
 *     sequence number of fault draws (llmsim/policy).
 *
 * Concurrency: exactly one process writes a worker block's counters (the worker given that
 * block), so an increment is a relaxed load and a relaxed store: no locked instruction, no
 * syscall, no loop. Readers (/metrics in any worker, the master) sum the blocks with relaxed
 * loads. The master moves a dead worker's counters into the retired block under a sequence
 * counter (`fold_seq`), and a reader retries a sum that overlapped such a move, so a total
 * is never counted twice nor missed.
 */
#ifndef LLMSIM_SHM_H
#define LLMSIM_SHM_H

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#define LLMSIM_SHM_VERSION 1u
#define LLMSIM_MAX_WORKERS 256
#define LLMSIM_MAX_ROUTES 64 /* ids 0..62 are routes; 63 and anything above: unmatched */
#define LLMSIM_STATUS_CLASSES 6 /* 1xx 2xx 3xx 4xx 5xx other */
#define LLMSIM_RATE_BUCKETS 1024 /* rate-limit buckets: (bank, API key, budget kind) */
#define LLMSIM_RULE_COUNTERS 256 /* uses of scripted rules with `times`, node-wide */

/* Histogram buckets, in nanoseconds, each holding observations in (lower, upper]:
 *   bucket 0:           v <= 2^10 ns (1.024 us)
 *   buckets 1..108:     4 per power of two from 2^10 to 2^37 ns (137.4 s); the bucket with
 *                       index 1 + 4*(k - 10) + s has upper bound 2^k + (s + 1) * 2^(k - 2)
 *   bucket 109 (+Inf):  v > 2^37 ns */
#define LLMSIM_HIST_MIN_SHIFT 10
#define LLMSIM_HIST_MAX_SHIFT 37
#define LLMSIM_HIST_SUB_SHIFT 2 /* 4 buckets per power of two */
#define LLMSIM_HIST_INF \
    (1 + ((LLMSIM_HIST_MAX_SHIFT - LLMSIM_HIST_MIN_SHIFT) << LLMSIM_HIST_SUB_SHIFT))
#define LLMSIM_HIST_BUCKETS (LLMSIM_HIST_INF + 1)

enum {
    LLMSIM_STATE_EMPTY = 0,
    LLMSIM_STATE_BOOTING = 1,
    LLMSIM_STATE_SERVING = 2,
    LLMSIM_STATE_DRAINING = 3,
};

/* Fields listed once, used by the block layout, the fold and the snapshot. */
#define LLMSIM_COUNTERS(X) X(bytes_in) X(bytes_out) X(parse_errors) X(tokens_out)
#define LLMSIM_GAUGES(X) X(open_connections) X(open_streams) X(queued)
#define LLMSIM_HISTS(X) X(request_duration) X(ttft) X(itl) X(e2e)

typedef struct {
    _Alignas(64) _Atomic uint64_t bucket[LLMSIM_HIST_BUCKETS];
    _Atomic uint64_t sum_ns;
} llmsim_hist_t;

#define LLMSIM__DECL_COUNTER(name) _Atomic uint64_t name;
#define LLMSIM__DECL_GAUGE(name) _Atomic int64_t name;
#define LLMSIM__DECL_HIST(name) llmsim_hist_t name;

typedef struct {
    _Alignas(64) _Atomic int32_t pid;
    _Atomic uint32_t state;
    _Atomic uint64_t heartbeat_ns; /* llmsim_now_ns() of the last sign of life; 0 = never */
    LLMSIM_COUNTERS(LLMSIM__DECL_COUNTER)
    LLMSIM_GAUGES(LLMSIM__DECL_GAUGE)
    _Atomic uint64_t requests[LLMSIM_MAX_ROUTES][LLMSIM_STATUS_CLASSES];
    LLMSIM_HISTS(LLMSIM__DECL_HIST)
} llmsim_worker_t;

/* A rate-limit bucket as a GCRA "theoretical arrival time": the monotonic ns at which
 * the bucket would be full again. One word, so taking from it is one compare-and-swap. */
typedef struct {
    _Alignas(64) _Atomic uint64_t tat;
} llmsim_rate_bucket_t;

typedef struct {
    _Alignas(64) uint32_t version; /* written once, before fork */
    _Atomic uint32_t nworkers; /* blocks in use: 0..nworkers-1 are summed */
    _Atomic uint32_t expected_workers; /* how many serving blocks make the node ready */
    _Atomic uint32_t fold_seq; /* odd while the master moves a block into `retired` */
    _Atomic uint32_t chaos_enabled;
    _Atomic uint32_t chaos_rate_ppm;
    _Atomic uint32_t latency_multiplier_milli; /* 1000 = configured latencies as they are */
    _Atomic uint64_t config_generation;
    llmsim_worker_t retired;
    llmsim_worker_t workers[LLMSIM_MAX_WORKERS];
    /* After the worker blocks, so the fields above keep their offsets. */
    _Alignas(64) _Atomic uint64_t fault_seq; /* fault draws taken on this node */
    llmsim_rate_bucket_t rate[LLMSIM_RATE_BUCKETS];
    _Atomic uint64_t rule_uses[LLMSIM_RULE_COUNTERS];
} llmsim_shm_t;

/* A plain copy of the summed counters, for readers. */
typedef struct {
    uint64_t bucket[LLMSIM_HIST_BUCKETS];
    uint64_t sum_ns;
} llmsim_hist_snap_t;

#define LLMSIM__SNAP_COUNTER(name) uint64_t name;
#define LLMSIM__SNAP_GAUGE(name) int64_t name;
#define LLMSIM__SNAP_HIST(name) llmsim_hist_snap_t name;

typedef struct {
    LLMSIM_COUNTERS(LLMSIM__SNAP_COUNTER)
    LLMSIM_GAUGES(LLMSIM__SNAP_GAUGE)
    uint64_t requests[LLMSIM_MAX_ROUTES][LLMSIM_STATUS_CLASSES];
    LLMSIM_HISTS(LLMSIM__SNAP_HIST)
} llmsim_snapshot_t;

_Static_assert(sizeof(llmsim_worker_t) % 64 == 0, "worker blocks must not share cache lines");

#define LLMSIM__RELAXED memory_order_relaxed

/* ---- hot path: the worker writing its own block ------------------------------------- */

static inline void llmsim__add(_Atomic uint64_t *p, uint64_t n)
{
    atomic_store_explicit(p, atomic_load_explicit(p, LLMSIM__RELAXED) + n, LLMSIM__RELAXED);
}

static inline void llmsim__gauge(_Atomic int64_t *p, int64_t delta)
{
    atomic_store_explicit(p, atomic_load_explicit(p, LLMSIM__RELAXED) + delta,
                          LLMSIM__RELAXED);
}

/* Bucket of an observation: the bucket whose (lower, upper] holds ns. */
static inline unsigned llmsim_hist_index(uint64_t ns)
{
    uint64_t x = ns - (ns != 0);
    if (x < (1ull << LLMSIM_HIST_MIN_SHIFT))
        return 0;
    unsigned k = 63u - (unsigned)__builtin_clzll(x);
    unsigned sub = (unsigned)(x >> (k - LLMSIM_HIST_SUB_SHIFT)) &
                   ((1u << LLMSIM_HIST_SUB_SHIFT) - 1);
    unsigned i = 1u + ((k - LLMSIM_HIST_MIN_SHIFT) << LLMSIM_HIST_SUB_SHIFT) + sub;
    return i < LLMSIM_HIST_INF ? i : LLMSIM_HIST_INF;
}

static inline void llmsim_observe(llmsim_hist_t *h, uint64_t ns)
{
    llmsim__add(&h->bucket[llmsim_hist_index(ns)], 1);
    llmsim__add(&h->sum_ns, ns);
}

/* status 100..599 counts as 1xx..5xx, anything else as "other"; a route id outside 0..62
 * (the router's -1 included, as unsigned) counts as route 63, "unmatched". */
static inline void llmsim_count_request(llmsim_worker_t *w, unsigned route, int status,
                                        uint64_t duration_ns)
{
    unsigned cls = (unsigned)(status / 100) - 1u;
    cls = cls < LLMSIM_STATUS_CLASSES - 1 ? cls : LLMSIM_STATUS_CLASSES - 1;
    route = route < LLMSIM_MAX_ROUTES ? route : LLMSIM_MAX_ROUTES - 1;
    llmsim__add(&w->requests[route][cls], 1);
    llmsim_observe(&w->request_duration, duration_ns);
}

static inline void llmsim_add_bytes_in(llmsim_worker_t *w, uint64_t n)
{
    llmsim__add(&w->bytes_in, n);
}

static inline void llmsim_add_bytes_out(llmsim_worker_t *w, uint64_t n)
{
    llmsim__add(&w->bytes_out, n);
}

static inline void llmsim_add_tokens(llmsim_worker_t *w, uint64_t n)
{
    llmsim__add(&w->tokens_out, n);
}

static inline void llmsim_parse_error(llmsim_worker_t *w)
{
    llmsim__add(&w->parse_errors, 1);
}

static inline void llmsim_conn_opened(llmsim_worker_t *w)
{
    llmsim__gauge(&w->open_connections, 1);
}

static inline void llmsim_conn_closed(llmsim_worker_t *w)
{
    llmsim__gauge(&w->open_connections, -1);
}

static inline void llmsim_stream_opened(llmsim_worker_t *w)
{
    llmsim__gauge(&w->open_streams, 1);
}

static inline void llmsim_stream_closed(llmsim_worker_t *w)
{
    llmsim__gauge(&w->open_streams, -1);
}

static inline void llmsim_queued_inc(llmsim_worker_t *w)
{
    llmsim__gauge(&w->queued, 1);
}

static inline void llmsim_queued_dec(llmsim_worker_t *w)
{
    llmsim__gauge(&w->queued, -1);
}

static inline void llmsim_heartbeat(llmsim_worker_t *w, uint64_t now_ns)
{
    atomic_store_explicit(&w->heartbeat_ns, now_ns, LLMSIM__RELAXED);
}

static inline void llmsim_set_state(llmsim_worker_t *w, unsigned state)
{
    atomic_store_explicit(&w->state, state, memory_order_release);
}

/* ---- runtime switches (any process may flip them; every worker reads them) ----------- */

static inline int llmsim_chaos_enabled(llmsim_shm_t *s)
{
    return (int)atomic_load_explicit(&s->chaos_enabled, LLMSIM__RELAXED);
}

static inline uint32_t llmsim_chaos_rate_ppm(llmsim_shm_t *s)
{
    return atomic_load_explicit(&s->chaos_rate_ppm, LLMSIM__RELAXED);
}

static inline uint32_t llmsim_latency_multiplier_milli(llmsim_shm_t *s)
{
    return atomic_load_explicit(&s->latency_multiplier_milli, LLMSIM__RELAXED);
}

static inline uint64_t llmsim_config_generation(llmsim_shm_t *s)
{
    return atomic_load_explicit(&s->config_generation, LLMSIM__RELAXED);
}

static inline void llmsim_set_chaos_enabled(llmsim_shm_t *s, int on)
{
    atomic_store_explicit(&s->chaos_enabled, on != 0, LLMSIM__RELAXED);
}

static inline void llmsim_set_chaos_rate_ppm(llmsim_shm_t *s, uint32_t ppm)
{
    atomic_store_explicit(&s->chaos_rate_ppm, ppm, LLMSIM__RELAXED);
}

static inline void llmsim_set_latency_multiplier_milli(llmsim_shm_t *s, uint32_t milli)
{
    atomic_store_explicit(&s->latency_multiplier_milli, milli, LLMSIM__RELAXED);
}

static inline void llmsim_set_config_generation(llmsim_shm_t *s, uint64_t generation)
{
    atomic_store_explicit(&s->config_generation, generation, LLMSIM__RELAXED);
}

/* ---- rate limits and fault draws: shared by every worker ------------------------------ */

/* Take `cost_ns` (units x the bucket's ns per unit) from bucket i, whose capacity is
 * `window_ns`, at monotonic time `now`. Admitted: returns 0 and sets *backlog to the ns until
 * the bucket is full again. Refused (it would overflow the window): takes nothing, returns
 * the ns to wait until it would be admitted and sets *backlog to the current backlog. */
static inline uint64_t llmsim_rate_take(llmsim_shm_t *s, unsigned i, uint64_t now,
                                        uint64_t cost_ns, uint64_t window_ns, uint64_t *backlog)
{
    _Atomic uint64_t *p = &s->rate[i % LLMSIM_RATE_BUCKETS].tat;
    uint64_t tat = atomic_load_explicit(p, LLMSIM__RELAXED);
    for (;;) {
        uint64_t base = tat > now ? tat : now;
        uint64_t next = base + cost_ns;
        if (next - now > window_ns) {
            *backlog = base - now;
            return next - now - window_ns;
        }
        if (atomic_compare_exchange_weak_explicit(p, &tat, next, LLMSIM__RELAXED,
                                                  LLMSIM__RELAXED)) {
            *backlog = next - now;
            return 0;
        }
    }
}

/* Give back what llmsim_rate_take admitted (a request refused by a later bucket, or the
 * part of an estimate an answer did not use). A bucket that has refilled meanwhile may go
 * below `now`, which counts as full; it never wraps below 0. */
static inline void llmsim_rate_refund(llmsim_shm_t *s, unsigned i, uint64_t cost_ns)
{
    _Atomic uint64_t *p = &s->rate[i % LLMSIM_RATE_BUCKETS].tat;
    uint64_t tat = atomic_load_explicit(p, LLMSIM__RELAXED);
    while (!atomic_compare_exchange_weak_explicit(p, &tat, tat > cost_ns ? tat - cost_ns : 0,
                                                  LLMSIM__RELAXED, LLMSIM__RELAXED))
        ;
}

/* The ns until bucket i is full again at monotonic time `now` (0 when it is full); takes
 * nothing. */
static inline uint64_t llmsim_rate_backlog(llmsim_shm_t *s, unsigned i, uint64_t now)
{
    uint64_t tat = atomic_load_explicit(&s->rate[i % LLMSIM_RATE_BUCKETS].tat, LLMSIM__RELAXED);
    return tat > now ? tat - now : 0;
}

/* Empty buckets first..first+n-1 (full budgets): for a set of buckets no process takes
 * from, before the workers of a new rate-limit configuration do. */
static inline void llmsim_rate_reset(llmsim_shm_t *s, unsigned first, unsigned n)
{
    for (unsigned i = first; i < first + n && i < LLMSIM_RATE_BUCKETS; i++)
        atomic_store_explicit(&s->rate[i].tat, 0, LLMSIM__RELAXED);
}

/* The next number of the node-wide sequence of fault draws. */
static inline uint64_t llmsim_fault_seq(llmsim_shm_t *s)
{
    return atomic_fetch_add_explicit(&s->fault_seq, 1, LLMSIM__RELAXED);
}

/* One use of a rule allowed `times` uses, counted in counter i: 1 if it is granted (fewer
 * than `times` taken before, by any worker), else 0 and nothing counted. */
static inline int llmsim_rule_use(llmsim_shm_t *s, unsigned i, uint64_t times)
{
    _Atomic uint64_t *p = &s->rule_uses[i % LLMSIM_RULE_COUNTERS];
    uint64_t used = atomic_load_explicit(p, LLMSIM__RELAXED);
    do {
        if (used >= times)
            return 0;
    } while (!atomic_compare_exchange_weak_explicit(p, &used, used + 1, LLMSIM__RELAXED,
                                                    LLMSIM__RELAXED));
    return 1;
}

/* Zero rule counters first..first+n-1, before the workers of a new configuration use them. */
static inline void llmsim_rule_reset(llmsim_shm_t *s, unsigned first, unsigned n)
{
    for (unsigned i = first; i < first + n && i < LLMSIM_RULE_COUNTERS; i++)
        atomic_store_explicit(&s->rule_uses[i], 0, LLMSIM__RELAXED);
}

/* ---- cold path: the master and readers ----------------------------------------------- */

/* Upper bound in ns of bucket i < LLMSIM_HIST_INF (the last bucket is +Inf). */
static inline uint64_t llmsim_hist_upper_ns(unsigned i)
{
    if (i == 0)
        return 1ull << LLMSIM_HIST_MIN_SHIFT;
    unsigned k = LLMSIM_HIST_MIN_SHIFT + ((i - 1) >> LLMSIM_HIST_SUB_SHIFT);
    uint64_t sub = ((i - 1) & ((1u << LLMSIM_HIST_SUB_SHIFT) - 1)) + 1;
    return (1ull << k) + (sub << (k - LLMSIM_HIST_SUB_SHIFT));
}

/* `s` must point at zeroed memory (a fresh anonymous mapping). */
static inline void llmsim_shm_init(llmsim_shm_t *s, uint32_t nworkers)
{
    s->version = LLMSIM_SHM_VERSION;
    atomic_store(&s->nworkers, nworkers);
    atomic_store(&s->expected_workers, nworkers);
    atomic_store(&s->latency_multiplier_milli, 1000);
}

static inline uint32_t llmsim_shm_nworkers(llmsim_shm_t *s)
{
    return atomic_load_explicit(&s->nworkers, LLMSIM__RELAXED);
}

static inline uint32_t llmsim_shm_expected_workers(llmsim_shm_t *s)
{
    return atomic_load_explicit(&s->expected_workers, LLMSIM__RELAXED);
}

static inline void llmsim_shm_set_expected_workers(llmsim_shm_t *s, uint32_t n)
{
    atomic_store_explicit(&s->expected_workers, n, LLMSIM__RELAXED);
}

/* 1 when at least expected_workers blocks are serving (GET /ready). */
static inline int llmsim_shm_ready(llmsim_shm_t *s)
{
    uint32_t n = llmsim_shm_nworkers(s), serving = 0;
    for (uint32_t i = 0; i < n && i < LLMSIM_MAX_WORKERS; i++)
        serving += atomic_load_explicit(&s->workers[i].state, memory_order_acquire) ==
                   LLMSIM_STATE_SERVING;
    return serving >= llmsim_shm_expected_workers(s);
}

static inline llmsim_worker_t *llmsim_shm_worker(llmsim_shm_t *s, uint32_t i)
{
    return &s->workers[i];
}

static inline void llmsim_set_worker(llmsim_worker_t *w, int32_t pid, unsigned state,
                                     uint64_t now_ns)
{
    atomic_store_explicit(&w->pid, pid, LLMSIM__RELAXED);
    atomic_store_explicit(&w->heartbeat_ns, now_ns, LLMSIM__RELAXED);
    llmsim_set_state(w, state);
}

static inline unsigned llmsim_worker_state(llmsim_worker_t *w)
{
    return atomic_load_explicit(&w->state, memory_order_acquire);
}

static inline int32_t llmsim_worker_pid(llmsim_worker_t *w)
{
    return atomic_load_explicit(&w->pid, LLMSIM__RELAXED);
}

static inline uint64_t llmsim_worker_heartbeat(llmsim_worker_t *w)
{
    return atomic_load_explicit(&w->heartbeat_ns, LLMSIM__RELAXED);
}

static inline void llmsim__move(_Atomic uint64_t *to, _Atomic uint64_t *from)
{
    uint64_t v = atomic_exchange_explicit(from, 0, LLMSIM__RELAXED);
    atomic_fetch_add_explicit(to, v, LLMSIM__RELAXED);
}

static inline void llmsim__move_hist(llmsim_hist_t *to, llmsim_hist_t *from)
{
    for (unsigned b = 0; b < LLMSIM_HIST_BUCKETS; b++)
        llmsim__move(&to->bucket[b], &from->bucket[b]);
    llmsim__move(&to->sum_ns, &from->sum_ns);
}

/* Move a worker block's counters and histograms into `retired` and empty the block. Only
 * for a block nobody writes any more (its process has been reaped). Gauges are dropped: a
 * dead worker holds no connections, streams or queued requests. */
static inline void llmsim__retire(llmsim_shm_t *s, llmsim_worker_t *w)
{
    llmsim_worker_t *r = &s->retired;
#define LLMSIM__MOVE_COUNTER(name) llmsim__move(&r->name, &w->name);
#define LLMSIM__CLEAR_GAUGE(name) atomic_store_explicit(&w->name, 0, LLMSIM__RELAXED);
#define LLMSIM__MOVE_HIST(name) llmsim__move_hist(&r->name, &w->name);
    LLMSIM_COUNTERS(LLMSIM__MOVE_COUNTER)
    LLMSIM_GAUGES(LLMSIM__CLEAR_GAUGE)
    LLMSIM_HISTS(LLMSIM__MOVE_HIST)
    for (unsigned i = 0; i < LLMSIM_MAX_ROUTES; i++)
        for (unsigned c = 0; c < LLMSIM_STATUS_CLASSES; c++)
            llmsim__move(&r->requests[i][c], &w->requests[i][c]);
    llmsim_set_worker(w, 0, LLMSIM_STATE_EMPTY, 0);
#undef LLMSIM__MOVE_COUNTER
#undef LLMSIM__CLEAR_GAUGE
#undef LLMSIM__MOVE_HIST
}

static inline void llmsim__fold_begin(llmsim_shm_t *s)
{
    atomic_fetch_add_explicit(&s->fold_seq, 1, LLMSIM__RELAXED);
    atomic_thread_fence(memory_order_release);
}

static inline void llmsim__fold_end(llmsim_shm_t *s)
{
    atomic_fetch_add_explicit(&s->fold_seq, 1, memory_order_release);
}

/* Empty block i for a new worker, keeping its counts in the node totals. */
static inline void llmsim_shm_reset_worker(llmsim_shm_t *s, uint32_t i)
{
    llmsim__fold_begin(s);
    llmsim__retire(s, &s->workers[i]);
    llmsim__fold_end(s);
}

/* Change the number of blocks in use (n <= LLMSIM_MAX_WORKERS); blocks dropped by a shrink
 * are retired, so their counts stay in the totals. Only after their workers have been reaped.
 * Growing keeps every count: the mapping always has room for LLMSIM_MAX_WORKERS blocks. */
static inline void llmsim_shm_resize(llmsim_shm_t *s, uint32_t n)
{
    uint32_t old = atomic_load_explicit(&s->nworkers, LLMSIM__RELAXED);
    llmsim__fold_begin(s);
    for (uint32_t i = n; i < old; i++)
        llmsim__retire(s, &s->workers[i]);
    atomic_store_explicit(&s->nworkers, n, LLMSIM__RELAXED);
    llmsim__fold_end(s);
}

static inline void llmsim_snapshot_add(llmsim_snapshot_t *d, llmsim_worker_t *w)
{
#define LLMSIM__SUM(name) d->name += atomic_load_explicit(&w->name, LLMSIM__RELAXED);
#define LLMSIM__SUM_HIST(name)                                                     \
    for (unsigned b = 0; b < LLMSIM_HIST_BUCKETS; b++)                             \
        d->name.bucket[b] += atomic_load_explicit(&w->name.bucket[b], LLMSIM__RELAXED); \
    d->name.sum_ns += atomic_load_explicit(&w->name.sum_ns, LLMSIM__RELAXED);
    LLMSIM_COUNTERS(LLMSIM__SUM)
    LLMSIM_GAUGES(LLMSIM__SUM)
    LLMSIM_HISTS(LLMSIM__SUM_HIST)
    for (unsigned i = 0; i < LLMSIM_MAX_ROUTES; i++)
        for (unsigned c = 0; c < LLMSIM_STATUS_CLASSES; c++)
            d->requests[i][c] += atomic_load_explicit(&w->requests[i][c], LLMSIM__RELAXED);
#undef LLMSIM__SUM
#undef LLMSIM__SUM_HIST
}

/* Sum the retired block and every block in use into *d. Returns 0, or -1 when the sum
 * overlapped a fold by the master and may count a retired worker twice: call again. */
static inline int llmsim_shm_snapshot(llmsim_shm_t *s, llmsim_snapshot_t *d)
{
    uint32_t seq = atomic_load_explicit(&s->fold_seq, memory_order_acquire);
    uint32_t n = atomic_load_explicit(&s->nworkers, LLMSIM__RELAXED);
    memset(d, 0, sizeof *d);
    llmsim_snapshot_add(d, &s->retired);
    for (uint32_t i = 0; i < n && i < LLMSIM_MAX_WORKERS; i++)
        llmsim_snapshot_add(d, &s->workers[i]);
    atomic_thread_fence(memory_order_acquire);
    return (seq & 1u) || atomic_load_explicit(&s->fold_seq, LLMSIM__RELAXED) != seq ? -1 : 0;
}

#endif /* LLMSIM_SHM_H */
