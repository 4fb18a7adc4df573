# cython: language_level=3
"""The node-wide shared-memory segment: worker blocks, counters, histograms, runtime switches.

The master creates one `Segment` before it forks; every worker inherits the mapping. Workers
write their own block from Cython through the inline C API declared in shm.pxd; this module
is the cold side: block bookkeeping for the master, sums for /metrics, the admin switches.
"""

import logging
import os

from libc.errno cimport errno
from libc.stdint cimport uint32_t, uint64_t
from posix.mman cimport (MAP_ANONYMOUS, MAP_FAILED, MAP_SHARED, PROT_READ, PROT_WRITE,
                         mmap, munmap)

from llmsim.core.clock cimport llmsim_now_ns

log = logging.getLogger(__name__)

EMPTY = LLMSIM_STATE_EMPTY
BOOTING = LLMSIM_STATE_BOOTING
SERVING = LLMSIM_STATE_SERVING
DRAINING = LLMSIM_STATE_DRAINING
MAX_WORKERS = LLMSIM_MAX_WORKERS
MAX_ROUTES = LLMSIM_MAX_ROUTES
RATE_BUCKETS = LLMSIM_RATE_BUCKETS
RULE_COUNTERS = LLMSIM_RULE_COUNTERS
LAYOUT_VERSION = LLMSIM_SHM_VERSION
STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx", "other")
HISTOGRAMS = ("request_duration", "ttft", "itl", "e2e")
# Inclusive upper bound in ns of every histogram bucket but the last, which is +Inf.
BUCKET_UPPER_NS = tuple(llmsim_hist_upper_ns(i) for i in range(LLMSIM_HIST_INF))

# How long a reader keeps retrying a sum that overlaps the master retiring a worker block.
cdef uint64_t SNAPSHOT_PATIENCE_NS = 50_000_000


cdef dict _hist_dict(llmsim_hist_snap_t *h):
    buckets = [h.bucket[i] for i in range(LLMSIM_HIST_BUCKETS)]
    return {"buckets": buckets, "count": sum(buckets), "sum_ns": h.sum_ns}


cdef int _check_bucket(unsigned bucket) except -1:
    if bucket >= LLMSIM_RATE_BUCKETS:
        raise IndexError(f"shm: no rate bucket {bucket} (there are {LLMSIM_RATE_BUCKETS})")
    return 0


cdef int _check_counter(unsigned counter) except -1:
    if counter >= LLMSIM_RULE_COUNTERS:
        raise IndexError(f"shm: no rule counter {counter} (there are {LLMSIM_RULE_COUNTERS})")
    return 0


