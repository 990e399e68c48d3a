"""Distribution distances used as drift effect sizes: PSI, normed Wasserstein, Jensen-Shannon.

Pure functions over fractions, counts or *sorted* samples. Sorted inputs let every
statistic of a column share one sort: bin counts are ``np.searchsorted`` of the bin edges
into the sorted sample (a handful of binary searches, no pass over the data).

Conventions, chosen to match the tools users compare against:

- PSI bins numeric data at the reference deciles (credit-scoring practice, Siddiqi 2006);
  empty bins are floored at ``eps`` so the logarithm is finite.
- The normed Wasserstein distance is Evidently's: ``wasserstein_distance(ref, cur) /
  max(np.std(ref), 0.001)`` (population standard deviation).
- The Jensen-Shannon *distance* is ``scipy.spatial.distance.jensenshannon`` with the
  natural logarithm (Evidently's current default, ``base=None``), so it lies in
  ``[0, sqrt(ln 2)] = [0, 0.8326]``. Numeric data are binned like Evidently: Sturges bins
  over reference and current together when the reference has more than 20 distinct
  values, otherwise one bin per distinct value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from accuguard.stats.ecdf import ecdf_distances

FloatArray = npt.NDArray[np.float64]
PSI_EPS = 1e-4
WASSERSTEIN_STD_FLOOR = 0.001
JS_DISTINCT_LIMIT = 20

__all__ = [
    "PSI_EPS",
    "WASSERSTEIN_STD_FLOOR",
    "counts_to_fractions",
    "histogram_sorted",
    "jensen_shannon",
    "jensen_shannon_categorical",
    "jensen_shannon_numeric",
    "psi",
    "psi_categorical",
    "psi_numeric",
    "quantiles_sorted",
    "sturges_edges",
    "wasserstein_normed",
]


def _fractions_pair(
    ref: Sequence[float] | FloatArray,
    cur: Sequence[float] | FloatArray,
) -> tuple[FloatArray, FloatArray]:
    r = np.asarray(ref, dtype=np.float64)
    c = np.asarray(cur, dtype=np.float64)
    if r.ndim != 1 or c.ndim != 1 or r.shape != c.shape:
        raise ValueError(
            f"ref_fractions and cur_fractions must be 1-D of equal length; got shapes "
            f"{r.shape} and {c.shape}"
        )
    for name, arr in (("ref_fractions", r), ("cur_fractions", c)):
        if not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise ValueError(f"{name} must be finite and non-negative; got {arr.tolist()[:10]}")
    return r, c


def counts_to_fractions(counts: Sequence[float] | FloatArray) -> FloatArray:
    """Counts divided by their total; NaN everywhere when the total is 0.

    >>> counts_to_fractions([1, 3]).tolist()
    [0.25, 0.75]
    """
    arr = np.asarray(counts, dtype=np.float64)
    total = float(arr.sum())
    if total <= 0:
        return np.full(arr.shape, math.nan)
    return arr / total


def psi(
    ref_fractions: Sequence[float] | FloatArray,
    cur_fractions: Sequence[float] | FloatArray,
    eps: float = PSI_EPS,
) -> float:
    """Population Stability Index ``sum((c - r) * ln(c / r))`` over matching bins.

    Each fraction below ``eps`` (typically an empty bin) is raised to ``eps`` first, so the
    logarithm stays finite; the fractions are not renormalised afterwards. PSI is a
    symmetrised Kullback-Leibler divergence, >= 0. Rule of thumb (Siddiqi 2006,
    *Credit Risk Scorecards*; Yurdakul 2018, *Statistical properties of the population
    stability index*): < 0.1 no significant change, 0.1-0.25 moderate, > 0.25 major.
    Empty input (no bins) gives 0.0.

    >>> round(psi([0.5, 0.5], [0.4, 0.6]), 6)
    0.040547
    >>> psi([1.0, 0.0], [1.0, 0.0])
    0.0
    """
    if not eps > 0:
        raise ValueError(f"eps must be > 0; got {eps}")
    r, c = _fractions_pair(ref_fractions, cur_fractions)
    r = np.maximum(r, eps)
    c = np.maximum(c, eps)
    return float(np.sum((c - r) * np.log(c / r)))


def quantiles_sorted(values_sorted: FloatArray, qs: Sequence[float] | FloatArray) -> FloatArray:
    """``np.quantile(values, qs)`` (linear interpolation) of an already sorted array, in O(len(qs)).

    Uses numpy's interpolation formula, so the result equals ``np.quantile`` bit for bit.
    Empty input gives NaN.

    >>> quantiles_sorted(np.array([1.0, 2.0, 3.0, 4.0]), [0.5, 0.25]).tolist()
    [2.5, 1.75]
    """
    q = np.asarray(qs, dtype=np.float64)
    if np.any((q < 0) | (q > 1)) or not np.all(np.isfinite(q)):
        raise ValueError(f"qs must be in [0, 1]; got {q.tolist()}")
    n = values_sorted.size
    if n == 0:
        return np.full(q.shape, math.nan)
    virtual = q * (n - 1)
    lo = np.floor(virtual)
    gamma = virtual - lo
    lo_i = lo.astype(np.intp)
    hi_i = np.minimum(lo_i + 1, n - 1)
    a = values_sorted[lo_i]
    b = values_sorted[hi_i]
    diff = b - a
    out: FloatArray = np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)
    return out


def histogram_sorted(values_sorted: FloatArray, edges: FloatArray) -> npt.NDArray[np.int64]:
    """``np.histogram(values, edges)[0]`` of a sorted array: bins ``[e_i, e_i+1)``, last closed.

    >>> histogram_sorted(np.array([0.0, 0.5, 1.0, 2.0]), np.array([0.0, 1.0, 2.0])).tolist()
    [2, 2]
    """
    left = np.searchsorted(values_sorted, edges[:-1], side="left")
    right = np.searchsorted(values_sorted, edges[-1:], side="right")
    return np.diff(np.concatenate([left, right])).astype(np.int64)


def sturges_edges(lo: float, hi: float, n: int) -> FloatArray:
    """``np.histogram_bin_edges(data, bins="sturges")`` from the data's min, max and size.

    Width ``(hi - lo) / (log2(n) + 1)``, ``ceil((hi - lo) / width)`` equal bins (Sturges
    1926). ``lo == hi`` gives the one bin ``[lo - 0.5, lo + 0.5]``, like numpy. If the range
    is too narrow for that many distinct float edges, duplicate edges are dropped (numpy
    raises instead).

    >>> sturges_edges(0.0, 1.0, 8).tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    if n < 1 or not (math.isfinite(lo) and math.isfinite(hi)) or hi < lo:
        raise ValueError(f"need n >= 1 and finite lo <= hi; got lo={lo}, hi={hi}, n={n}")
    first, last = (lo - 0.5, hi + 0.5) if lo == hi else (lo, hi)
    width = (hi - lo) / (np.log2(n) + 1.0)
    bins = int(np.ceil((last - first) / width)) if width else 1
    edges = np.linspace(first, last, bins + 1, endpoint=True, dtype=np.float64)
    if np.any(edges[:-1] >= edges[1:]):
        edges = np.unique(edges)
    return edges


