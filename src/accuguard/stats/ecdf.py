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
_SIGN_BIT = np.uint64(1 << 63)


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
    work = _Workspace(min(n + m, 2 * block))
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
        merged, absdiff, steps = work.block(ref_sorted[i:i1], cur_sorted[j:j1], i, j, n, m)
        last_of_ties = work.last_of_ties(merged)
        d = max(d, float(np.max(absdiff, where=last_of_ties, initial=0.0)))
        with np.errstate(invalid="ignore", over="ignore"):  # only with infinite values
            if started:
                w_parts.append(prev_abs * (float(merged[0]) - prev_value))
            # np.sum of the products (pairwise summation), not np.dot/np.vecdot: those call
            # multi-threaded OpenBLAS, slow on a busy machine and thread-count dependent
            w_parts.append(float(np.sum(np.multiply(absdiff[:-1], steps, out=steps))))
        prev_value, prev_abs, started = float(merged[-1]), float(absdiff[-1]), True
        i, j = i1, j1
    w1 = math.fsum(w_parts) if all(map(math.isfinite, w_parts)) else math.nan
    return d, w1


class _Workspace:
    """Scratch arrays reused from block to block of :func:`ecdf_distances`.

    Fresh multi-megabyte temporaries for every operation cost page faults that take longer
    than the arithmetic; these buffers are allocated once (grown when ties make a block
    longer) and every step writes into them.
    """

    def __init__(self, size: int) -> None:
        self._grow(size)

    def _grow(self, size: int) -> None:
        self.size = size
        self.values = np.empty(size, dtype=np.float64)
        self.merged = np.empty(size, dtype=np.float64)
        self.f_ref = np.empty(size, dtype=np.float64)
        self.f_cur = np.empty(size, dtype=np.float64)
        self.n_ref = np.empty(size, dtype=np.int64)
        self.n_cur = np.empty(size, dtype=np.int64)
        self.flags = np.empty(size, dtype=bool)
        self.ones_up = np.arange(1, size + 1, dtype=np.int64)

    def block(
        self, rb: FloatArray, cb: FloatArray, i: int, j: int, n: int, m: int
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Merge one block; return the merged values, ``|F_ref - F_cur|`` at each, and
        ``diff(merged)`` (a scratch array the caller may overwrite).

        The counts are int64 and each ECDF value is one ``count / n`` division, the same
        float operations as scipy's ``ks_2samp``.
        """
        size = rb.size + cb.size
        if size > self.size:
            self._grow(size)
        both = self.values[:size]
        both[: rb.size] = rb
        both[rb.size :] = cb
        # timsort of the two sorted runs is one merge; on order-preserving integer keys it
        # compares faster than on floats (±0.0 then split, which changes no count or step)
        order = np.argsort(self._keys(both), kind="stable")
        merged = np.take(both, order, out=self.merged[:size])
        is_cur = np.greater_equal(order, rb.size, out=self.flags[:size])
        n_cur = np.cumsum(is_cur, dtype=np.int64, out=self.n_cur[:size])
        n_ref = np.subtract(self.ones_up[:size], n_cur, out=self.n_ref[:size])
        n_cur += j
        n_ref += i
        f_ref = np.true_divide(n_ref, n, out=self.f_ref[:size])
        f_cur = np.true_divide(n_cur, m, out=self.f_cur[:size])
        absdiff = np.abs(np.subtract(f_ref, f_cur, out=f_ref), out=f_ref)
        with np.errstate(invalid="ignore"):  # inf - inf, only with infinite values
            steps = np.subtract(merged[1:], merged[:-1], out=self.f_cur[: size - 1])
        return merged, absdiff, steps

    def _keys(self, values: FloatArray) -> npt.NDArray[np.uint64]:
        """uint64 keys in the order of the (NaN-free) float64 ``values``: negative numbers
        have every bit flipped, the others only their sign bit."""
        keys = self.n_ref[: values.size].view(np.uint64)
        np.right_shift(values.view(np.int64), 63, out=keys.view(np.int64))  # -1 if negative
        np.bitwise_or(keys, _SIGN_BIT, out=keys)
        return np.bitwise_xor(values.view(np.uint64), keys, out=keys)

    def last_of_ties(self, merged: FloatArray) -> npt.NDArray[np.bool_]:
        """True where the next merged value differs (and at the end)."""
        size = merged.size
        flags = self.flags[:size]
        np.not_equal(merged[1:], merged[:-1], out=flags[:-1])
        flags[-1] = True
        return flags
