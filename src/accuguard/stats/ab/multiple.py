"""Multiple testing: adjusted p-values across metrics and treatment arms.

Testing 10 metrics at ``α = 0.05`` finds a "significant" one in about 40 % of A/A
tests. Two corrections, both returning adjusted p-values to compare with ``α``:

* Holm (1979) step-down: controls the family-wise error rate (the chance of *any*
  false positive), uniformly more powerful than Bonferroni, valid under any
  dependence.
* Benjamini-Hochberg (1995) step-up: controls the false discovery rate (the expected
  share of false positives among the discoveries); valid for independent or
  positively dependent tests (Benjamini & Yekutieli 2001).

Both equal ``statsmodels.stats.multitest.multipletests(p, method="holm" / "fdr_bh")``
on finite p-values. ``nan`` p-values (tests that could not be computed) stay ``nan``
and do not count in the number of tests ``m``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from accuguard.stats.ab.moments import FloatArray

METHODS = ("none", "holm", "bh")


def _prepare(pvalues: npt.ArrayLike) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"pvalues must be one-dimensional, got shape {p.shape}")
    ok = ~np.isnan(p)
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        raise ValueError(f"pvalues must be in [0, 1] (or nan), got {p.tolist()!r}")
    return p, ok


def holm(pvalues: npt.ArrayLike) -> FloatArray:
    """Holm step-down adjusted p-values.

    Sort the ``m`` finite p-values ascending, ``p̃_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))``.

    Reference: S. Holm (1979), "A simple sequentially rejective multiple test
    procedure", Scand. J. Statist. 6(2).

    >>> [round(float(x), 3) for x in holm([0.01, 0.04, 0.03, 0.5])]
    [0.04, 0.09, 0.09, 0.5]
    """
    p, ok = _prepare(pvalues)
    out = np.full_like(p, np.nan)
    q = p[ok]
    m = q.size
    if m:
        order = np.argsort(q, kind="stable")
        adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * q[order]))
        res = np.empty(m)
        res[order] = adj
        out[ok] = res
    return out


def benjamini_hochberg(pvalues: npt.ArrayLike) -> FloatArray:
    """Benjamini-Hochberg step-up adjusted p-values (false discovery rate).

    Sort ascending, ``p̃_(i) = min_{j >= i} min(1, m p_(j) / j)``.

    Reference: Y. Benjamini & Y. Hochberg (1995), "Controlling the false discovery
    rate", J. R. Statist. Soc. B 57(1).

    >>> [round(float(x), 3) for x in benjamini_hochberg([0.01, 0.04, 0.03, 0.5])]
    [0.04, 0.053, 0.053, 0.5]
    """
    p, ok = _prepare(pvalues)
    out = np.full_like(p, np.nan)
    q = p[ok]
    m = q.size
    if m:
        order = np.argsort(q, kind="stable")
        ranked = q[order] * m / np.arange(1, m + 1)
        adj = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
        res = np.empty(m)
        res[order] = adj
        out[ok] = res
    return out


def adjust(pvalues: npt.ArrayLike, method: str) -> FloatArray:
    """Adjusted p-values by ``method``: ``"none"``, ``"holm"`` or ``"bh"``.

    >>> [round(float(x), 3) for x in adjust([0.01, 0.02], "none")]
    [0.01, 0.02]
    """
    if method == "holm":
        return holm(pvalues)
    if method == "bh":
        return benjamini_hochberg(pvalues)
    if method == "none":
        return _prepare(pvalues)[0].copy()
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")