def _distinct_sorted(values_sorted: FloatArray) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    if values_sorted.size == 0:
        return values_sorted[:0], np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate([[True], values_sorted[1:] != values_sorted[:-1]]))
    counts = np.diff(np.append(starts, values_sorted.size)).astype(np.int64)
    return values_sorted[starts], counts


def _more_distinct_than(values_sorted: FloatArray, limit: int) -> bool:
    """Whether a sorted array has more than ``limit`` distinct values, in O(limit log n)."""
    position = 0
    for _ in range(limit):
        position = int(np.searchsorted(values_sorted, values_sorted[position], side="right"))
        if position >= values_sorted.size:
            return False
    return True


def psi_numeric(
    ref_sorted: FloatArray, cur_sorted: FloatArray, bins: int = 10, eps: float = PSI_EPS
) -> float:
    """PSI over bins cut at the reference quantiles (deciles for ``bins=10``).

    Edges are ``np.quantile(ref, [1/bins, ..., (bins-1)/bins])`` (duplicates merged); bins
    are ``(-inf, e1], (e1, e2], ..., (e_last, inf)``, so every value of both samples falls
    in a bin. Inputs must be sorted and NaN-free; either sample empty gives NaN.

    >>> ref = np.sort(np.random.default_rng(0).normal(size=1000))
    >>> round(psi_numeric(ref, ref), 6)
    0.0
    """
    if bins < 2:
        raise ValueError(f"bins must be >= 2; got {bins}")
    if ref_sorted.size == 0 or cur_sorted.size == 0:
        return math.nan
    edges = np.unique(quantiles_sorted(ref_sorted, np.arange(1, bins) / bins))
    r = np.diff(np.searchsorted(ref_sorted, edges, side="right"), prepend=0, append=ref_sorted.size)
    c = np.diff(np.searchsorted(cur_sorted, edges, side="right"), prepend=0, append=cur_sorted.size)
    return psi(r / ref_sorted.size, c / cur_sorted.size, eps)


def _aligned_counts(
    ref_counts: Mapping[str, int],
    cur_counts: Mapping[str, int],
) -> tuple[list[str], FloatArray, FloatArray]:
    keys = sorted(set(ref_counts) | set(cur_counts))
    r = np.array([ref_counts.get(k, 0) for k in keys], dtype=np.float64)
    c = np.array([cur_counts.get(k, 0) for k in keys], dtype=np.float64)
    if np.any(r < 0) or np.any(c < 0):
        raise ValueError("category counts must be non-negative")
    return keys, r, c


def psi_categorical(
    ref_counts: Mapping[str, int], cur_counts: Mapping[str, int], eps: float = PSI_EPS
) -> float:
    """PSI over the union of categories (a category missing on one side has fraction 0 there).

    Either side with no observations gives NaN.

    >>> round(psi_categorical({"a": 50, "b": 50}, {"a": 40, "b": 60}), 6)
    0.040547
    """
    _, r, c = _aligned_counts(ref_counts, cur_counts)
    if r.sum() <= 0 or c.sum() <= 0:
        return math.nan
    return psi(r / r.sum(), c / c.sum(), eps)


