"""A sorted sample held only at the ranks a gate reads: exact, in bounded memory.

A latency gate needs the 95th percentile and a distribution-free interval for it; the
evidence summary needs p50, p95 and p99. Those are a few *order statistics* (the k-th
smallest values), so :class:`OrderStatistics` keeps the sample size, the mean and the
values at chosen 1-based ranks only, computed in SQL
(:mod:`accuguard.rollout.aggregates`) instead of loading the window into Python.

Which ranks: the whole sample when it is small (at most :data:`FULL_SAMPLE` values),
otherwise, for each quantile in :data:`QUANTILES`, every rank its interval can use at any
confidence up to :data:`MAX_CONFIDENCE` (see :func:`held_ranges`). Quantiles and
intervals read from it are then **exactly** those of the full sorted array (same float
operations as ``numpy.quantile``); an interval at a confidence above
:data:`MAX_CONFIDENCE` uses ``-inf`` / ``+inf`` for a bound it does not hold, which can
only make a gate more cautious (inconclusive), never pass or fail it wrongly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

FULL_SAMPLE = 20_000
"""Samples up to this size are held whole (160 KB)."""
QUANTILES = (0.5, 0.95, 0.99)
"""Quantiles whose neighbourhood is held: the summary's p50/p95/p99 and the latency gate."""
MAX_CONFIDENCE = 0.999999
"""Intervals of the held quantiles are exact at any confidence up to this one."""


def quantile_ranks(n: int, q: float) -> tuple[int, int]:
    """The two 1-based ranks ``numpy.quantile(x, q)`` interpolates between (``n >= 1``)."""
    v = (n - 1) * q
    if v >= n - 1:
        return n, n
    below = math.floor(v)
    return below + 1, below + 2


def interval_ranks(n: int, q: float, confidence: float) -> tuple[int, int]:
    """The 1-based ranks ``(r, s)`` of the order-statistic interval of quantile ``q``.

    ``r = F^-1(a/2)`` and ``s = F^-1(1 - a/2) + 1`` for ``F`` the Binomial(n, q) CDF and
    ``a = 1 - confidence`` (Conover 1999, 3.2); ``r < 1`` or ``s > n`` mean the bound is
    beyond the sample.
    """
    a = 1.0 - confidence
    return int(sps.binom.ppf(a / 2, n, q)), int(sps.binom.ppf(1 - a / 2, n, q)) + 1


def held_ranges(n: int, full: int = FULL_SAMPLE) -> list[tuple[int, int]]:
    """The inclusive 1-based rank ranges to fetch for a sample of ``n`` values, merged."""
    if n <= 0:
        return []
    if n <= full:
        return [(1, n)]
    spans = []
    for q in QUANTILES:
        lo, hi = interval_ranks(n, q, MAX_CONFIDENCE)
        a, b = quantile_ranks(n, q)
        spans.append((max(1, min(lo, a)), min(n, max(hi, b))))
    spans.sort()
    merged = [spans[0]]
    for lo, hi in spans[1:]:
        if lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


@dataclass(frozen=True)
class OrderStatistics:
    """``n`` finite values, their mean, and their sorted values at ``ranks`` (1-based).

    >>> s = OrderStatistics.of_sorted(np.array([1.0, 2.0, 4.0, 8.0]))
    >>> s.size, s.quantile(0.5), s.at(4), s.complete
    (4, 3.0, 8.0, True)
    """

    n: int
    mean: float | None
    ranks: IntArray
    values: FloatArray

    @classmethod
    def empty(cls) -> OrderStatistics:
        """No values."""
        return cls(0, None, np.empty(0, dtype=np.int64), np.empty(0))

    @classmethod
    def of_sorted(cls, values: FloatArray) -> OrderStatistics:
        """Every rank of a sorted, finite array (no copy)."""
        arr = np.asarray(values, dtype=np.float64)
        mean = float(arr.mean()) if arr.size else None
        return cls(int(arr.size), mean, np.arange(1, arr.size + 1, dtype=np.int64), arr)

    @property
    def size(self) -> int:
        """Number of values in the sample (not only the held ones)."""
        return self.n

    @property
    def complete(self) -> bool:
        """True when every rank is held (the sample is the whole sorted array)."""
        return self.ranks.size == self.n

    def __array__(self, dtype: Any = None, copy: Any = None) -> FloatArray:
        """The whole sorted sample; only when :attr:`complete`."""
        if not self.complete:
            raise ValueError(f"only {self.ranks.size} of {self.n} order statistics are held")
        return self.values if dtype is None else self.values.astype(dtype)

    def at(self, rank: int) -> float | None:
        """The ``rank``-th smallest value (1-based), or ``None`` when it is not held."""
        i = int(np.searchsorted(self.ranks, rank))
        if i < self.ranks.size and int(self.ranks[i]) == rank:
            return float(self.values[i])
        return None

    def quantile(self, q: float) -> float:
        """``numpy.quantile(sample, q)`` (linear), bit for bit; NaN when empty.

        Raises ``KeyError`` when a rank it needs is not held.
        """
        if self.n == 0:
            return math.nan
        lo_rank, hi_rank = quantile_ranks(self.n, q)
        a, b = self.at(lo_rank), self.at(hi_rank)
        if a is None or b is None:
            raise KeyError(f"quantile {q} of {self.n} values: ranks {lo_rank}-{hi_rank} not held")
        if lo_rank == hi_rank:
            return a
        v = (self.n - 1) * q
        gamma = v - math.floor(v)
        diff = b - a
        # numpy's _lerp: the formula from the nearer end, for monotonicity
        return b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma

    def quantile_interval(self, q: float, confidence: float) -> tuple[float, float, float]:
        """Quantile ``q`` and its order-statistic interval (see ``quantile_interval``).

        A bound beyond the sample, or at a rank not held, is ``-inf`` / ``+inf``.
        """
        if self.n == 0:
            return math.nan, math.nan, math.nan
        r, s = interval_ranks(self.n, q, confidence)
        lo = self.at(r) if r >= 1 else None
        hi = self.at(s) if s <= self.n else None
        return (
            self.quantile(q),
            -math.inf if lo is None else lo,
            math.inf if hi is None else hi,
        )
