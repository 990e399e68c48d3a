"""Two empirical CDFs compared in one merge of two sorted samples.

The Kolmogorov-Smirnov statistic ``sup |F_ref - F_cur|`` and the Wasserstein-1 distance
``integral |F_ref - F_cur| dx`` both only need the two step functions evaluated on the
merged, sorted support. :func:`ecdf_distances` walks the merge in blocks of at most
``block`` elements per sample, so temporary memory stays bounded (about 15 MB) however
long the samples are, and no sample is ever re-sorted.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
DEFAULT_BLOCK = 1 << 17


def check_sorted_sample(values: FloatArray, name: str) -> FloatArray:
    """Return ``values`` as a float64 array after checking it is 1-D, sorted and NaN-free.

    Raises ``ValueError`` naming ``name`` otherwise (one O(n) comparison pass).

    >>> check_sorted_sample(np.array([1.0, 2.0]), "ref_sorted").tolist()
    [1.0, 2.0]
    """
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array; got shape {arr.shape}")
    if arr.size and (math.isnan(arr[0]) or math.isnan(arr[-1])):
        raise ValueError(f"{name} must not contain NaN (drop missing values first)")
    if arr.size > 1 and not bool(np.all(arr[1:] >= arr[:-1])):
        raise ValueError(f"{name} must be sorted ascending and NaN-free (use np.sort)")
    return arr


def ecdf_distances(
    ref_sorted: FloatArray, cur_sorted: FloatArray, block: int = DEFAULT_BLOCK
) -> tuple[float, float]:
    """``(D, W1)``: the KS statistic and the Wasserstein-1 distance of two sorted samples.

    ``D = max_x |F_ref(x) - F_cur(x)|`` evaluated at every sample point with right-continuous
    ECDFs, the same float operations as ``scipy.stats.ks_2samp`` (its statistic before the
    exact-mode lattice rounding), so ``D`` is bit-for-bit scipy's. ``W1 = sum_k |F_ref(z_k) -
    F_cur(z_k)| (z_{k+1} - z_k)`` over the merged support ``z`` (as in
    ``scipy.stats.wasserstein_distance``). Inputs must be sorted, NaN-free and non-empty
    (not checked here: see :func:`check_sorted_sample`); ``W1`` is NaN if a sample holds
    an infinity. Cost: O(n + m): a stable argsort of each block's two sorted
    runs is a single timsort merge.

    >>> ecdf_distances(np.array([0.0, 1.0]), np.array([1.0, 2.0]))
    (0.5, 1.0)
    """
    n, m = ref_sorted.size, cur_sorted.size
    i = j = 0
    d = 0.0
    w_parts: list[float] = []
    prev_value = prev_abs = 0.0
    started = False
    while i < n or j < m:
        a = float(ref_sorted[min(i + block, n) - 1]) if i < n else math.inf
        b = float(cur_sorted[min(j + block, m) - 1]) if j < m else math.inf
        split = min(a, b)
        i1 = int(np.searchsorted(ref_sorted, split, side="right"))
        j1 = int(np.searchsorted(cur_sorted, split, side="right"))
        rb, cb = ref_sorted[i:i1], cur_sorted[j:j1]
        size = rb.size + cb.size
        both = np.concatenate([rb, cb])
        order = np.argsort(both, kind="stable")  # timsort: one merge of the two sorted runs
        merged = both[order]
        is_cur = order >= rb.size
        cum_cur = np.cumsum(is_cur, dtype=np.int64) + j
        cum_ref = np.arange(i + j + 1, i + j + size + 1, dtype=np.int64) - cum_cur
        absdiff = np.abs(cum_ref / n - cum_cur / m)
        last_of_ties = np.empty(size, dtype=bool)
        np.not_equal(merged[1:], merged[:-1], out=last_of_ties[:-1])
        last_of_ties[-1] = True
        d = max(d, float(np.max(absdiff, where=last_of_ties, initial=0.0)))
        with np.errstate(invalid="ignore", over="ignore"):  # only with infinite values
            if started:
                w_parts.append(prev_abs * (float(merged[0]) - prev_value))
            w_parts.append(float(np.vecdot(absdiff[:-1], np.diff(merged))))
        prev_value, prev_abs, started = float(merged[-1]), float(absdiff[-1]), True
        i, j = i1, j1
    w1 = math.fsum(w_parts) if all(map(math.isfinite, w_parts)) else math.nan
    return d, w1
