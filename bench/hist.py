"""Fixed-width histograms of signed nanosecond values that merge across client processes.

A client process adds millions of samples; keeping them in lists would cost more than the
measurement. Buckets are 10 µs wide from -100 ms to +1.9 s, with one underflow and one
overflow bucket; percentiles are read at bucket centres (±5 µs, far below the 1 ms
targets). Only the non-empty buckets travel between processes (as JSON).
"""
from array import array

WIDTH_NS = 10_000
LOW_NS = -100_000_000
HIGH_NS = 1_900_000_000
N = (HIGH_NS - LOW_NS) // WIDTH_NS  # regular buckets; index N is the overflow


class Histogram:
    __slots__ = ("counts", "under")

    def __init__(self):
        self.counts = array("q", bytes(8 * (N + 1)))
        self.under = 0

    def add(self, value_ns, times=1):
        i = (value_ns - LOW_NS) // WIDTH_NS
        if i < 0:
            self.under += times
        else:
            self.counts[i if i < N else N] += times

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
        """Value (ns) below which a fraction q of the samples fall; None when empty.
        -inf / +inf when it lies in the underflow / overflow bucket."""
        total = self.total()
        if not total:
            return None
        rank = q * total
        seen = self.under
        if seen >= rank and seen:
            return float("-inf")
        for i, c in enumerate(self.counts):
            seen += c
            if c and seen >= rank:
                return float("inf") if i == N else LOW_NS + i * WIDTH_NS + WIDTH_NS / 2
        return float("inf")