cdef class Segment:
    """One anonymous MAP_SHARED mapping holding a block per worker process of this node.

    `nworkers` blocks are in use (summed by snapshot()); the master gives each worker it forks
    a block of its own, and may keep more blocks than workers so that a replacement never
    shares a block with the worker it replaces. `expected_workers` is how many serving
    blocks make the node ready. Block methods raise IndexError for i outside range(nworkers).
    """

    def __cinit__(self, int nworkers):
        if not 0 < nworkers <= LLMSIM_MAX_WORKERS:
            raise ValueError(f"shm: nworkers must be in 1..{LLMSIM_MAX_WORKERS}, got {nworkers}")
        cdef void *p = mmap(NULL, sizeof(llmsim_shm_t), PROT_READ | PROT_WRITE,
                            MAP_SHARED | MAP_ANONYMOUS, -1, 0)
        if p == MAP_FAILED:
            raise OSError(errno, f"shm: mmap of {sizeof(llmsim_shm_t)} bytes: "
                                 f"{os.strerror(errno)}")
        self.hdr = <llmsim_shm_t *>p
        llmsim_shm_init(self.hdr, <uint32_t>nworkers)

    def __dealloc__(self):
        if self.hdr != NULL:
            munmap(self.hdr, sizeof(llmsim_shm_t))
            self.hdr = NULL

    @staticmethod
    def create(int nworkers):
        """Map a zeroed segment with `nworkers` blocks in use, all of them expected to serve
        until `expected_workers` says otherwise (master, before forking)."""
        return Segment(nworkers)

    cdef llmsim_worker_t *worker(self, int i) noexcept:
        """Block i for the hot path, or NULL when i is out of range."""
        if 0 <= i < <int>llmsim_shm_nworkers(self.hdr):
            return llmsim_shm_worker(self.hdr, <uint32_t>i)
        return NULL

    cdef llmsim_worker_t *_block(self, int i) except NULL:
        cdef llmsim_worker_t *w = self.worker(i)
        if w == NULL:
            raise IndexError(f"shm: no worker block {i} (nworkers={self.nworkers})")
        return w

    @property
    def nworkers(self):
        return llmsim_shm_nworkers(self.hdr)

    @property
    def version(self):
        return self.hdr.version

    def resize(self, int n):
        """Set the number of blocks in use; blocks dropped by a shrink are retired like
        reset_worker(), and growing keeps every count (room for MAX_WORKERS is mapped)."""
        if not 0 < n <= LLMSIM_MAX_WORKERS:
            raise ValueError(f"shm: nworkers must be in 1..{LLMSIM_MAX_WORKERS}, got {n}")
        llmsim_shm_resize(self.hdr, <uint32_t>n)

    def set_worker(self, int i, int pid, unsigned state):
        """Record block i's process and state; also stamps its heartbeat with now."""
        if state > LLMSIM_STATE_DRAINING:
            raise ValueError(f"shm: unknown worker state {state}")
        llmsim_set_worker(self._block(i), pid, state, llmsim_now_ns())

    def worker_state(self, int i):
        return llmsim_worker_state(self._block(i))

    def worker_pid(self, int i):
        return llmsim_worker_pid(self._block(i))

    def heartbeat(self, int i):
        """Stamp block i's heartbeat with the current monotonic time."""
        llmsim_heartbeat(self._block(i), llmsim_now_ns())

    def heartbeat_age(self, int i):
        """Seconds since block i's last heartbeat; inf if it never had one."""
        cdef uint64_t beat = llmsim_worker_heartbeat(self._block(i))
        if beat == 0:
            return float("inf")
        cdef uint64_t now = llmsim_now_ns()
        return (now - beat) / 1e9 if now > beat else 0.0

    def reset_worker(self, int i):
        """Empty block i for its next worker, keeping its counts in the node totals.

        Only once the block's process has been reaped: nothing may write it after this.
        """
        self._block(i)
        llmsim_shm_reset_worker(self.hdr, <uint32_t>i)

    def all_serving(self):
        """True when at least `expected_workers` blocks are serving (GET /ready)."""
        return bool(llmsim_shm_ready(self.hdr))

    @property
    def expected_workers(self):
        """Workers the node should have serving (the configured count)."""
        return llmsim_shm_expected_workers(self.hdr)

    @expected_workers.setter
    def expected_workers(self, int n):
        if not 0 < n <= LLMSIM_MAX_WORKERS:
            raise ValueError(f"shm: expected workers must be in 1..{LLMSIM_MAX_WORKERS}, got {n}")
        llmsim_shm_set_expected_workers(self.hdr, <uint32_t>n)

    def snapshot(self):
        """Node totals: every block in use plus the retired block, as plain Python values.

        {"requests": {(route_id, "2xx"): n, ...} (non-zero only), "bytes_in", "bytes_out",
         "parse_errors", "tokens_out", "open_connections", "open_streams", "queued": int,
         "request_duration" / "ttft" / "itl" / "e2e":
             {"buckets": [per-bucket counts, bounds in BUCKET_UPPER_NS then +Inf],
              "count": int, "sum_ns": int}}
        """
        cdef llmsim_snapshot_t snap
        cdef uint64_t deadline = llmsim_now_ns() + SNAPSHOT_PATIENCE_NS
        while llmsim_shm_snapshot(self.hdr, &snap) != 0:
            if llmsim_now_ns() > deadline:
                log.warning("shm: totals summed while a worker block was being retired; "
                            "this scrape may count one worker twice")
                break
            os.sched_yield()
        requests = {}
        cdef int route, cls
        for route in range(LLMSIM_MAX_ROUTES):
            for cls in range(LLMSIM_STATUS_CLASSES):
                if snap.requests[route][cls]:
                    requests[(route, STATUS_CLASSES[cls])] = snap.requests[route][cls]
        return {
            "requests": requests,
            "bytes_in": snap.bytes_in,
            "bytes_out": snap.bytes_out,
            "parse_errors": snap.parse_errors,
            "tokens_out": snap.tokens_out,
            "open_connections": snap.open_connections,
            "open_streams": snap.open_streams,
            "queued": snap.queued,
            "request_duration": _hist_dict(&snap.request_duration),
            "ttft": _hist_dict(&snap.ttft),
            "itl": _hist_dict(&snap.itl),
            "e2e": _hist_dict(&snap.e2e),
        }

    # Node-wide policy state (llmsim.policy, llmsim.sim.script): rate-limit buckets, the fault
    # draw sequence, the uses of scripted rules.

    def rate_take(self, unsigned bucket, uint64_t cost_ns, uint64_t window_ns):
        """Take `cost_ns` from `bucket` (capacity `window_ns`) now: (0, ns until it is full
        again) when admitted, else (ns to wait, current backlog ns) and nothing taken."""
        _check_bucket(bucket)
        cdef uint64_t backlog = 0
        cdef uint64_t wait = llmsim_rate_take(self.hdr, bucket, llmsim_now_ns(), cost_ns,
                                              window_ns, &backlog)
        return wait, backlog

    def rate_refund(self, unsigned bucket, uint64_t cost_ns):
        """Give back `cost_ns` that rate_take admitted from `bucket`."""
        _check_bucket(bucket)
        llmsim_rate_refund(self.hdr, bucket, cost_ns)

    def rate_backlog(self, unsigned bucket):
        """The ns until `bucket` is full again (0: full now); takes nothing."""
        _check_bucket(bucket)
        return llmsim_rate_backlog(self.hdr, bucket, llmsim_now_ns())

    def rate_reset(self, unsigned first, unsigned count):
        """Empty buckets first..first+count-1 (full budgets); only while no worker uses them."""
        if count:
            _check_bucket(first + count - 1)
        llmsim_rate_reset(self.hdr, first, count)

    def next_fault_draw(self):
        """The next number of this node's sequence of fault draws (0, 1, 2, ...)."""
        return llmsim_fault_seq(self.hdr)

    def rule_use(self, unsigned counter, uint64_t times):
        """Take one use of a rule allowed `times` uses, counted in `counter`: True when
        granted (fewer than `times` taken before on this node), else False."""
        _check_counter(counter)
        return llmsim_rule_use(self.hdr, counter, times) != 0

    def rule_reset(self, unsigned first, unsigned count):
        """Zero rule counters first..first+count-1; only while no worker uses them."""
        if count:
            _check_counter(first + count - 1)
        llmsim_rule_reset(self.hdr, first, count)

    # Runtime switches, flipped by admin endpoints and seen by every worker at once.

    @property
    def chaos_enabled(self):
        return bool(llmsim_chaos_enabled(self.hdr))

    @chaos_enabled.setter
    def chaos_enabled(self, bint on):
        llmsim_set_chaos_enabled(self.hdr, on)

    @property
    def chaos_rate_ppm(self):
        return llmsim_chaos_rate_ppm(self.hdr)

    @chaos_rate_ppm.setter
    def chaos_rate_ppm(self, int ppm):
        if not 0 <= ppm <= 1_000_000:
            raise ValueError(f"shm: chaos rate must be in 0..1000000 ppm, got {ppm}")
        llmsim_set_chaos_rate_ppm(self.hdr, <uint32_t>ppm)

    @property
    def latency_multiplier(self):
        """Factor applied to simulated latencies (1.0 = as configured), 1/1000 resolution."""
        return llmsim_latency_multiplier_milli(self.hdr) / 1000

    @latency_multiplier.setter
    def latency_multiplier(self, double factor):
        if not 0.0 <= factor <= 1_000_000.0:
            raise ValueError(f"shm: latency multiplier must be in 0..1000000, got {factor}")
        llmsim_set_latency_multiplier_milli(self.hdr, <uint32_t>(factor * 1000 + 0.5))

    @property
    def config_generation(self):
        return llmsim_config_generation(self.hdr)

    @config_generation.setter
    def config_generation(self, uint64_t generation):
        llmsim_set_config_generation(self.hdr, generation)
