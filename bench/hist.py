"""Histograms of signed nanosecond values that merge across client processes.

A client process adds millions of samples; keeping them in lists would cost more than the
measurement. Buckets are 10 µs wide from -100 ms to +100 ms and 1 ms wide from there to
60 s, with one underflow and one overflow bucket; percentiles are read at bucket centres
(±5 µs where the 1 ms targets are judged). Only non-empty buckets leave the process.
"""
from array import array

LOW_NS = -100_000_000
FINE_NS, FINE_END_NS = 10_000, 100_000_000
COARSE_NS, COARSE_END_NS = 1_000_000, 60_000_000_000
N_FINE = (FINE_END_NS - LOW_NS) // FINE_NS
N = N_FINE + (COARSE_END_NS - FINE_END_NS) // COARSE_NS  # index N is the overflow


def _index(value_ns):
    if value_ns < FINE_END_NS:
        return (value_ns - LOW_NS) // FINE_NS
    if value_ns < COARSE_END_NS:
        return N_FINE + (value_ns - FINE_END_NS) // COARSE_NS
    return N


def _centre(i):
    if i < N_FINE:
        return LOW_NS + i * FINE_NS + FINE_NS / 2
    return FINE_END_NS + (i - N_FINE) * COARSE_NS + COARSE_NS / 2


class Histogram:
    __slots__ = ("counts", "under")

    def __init__(self):
        self.counts = array("q", bytes(8 * (N + 1)))
        self.under = 0

    def add(self, value_ns, times=1):
        if LOW_NS <= value_ns < FINE_END_NS:  # the common case, inline
            self.counts[(value_ns - LOW_NS) // FINE_NS] += times
        elif value_ns < LOW_NS:
            self.under += times
        else:
            self.counts[_index(value_ns)] += times

    def total(self):
        return self.under + sum(self.counts)

    def to_json(self):
        return {"under": self.under,
                "buckets": [[i, c] for i, c in enumerate(self.counts) if c]}

    def merge_json(self, data):
        self.under += data["under"]
        for i, c in data["buckets"]:
            self.counts[i] += c

    def percentile(self, q):
        """Value (ns) below which a fraction q of the samples fall; None when empty,
        -inf / +inf when it lies in the underflow / overflow bucket."""
        total = self.total()
        if not total:
            return None
        rank = q * total
        seen = self.under
        if seen and seen >= rank:
            return float("-inf")
        for i, c in enumerate(self.counts):
            seen += c
            if c and seen >= rank:
                return float("inf") if i == N else _centre(i)
        return float("inf")