def wasserstein_normed(
    ref_sorted: FloatArray, cur_sorted: FloatArray, ref_std: float | None = None
) -> float:
    """Wasserstein-1 distance divided by ``max(std(ref), 0.001)`` (Evidently's normed version).

    ``W1 = integral |F_ref(x) - F_cur(x)| dx`` over the merged support of the two empirical
    CDFs (Villani 2009, *Optimal Transport*; Ramdas et al. 2017), computed exactly from the
    sorted samples in one blocked merge; equal to ``scipy.stats.wasserstein_distance`` to
    rounding. ``std`` is the population standard deviation (ddof=0) of the reference, or
    ``ref_std`` when given (e.g. from streamed moments). The 0.001 floor is Evidently's: a
    constant reference is divided by 0.001 rather than 0, so the result is scale-dependent
    there. Inputs must be sorted and finite; either sample empty gives NaN.

    >>> round(wasserstein_normed(np.array([0.0, 1.0, 2.0]), np.array([1.0, 2.0, 3.0])), 6)
    1.224745
    """
    if ref_sorted.size == 0 or cur_sorted.size == 0:
        return math.nan
    std = float(np.std(ref_sorted)) if ref_std is None else float(ref_std)
    _, w1 = ecdf_distances(ref_sorted, cur_sorted)
    return w1 / max(std, WASSERSTEIN_STD_FLOOR)


def jensen_shannon(
    ref_fractions: Sequence[float] | FloatArray, cur_fractions: Sequence[float] | FloatArray
) -> float:
    """Jensen-Shannon distance ``sqrt((KL(p||m) + KL(q||m)) / 2)``, ``m = (p + q) / 2``, ln.

    Both inputs are normalised to sum to 1 first (Lin 1991, *Divergence measures based on the
    Shannon entropy*; Endres & Schindelin 2003 show the square root is a metric). Equals
    ``scipy.spatial.distance.jensenshannon(p, q)``. Range ``[0, sqrt(ln 2)]``. Either input
    summing to 0 gives NaN.

    >>> round(jensen_shannon([1.0, 0.0], [0.5, 0.5]), 6)
    0.464501
    """
    r, c = _fractions_pair(ref_fractions, cur_fractions)
    if r.sum() <= 0 or c.sum() <= 0:
        return math.nan
    p = r / r.sum()
    q = c / c.sum()
    m = (p + q) / 2.0
    from scipy.special import rel_entr  # imported on first use: scipy is slow to import

    js = float(np.sum(rel_entr(p, m)) + np.sum(rel_entr(q, m)))
    return math.sqrt(max(js, 0.0) / 2.0)


def jensen_shannon_categorical(
    ref_counts: Mapping[str, int],
    cur_counts: Mapping[str, int],
) -> float:
    """Jensen-Shannon distance over the union of categories, exact counts, no zero filling.

    Evidently's categorical ``jensenshannon`` statistic. Either side empty gives NaN.

    >>> round(jensen_shannon_categorical({"a": 1}, {"a": 1, "b": 1}), 6)
    0.464501
    """
    _, r, c = _aligned_counts(ref_counts, cur_counts)
    return jensen_shannon(r, c)


def jensen_shannon_numeric(ref_sorted: FloatArray, cur_sorted: FloatArray) -> float:
    """Jensen-Shannon distance of two numeric samples binned the way Evidently bins them.

    More than 20 distinct reference values: Sturges edges over both samples together
    (``np.histogram_bin_edges(concat(ref, cur), "sturges")``) and ``np.histogram`` counts;
    otherwise one bin per distinct value of either sample. Inputs must be sorted and finite;
    either sample empty gives NaN.

    >>> a = np.arange(100.0)
    >>> round(jensen_shannon_numeric(a, a + 50.0), 6)
    0.588705
    """
    if ref_sorted.size == 0 or cur_sorted.size == 0:
        return math.nan
    if _more_distinct_than(ref_sorted, JS_DISTINCT_LIMIT):
        lo = min(float(ref_sorted[0]), float(cur_sorted[0]))
        hi = max(float(ref_sorted[-1]), float(cur_sorted[-1]))
        edges = sturges_edges(lo, hi, ref_sorted.size + cur_sorted.size)
        return jensen_shannon(
            histogram_sorted(ref_sorted, edges).astype(np.float64),
            histogram_sorted(cur_sorted, edges).astype(np.float64),
        )
    ref_values, ref_counts = _distinct_sorted(ref_sorted)
    cur_values, cur_counts = _distinct_sorted(cur_sorted)
    support = np.union1d(ref_values, cur_values)
    r = np.zeros(support.size)
    c = np.zeros(support.size)
    r[np.searchsorted(support, ref_values)] = ref_counts
    c[np.searchsorted(support, cur_values)] = cur_counts
    return jensen_shannon(r, c)
