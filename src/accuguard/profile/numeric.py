"""The mergeable profile of one numeric column.

Counts (rows, nulls, NaN, ±inf), the finite minimum and maximum, Chan's mergeable mean
and sum of squared deviations, and the finite values themselves: exactly, as a tuple of
float64 chunks, while there are at most ``exact_limit`` of them, then as a KLL quantile
sketch (:mod:`accuguard.profile.sketch`), the exact values being dropped. Merging is
``a + b``; adding chunk profiles in any order gives the same counts and moments (to
rounding) and the same multiset of exact values.

Drift and distance statistics use the *finite* values only; NaN and ±inf are reported as
data-quality counts instead.
"""

from __future__ import annotations

import ctypes
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from accuguard.profile import _buffers
from accuguard.profile.sketch import QuantileSketch
from accuguard.stats.distances import quantiles_sorted

FloatArray = npt.NDArray[np.float64]
DEFAULT_EXACT_LIMIT = 10_000_000


def _malloc_trim() -> Any:
    try:
        return ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):  # not glibc (macOS, musl, Windows): nothing to do
        return None


_MALLOC_TRIM = _malloc_trim()
_TRIM_BYTES = 64 << 20


def return_free_memory() -> None:
    """Give freed heap pages back to the OS (glibc ``malloc_trim``; a no-op elsewhere).

    The chunk copies are a few MB each, so glibc serves them from its heap and keeps their
    pages after they are freed; without this, sorting a long column (>= 64 MB of values)
    would briefly hold its values twice in resident memory. Shorter columns skip it: the
    kept pages are reused by the next chunks, and fresh pages are slow on some VMs.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _sum_of_squares(dev: FloatArray) -> float:
    """``sum(dev**2)`` by pairwise summation, overwriting ``dev``.

    Not ``np.dot``/``np.vecdot``: those call multi-threaded OpenBLAS, whose threads spin
    against the profiling threads (tens of ms per call on a busy 2-core machine instead of
    a fraction of one) and whose result depends on the BLAS thread count.
    """
    np.square(dev, out=dev)
    return float(np.sum(dev))


@dataclass(frozen=True)
class _ExactSummary:
    """Sorted exact values seen as a quantile summary with zero rank error."""

    values: FloatArray

    @property
    def n(self) -> int:
        return int(self.values.size)

    @property
    def rank_error(self) -> float:
        return 0.0

    def items(self) -> tuple[FloatArray, FloatArray]:
        return self.values, np.ones(self.values.size)


def to_float64(array: pa.Array) -> FloatArray:
    """Non-null values of an Arrow numeric array as float64.

    Integers, floats, decimals and booleans are cast (large integers round to the nearest
    double); timestamps, dates, times and durations become their integer ticks. Reads the
    Arrow buffers directly (``to_numpy`` would import pandas).

    >>> to_float64(pa.array([1, None, 2], pa.int32())).tolist()
    [1.0, 2.0]
    """
    t = array.type
    if pa.types.is_dictionary(t):
        return to_float64(array.dictionary_decode())
    if pa.types.is_temporal(t):
        array = array.view(pa.int64() if t.bit_width == 64 else pa.int32())
    elif not (
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_decimal(t)
        or pa.types.is_boolean(t)
    ):
        raise ValueError(f"cannot profile an Arrow column of type {t} as numeric")
    if not pa.types.is_float64(array.type):
        array = pc.cast(array, pa.float64(), safe=False)
    x: FloatArray = _buffers.values(array)  # type: ignore[assignment]
    valid = _buffers.validity(array)
    return x if valid is None else x[valid]


def _merged_stats(a: NumericColumnProfile, b: NumericColumnProfile) -> dict[str, Any]:
    """Counts, extremes and Chan's merged mean and m2 of ``a + b`` (one code path for both
    ``+`` and :meth:`NumericColumnProfile.merge_shards`, so their rounding is the same)."""
    n = a.count + b.count
    if a.count == 0 or b.count == 0:
        src = b if a.count == 0 else a
        mean, m2, lo, hi = src.mean, src.m2, src.min, src.max
    else:
        delta = b.mean - a.mean
        mean = a.mean + delta * (b.count / n)
        m2 = a.m2 + b.m2 + delta * delta * (a.count * b.count / n)
        lo, hi = min(a.min, b.min), max(a.max, b.max)
    return {
        "rows": a.rows + b.rows,
        "nulls": a.nulls + b.nulls,
        "nans": a.nans + b.nans,
        "pos_inf": a.pos_inf + b.pos_inf,
        "neg_inf": a.neg_inf + b.neg_inf,
        "count": n,
        "min": lo,
        "max": hi,
        "mean": mean,
        "m2": m2,
    }


@dataclass(frozen=True, eq=False)
class NumericColumnProfile:
    """Sufficient statistics of a numeric column; merge with ``+``.

    ``count`` is the number of finite values; ``min``/``max``/``mean``/``m2`` are over them
    (NaN when there are none). ``values`` holds them exactly (unsorted chunks) while
    ``count <= exact_limit``; beyond, ``sketch`` holds a KLL sketch and ``values`` is empty.

    >>> p = NumericColumnProfile.from_array(np.array([3.0, 1.0, np.nan]))
    >>> p2 = p + NumericColumnProfile.from_array(np.array([2.0, np.inf]))
    >>> (p2.rows, p2.count, p2.nans, p2.pos_inf, p2.mean, p2.sorted_values().tolist())
    (5, 3, 1, 1, 2.0, [1.0, 2.0, 3.0])
    """

    rows: int = 0
    nulls: int = 0
    nans: int = 0
    pos_inf: int = 0
    neg_inf: int = 0
    count: int = 0
    min: float = math.nan
    max: float = math.nan
    mean: float = math.nan
    m2: float = math.nan
    values: tuple[FloatArray, ...] = ()
    sketch: QuantileSketch | None = None
    exact_limit: int = DEFAULT_EXACT_LIMIT
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_array(
        cls,
        values: FloatArray,
        exact_limit: int = DEFAULT_EXACT_LIMIT,
        nulls: int = 0,
        *,
        copy: bool = True,
    ) -> NumericColumnProfile:
        """Profile a 1-D array of numbers (NaN and ±inf are counted, not kept).

        ``nulls`` adds missing entries that are not in ``values`` (Arrow nulls). The finite
        values are copied (not sorted: :meth:`sorted_values` sorts all chunks at once, which
        is cheaper than sorting each and merging) unless ``copy=False`` (safe only for
        read-only buffers).
        """
        if exact_limit < 0:
            raise ValueError(f"exact_limit must be >= 0; got {exact_limit}")
        if nulls < 0:
            raise ValueError(f"nulls must be >= 0; got {nulls}")
        x = np.asarray(values, dtype=np.float64)
        if x.ndim != 1:
            raise ValueError(f"values must be 1-D; got shape {x.shape}")
        lo = hi = mean = m2 = math.nan
        if x.size:  # NaN propagates through min and max: both finite means all finite
            lo, hi = float(x.min()), float(x.max())
        if not x.size or (math.isfinite(lo) and math.isfinite(hi)):
            kept, nans, pos_inf, neg_inf = (x.copy() if copy else x), 0, 0, 0
        else:
            kept = x[np.isfinite(x)]
            nans = int(np.count_nonzero(np.isnan(x)))
            pos_inf = int(np.count_nonzero(x == np.inf))
            neg_inf = int(np.count_nonzero(x == -np.inf))
            lo, hi = (float(kept.min()), float(kept.max())) if kept.size else (math.nan, math.nan)
        n = int(kept.size)
        if n:
            mean = float(kept.mean())
            m2 = _sum_of_squares(kept - mean)
        exact = n <= exact_limit
        return cls(
            rows=int(x.size) + nulls,
            nulls=nulls,
            nans=nans,
            pos_inf=pos_inf,
            neg_inf=neg_inf,
            count=n,
            min=lo,
            max=hi,
            mean=mean,
            m2=m2,
            values=(kept,) if exact and n else (),
            sketch=None if exact else QuantileSketch.from_array(kept),
            exact_limit=exact_limit,
        )

    @classmethod
    def from_arrow(
        cls, array: pa.Array | pa.ChunkedArray, exact_limit: int = DEFAULT_EXACT_LIMIT
    ) -> NumericColumnProfile:
        """Profile an Arrow numeric (or temporal, decimal, boolean) array or chunked array."""
        if isinstance(array, pa.ChunkedArray):
            total = cls(exact_limit=exact_limit)
            for chunk in array.chunks:
                total = total + cls.from_arrow(chunk, exact_limit)
            return total
        return cls.from_array(to_float64(array), exact_limit, int(array.null_count))

    def header(self) -> NumericColumnProfile:
        """The counts and moments alone (no values, no sketch): a few numbers to send between
        processes; :meth:`merge_shards` puts headers and values back together."""
        return replace(self, values=(), sketch=None, _cache={})

    @classmethod
    def merge_shards(
        cls,
        headers: Sequence[NumericColumnProfile],
        values: Sequence[FloatArray],
        sketches: Sequence[QuantileSketch],
        exact_limit: int = DEFAULT_EXACT_LIMIT,
    ) -> NumericColumnProfile:
        """The profile ``p1 + p2 + ...`` (left to right) of chunk profiles sent in parts.

        ``headers`` are the chunks' :meth:`header` in order, ``values`` their exact value
        arrays in order, ``sketches`` sketches of the chunks whose values were sketched.
        Counts and moments are folded with the arithmetic of ``+`` in the same order, so
        they are bit-identical to adding the chunk profiles; with no sketch and at most
        ``exact_limit`` values the values are exactly those of the sum, else a sketch of
        all of them (KLL is randomised: equal to the sum's within its error bound).
        """
        total = cls(exact_limit=exact_limit)
        for h in headers:
            total = replace(total, **_merged_stats(total, h))
        if not sketches and total.count <= exact_limit:
            return replace(total, values=tuple(v for v in values if v.size), _cache={})
        sketch = QuantileSketch.from_array(np.empty(0)).updated(*values)
        for other in sketches:
            sketch = sketch + other
        return replace(total, sketch=sketch, _cache={})

    def __add__(self, other: NumericColumnProfile) -> NumericColumnProfile:
        if not isinstance(other, NumericColumnProfile):
            return NotImplemented
        a, b = self, other
        n = a.count + b.count
        limit = min(a.exact_limit, b.exact_limit)
        values: tuple[FloatArray, ...] = ()
        sketch: QuantileSketch | None = None
        if a.sketch is None and b.sketch is None and n <= limit:
            values = a.values + b.values
        elif a.sketch is not None and b.sketch is not None:
            sketch = a.sketch + b.sketch
        elif a.sketch is not None:
            sketch = a.sketch.updated(*b.values)
        elif b.sketch is not None:
            sketch = b.sketch.updated(*a.values)
        else:
            sketch = QuantileSketch.from_array(np.empty(0)).updated(*a.values, *b.values)
        return NumericColumnProfile(
            **_merged_stats(a, b), values=values, sketch=sketch, exact_limit=limit
        )

    def __getstate__(self) -> dict[str, Any]:
        """Pickle everything but the cache (it may hold a lock), e.g. to merge Ray shards."""
        state = dict(self.__dict__)
        state["_cache"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            object.__setattr__(self, key, value)

    @property
    def is_exact(self) -> bool:
        """True while the exact values are kept (no sketch)."""
        return self.sketch is None

    @property
    def infs(self) -> int:
        """Number of +inf and -inf values."""
        return self.pos_inf + self.neg_inf

    @property
    def missing(self) -> int:
        """Nulls plus NaN."""
        return self.nulls + self.nans

    @property
    def variance(self) -> float:
        """Population variance (ddof=0) of the finite values; NaN when there are none."""
        return self.m2 / self.count if self.count else math.nan

    @property
    def std(self) -> float:
        """Population standard deviation (``np.std``, ddof=0) of the finite values."""
        return math.sqrt(max(self.variance, 0.0)) if self.count else math.nan

    def sorted_values(self) -> FloatArray:
        """All finite values, sorted (computed once, then cached; thread-safe).

        The chunks are copied one by one into a single array, each released as soon as it
        is copied, and that array is sorted in place (NumPy's SIMD quicksort: equal values
        compare equal, so a stable sort would give the same statistics): peak memory is the
        values plus one chunk, not twice the values. The profile then holds the sorted array
        instead of the chunks (the same multiset). Raises ``ValueError`` when the profile
        holds a sketch instead of exact values.
        """
        if self.sketch is not None:
            raise ValueError(
                f"exact values were dropped after {self.exact_limit} values (count "
                f"{self.count}); use quantiles(), rank() or histogram() instead"
            )
        with self._cache.setdefault("lock", threading.Lock()):
            cached: FloatArray | None = self._cache.get("sorted")
            if cached is None:
                cached = np.empty(sum(v.size for v in self.values), dtype=np.float64)
                chunks = list(self.values)
                object.__setattr__(self, "values", ())
                position = 0
                for i, chunk in enumerate(chunks):
                    cached[position : position + chunk.size] = chunk
                    position += chunk.size
                    chunks[i] = cached[:0]  # drop the reference: the chunk can be freed now
                del chunks
                if cached.nbytes >= _TRIM_BYTES:
                    return_free_memory()
                cached.sort()
                object.__setattr__(self, "values", (cached,) if cached.size else ())
                self._cache["sorted"] = cached
            return cached

    def summary(self) -> Any:
        """The values as an :class:`accuguard.stats.drift.QuantileSummary` (sketch or exact)."""
        return self.sketch if self.sketch is not None else _ExactSummary(self.sorted_values())

    def rank(self, points: FloatArray, inclusive: bool = True) -> FloatArray:
        """Number of finite values ``<= points`` (``< points`` if not ``inclusive``);
        estimated from the sketch when there is one."""
        pts = np.asarray(points, dtype=np.float64)
        if self.sketch is not None:
            return self.sketch.rank(pts, inclusive)
        idx = np.searchsorted(self.sorted_values(), pts, side="right" if inclusive else "left")
        out: FloatArray = idx.astype(np.float64)
        return out

    def histogram(self, edges: FloatArray) -> FloatArray:
        """Counts per bin like ``np.histogram(finite_values, edges)[0]``: bins ``[e_i, e_i+1)``,
        the last one closed; values outside ``[edges[0], edges[-1]]`` are not counted.
        Exact (integral) for exact profiles, estimated from the sketch otherwise."""
        e = np.asarray(edges, dtype=np.float64)
        if e.ndim != 1 or e.size < 2 or bool(np.any(e[1:] < e[:-1])):
            raise ValueError(f"edges must be 1-D, ascending, at least 2; got {e.tolist()[:10]}")
        below = self.rank(e[:-1], inclusive=False)
        upto_last = self.rank(e[-1:], inclusive=True)
        return np.diff(np.concatenate([below, upto_last]))

    def quantiles(self, qs: FloatArray) -> FloatArray:
        """Quantiles of the finite values: ``np.quantile`` (linear) when exact, the sketch's
        estimate otherwise; NaN when there are no finite values."""
        q = np.asarray(qs, dtype=np.float64)
        if self.sketch is not None:
            return self.sketch.quantiles(q)
        return quantiles_sorted(self.sorted_values(), q)

    def count_outside(self, lo: float, hi: float) -> int:
        """Number of finite values ``< lo`` or ``> hi`` (estimated when sketched; exactly 0
        whenever ``[min, max]`` lies inside ``[lo, hi]``)."""
        if self.count == 0 or (self.min >= lo and self.max <= hi):
            return 0
        if self.sketch is not None:
            below = self.sketch.rank(np.array([lo]), inclusive=False)[0]
            above = self.count - self.sketch.rank(np.array([hi]), inclusive=True)[0]
            return int(np.rint(below + above))
        cached: FloatArray | None = self._cache.get("sorted")
        if cached is not None:
            below_i = int(np.searchsorted(cached, lo, side="left"))
            return below_i + cached.size - int(np.searchsorted(cached, hi, side="right"))
        return sum(int(np.count_nonzero((v < lo) | (v > hi))) for v in self.values)
