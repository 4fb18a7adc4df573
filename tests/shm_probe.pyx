# cython: language_level=3
"""Test probe: drives a worker block through shm.pxd from Cython, as the connection code does.

Built by tests/test_shm.py against the repository's csrc/ and .pxd files.
"""
from llmsim.core.shm cimport (
    Segment, llmsim_worker_t, llmsim_hist_t, llmsim_count_request, llmsim_observe,
    llmsim_add_bytes_in, llmsim_add_bytes_out, llmsim_add_tokens, llmsim_parse_error,
    llmsim_conn_opened, llmsim_conn_closed, llmsim_stream_opened, llmsim_stream_closed,
    llmsim_queued_inc, llmsim_queued_dec, llmsim_set_state, llmsim_hist_index,
    llmsim_chaos_enabled, llmsim_chaos_rate_ppm, llmsim_latency_multiplier_milli,
    llmsim_config_generation)


cdef llmsim_worker_t *block(Segment seg, int slot) except NULL:
    cdef llmsim_worker_t *w = seg.worker(slot)
    if w == NULL:
        raise IndexError(slot)
    return w


def count_requests(Segment seg, int slot, int n, unsigned route, int status,
                   unsigned long long duration_ns):
    cdef llmsim_worker_t *w = block(seg, slot)
    for _ in range(n):
        llmsim_count_request(w, route, status, duration_ns)


def observe(Segment seg, int slot, str name, unsigned long long ns):
    cdef llmsim_worker_t *w = block(seg, slot)
    cdef llmsim_hist_t *h
    if name == "request_duration":
        h = &w.request_duration
    elif name == "ttft":
        h = &w.ttft
    elif name == "itl":
        h = &w.itl
    elif name == "e2e":
        h = &w.e2e
    else:
        raise KeyError(name)
    llmsim_observe(h, ns)


def traffic(Segment seg, int slot, int rounds):
    """Each round: 1 connection opened and kept, 1 opened and closed, 100 bytes in, 1000 out,
    1 parse error, 1 stream opened and kept, 7 tokens, 1 request queued and dequeued."""
    cdef llmsim_worker_t *w = block(seg, slot)
    for _ in range(rounds):
        llmsim_conn_opened(w)
        llmsim_conn_opened(w)
        llmsim_conn_closed(w)
        llmsim_add_bytes_in(w, 100)
        llmsim_add_bytes_out(w, 1000)
        llmsim_parse_error(w)
        llmsim_stream_opened(w)
        llmsim_stream_opened(w)
        llmsim_stream_closed(w)
        llmsim_add_tokens(w, 7)
        llmsim_queued_inc(w)
        llmsim_queued_inc(w)
        llmsim_queued_dec(w)
        llmsim_queued_dec(w)


def set_state(Segment seg, int slot, unsigned state):
    llmsim_set_state(block(seg, slot), state)


def hist_index(unsigned long long ns):
    return llmsim_hist_index(ns)


def switches(Segment seg):
    """The runtime switches as the hot path reads them."""
    return (llmsim_chaos_enabled(seg.hdr), llmsim_chaos_rate_ppm(seg.hdr),
            llmsim_latency_multiplier_milli(seg.hdr), llmsim_config_generation(seg.hdr))
