"""Drift statistics and the drift verdict.

A column has drifted when the two-sample test is significant **and** the effect size is
at least a documented minimum (DESIGN.md, "Drift verdicts"): with a million rows a KS or
chi-square test rejects for shifts nobody cares about, so the p-value alone flags
everything; the effect alone ignores sampling noise on small samples. Pure distances
(PSI, normed Wasserstein, Jensen-Shannon) have no test: they drift when the distance
reaches its threshold.

Default verdict thresholds (:data:`DEFAULTS`), and why:

=================  =====  ==========================  =====================================
method             alpha  effect (minimum)            reasoning
=================  =====  ==========================  =====================================
``ks``             0.05   KS statistic D >= 0.05      D is the largest gap between the two
                                                      CDFs: 0.05 means some cut-off (say
                                                      ``amount < 100``) moved 5 percentage
                                                      points; a 0.125 sd mean shift of a
                                                      normal feature. Smaller moves are
                                                      what large samples flag needlessly.
``chi_square``     0.05   Cramér's V >= 0.1           Cohen's (1988) "small" effect w=0.1;
                                                      for a balanced binary feature V = D,
                                                      so it matches the KS scale.
``psi``            --     PSI >= 0.2                  Siddiqi (2006): 0.1-0.25 moderate,
                                                      > 0.25 major; 0.2 is the common alarm.
``wasserstein``    --     W1 / std(ref) >= 0.1        Evidently's default: a 0.1 sd shift.
``jensenshannon``  --     JS distance >= 0.1          Evidently's default.
=================  =====  ==========================  =====================================

Default methods: ``ks`` for numeric columns, ``chi_square`` for categorical ones (both
tests are exact on the full data and carry a p-value).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from accuguard.stats._kolmogorov import kstwo_sf_large_n
from accuguard.stats._smirnov import smirnov_sf
from accuguard.stats.distances import (
    jensen_shannon,
    jensen_shannon_categorical,
    jensen_shannon_numeric,
    psi,
    psi_categorical,
    psi_numeric,
    wasserstein_normed,
)
from accuguard.stats.ecdf import check_sorted_sample, ecdf_distances
from accuguard.stats.lazy_scipy import scipy_stats

_NOT_LOADED: Any = object()
# exact small-sample KS p-value, the same routine ks_2samp calls (it warns; this doesn't);
# loaded on first use by _exact_ks(), None if scipy moved its private helper
_attempt_exact_2kssamp: Any = _NOT_LOADED


def _exact_ks() -> Any:
    global _attempt_exact_2kssamp
    if _attempt_exact_2kssamp is _NOT_LOADED:
        try:
            from scipy.stats._stats_py import _attempt_exact_2kssamp as helper
        except ImportError:  # pragma: no cover - scipy moved its private helper
            helper = None
        _attempt_exact_2kssamp = helper
    return _attempt_exact_2kssamp


FloatArray = npt.NDArray[np.float64]
KS_EXACT_MAX_N = 10_000  # scipy's MAX_AUTO_N: exact p-value when max(n, m) <= this

__all__ = [
    "DEFAULTS",
    "DriftResult",
    "MethodDefaults",
    "QuantileSummary",
    "chi_square",
    "cramers_v",
    "drift_verdict",
    "jensen_shannon",
    "jensen_shannon_categorical",
    "jensen_shannon_numeric",
    "ks_2samp_sorted",
    "ks_from_sketches",
    "ks_pvalue",
    "ks_sketch_error_bound",
    "psi",
    "psi_categorical",
    "psi_numeric",
    "wasserstein_normed",
]


@dataclass(frozen=True)
class DriftResult:
    """One column's drift: the method's statistic, its p-value (None for pure distances),
    the effect size the verdict used, the threshold it was compared with, the verdict, and
    every other statistic computed for the report in ``detail``."""

    method: str
    statistic: float
    p_value: float | None
    effect: float
    threshold: float
    drifted: bool
    detail: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class MethodDefaults:
    """Verdict defaults of one method: significance level (None: no test) and minimum effect."""

    alpha: float | None
    threshold: float
    effect: str


DEFAULTS: Mapping[str, MethodDefaults] = {
    "ks": MethodDefaults(0.05, 0.05, "KS statistic D"),
    "chi_square": MethodDefaults(0.05, 0.1, "Cramér's V"),
    "psi": MethodDefaults(None, 0.2, "PSI"),
    "wasserstein": MethodDefaults(None, 0.1, "Wasserstein distance / std(reference)"),
    "jensenshannon": MethodDefaults(None, 0.1, "Jensen-Shannon distance (natural log)"),
}
NUMERIC_METHODS = ("ks", "psi", "wasserstein", "jensenshannon")
CATEGORICAL_METHODS = ("chi_square", "psi", "jensenshannon")


def drift_verdict(
    method: str,
    statistic: float,
    p_value: float | None,
    effect: float,
    alpha: float | None = None,
    min_effect: float | None = None,
    detail: Mapping[str, float] | None = None,
) -> DriftResult:
    """Apply the drift rule and package the result.

    Tests (``ks``, ``chi_square``): drifted iff ``p_value < alpha`` and ``effect >= min_effect``.
    Distances (``psi``, ``wasserstein``, ``jensenshannon``): drifted iff ``effect >=
    min_effect``. ``alpha`` / ``min_effect`` default to :data:`DEFAULTS`. A NaN effect or
    p-value (e.g. an empty sample) is never drifted.

    >>> r = drift_verdict("ks", 0.12, 1e-9, 0.12)
    >>> (r.drifted, r.threshold)
    (True, 0.05)
    >>> drift_verdict("ks", 0.01, 1e-9, 0.01).drifted  # significant but tiny
    False
    >>> drift_verdict("psi", 0.3, None, 0.3).drifted
    True
    """
    if method not in DEFAULTS:
        raise ValueError(f"method must be one of {sorted(DEFAULTS)}; got {method!r}")
    defaults = DEFAULTS[method]
    a = defaults.alpha if alpha is None else alpha
    if a is not None and not 0 < a < 1:
        raise ValueError(f"alpha must be in (0, 1); got {a}")
    threshold = defaults.threshold if min_effect is None else min_effect
    if not threshold >= 0:
        raise ValueError(f"min_effect must be >= 0; got {threshold}")
    big_enough = not math.isnan(effect) and effect >= threshold
    if defaults.alpha is None:
        drifted = big_enough
    else:
        significant = (
            p_value is not None and not math.isnan(p_value) and a is not None and p_value < a
        )
        drifted = big_enough and significant
    return DriftResult(
        method,
        float(statistic),
        None if p_value is None else float(p_value),
        float(effect),
        float(threshold),
        bool(drifted),
        dict(detail or {}),
    )


def ks_pvalue(d: float, n: int, m: int) -> tuple[float, float]:
    """Two-sided p-value of the two-sample KS statistic ``d``; returns ``(d', p)``.

    Exactly scipy's ``ks_2samp(method="auto")``: for ``max(n, m) <= 10000`` the exact null
    distribution (Hodges 1958), with ``d`` rounded to the lattice ``h / lcm(n, m)`` as scipy
    does (that rounded value is ``d'``); otherwise, or if the exact computation overflows,
    the Kolmogorov distribution ``kstwo.sf(d, round(n m / (n + m)))`` (Smirnov 1939).
    (Should a future scipy drop its private exact helper, every size uses the latter.)

    >>> d, p = ks_pvalue(0.5, 4, 4)
    >>> (d, round(p, 6))
    (0.5, 0.771429)
    """
    if n < 1 or m < 1:
        raise ValueError(f"sample sizes must be >= 1; got n={n}, m={m}")
    exact = _exact_ks() if max(n, m) <= KS_EXACT_MAX_N else None
    if exact is not None:
        success, d_lattice, prob = exact(n, m, math.gcd(n, m), d, "two-sided")
        d = float(d_lattice)
        if success:
            return d, float(np.clip(prob, 0.0, 1.0))
    return float(d), _kolmogorov_sf(d, n, m)


def _kolmogorov_sf(d: float, n: int, m: int) -> float:
    big, small = sorted([float(n), float(m)], reverse=True)
    en = max(float(np.round(big * small / (big + small))), 1.0)  # scipy's n=m=1 case gives nan
    return kstwo_sf(d, int(en))


def kstwo_sf(x: float, n: int) -> float:
    """``scipy.stats.kstwo.sf(x, n)``, with its slow branch computed faster.

    For ``n > 140`` and ``2.2 <= n x^2 < 370`` SciPy (Simard & L'Ecuyer 2011) returns
    ``2 * smirnov(n, x)``, an O(n) scalar loop that takes about a second at n = 500,000;
    that branch is summed vectorised here (:func:`accuguard.stats._smirnov.smirnov_sf`,
    within 2e-9 relative). Every other case is SciPy's own code.

    >>> from scipy import stats
    >>> round(kstwo_sf(0.01, 200_000), 12) == round(float(stats.kstwo.sf(0.01, 200_000)), 12)
    True
    """
    large = kstwo_sf_large_n(x, n)  # n > 100,000: SciPy's branches, without scipy.stats
    if large is not None:
        return large
    t = n * x
    if n > 140 and 0.0 < x < 0.5 and 1.0 < t < n - 1 and 2.2 <= t * x < 370.0:
        return float(np.clip(2.0 * smirnov_sf(n, x), 0.0, 1.0))
    return float(np.clip(scipy_stats().kstwo.sf(x, n), 0.0, 1.0))


def ks_2samp_sorted(ref_sorted: FloatArray, cur_sorted: FloatArray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov test on already sorted samples: ``(D, p)``.

    ``D = sup_x |F_ref(x) - F_cur(x)|`` (Kolmogorov 1933, Smirnov 1939), computed in one
    merge of the sorted arrays (no re-sort); p-value as in :func:`ks_pvalue`. Both values are
    bit-for-bit ``scipy.stats.ks_2samp(ref, cur)`` (two-sided, ``method="auto"``). Inputs
    must be sorted, NaN-free and non-empty (``ValueError`` otherwise); ±inf are allowed.

    >>> d, p = ks_2samp_sorted(np.array([1.0, 2.0, 3.0]), np.array([2.5, 3.5, 4.5, 5.5]))
    >>> (round(d, 6), round(p, 6))
    (0.75, 0.228571)
    """
    ref = check_sorted_sample(ref_sorted, "ref_sorted")
    cur = check_sorted_sample(cur_sorted, "cur_sorted")
    if ref.size == 0 or cur.size == 0:
        raise ValueError(f"samples must not be empty; got sizes {ref.size} and {cur.size}")
    d, _ = ecdf_distances(ref, cur)
    return ks_pvalue(d, ref.size, cur.size)


class QuantileSummary(Protocol):
    """What :func:`ks_from_sketches` needs from a quantile sketch (e.g. a KLL sketch).

    ``n`` is the number of values summarised, ``rank_error`` a bound on ``|F_hat(x) - F(x)|``
    for every ``x`` (0 for an exact summary), and ``items()`` the retained values in
    ascending order with their weights (summing to ``n``).
    """

    @property
    def n(self) -> int: ...

    @property
    def rank_error(self) -> float: ...

    def items(self) -> tuple[FloatArray, FloatArray]: ...


def _summary_cdf(summary: QuantileSummary, points: FloatArray) -> FloatArray:
    values, weights = summary.items()
    cum = np.concatenate([[0.0], np.cumsum(weights, dtype=np.float64)])
    out: FloatArray = cum[np.searchsorted(values, points, side="right")] / cum[-1]
    return out


def ks_from_sketches(
    ref_sketch: QuantileSummary,
    cur_sketch: QuantileSummary,
) -> tuple[float, float]:
    """Approximate two-sample KS ``(D, p)`` from two quantile sketches.

    ``D_hat = max_x |F_hat_ref(x) - F_hat_cur(x)|`` over the union of retained values (the
    sketched CDFs are step functions jumping only there, so this is their exact sup).
    Error bound: ``|D_hat - D| <= ref.rank_error + cur.rank_error`` (triangle inequality on
    the uniform CDF errors; see :func:`ks_sketch_error_bound`). For KLL that bound holds
    with 99 % probability (Karnin, Lang & Liberty 2016). p-value from the asymptotic
    Kolmogorov distribution ``kstwo.sf(D_hat, round(n m / (n + m)))`` with the true sizes.
    Either sketch empty gives ``(nan, nan)``.

    >>> from types import SimpleNamespace as S
    >>> exact = lambda v: S(n=len(v), rank_error=0.0,
    ...                     items=lambda: (np.array(v, float), np.ones(len(v))))
    >>> d, p = ks_from_sketches(exact([1, 2, 3]), exact([2.5, 3.5, 4.5, 5.5]))
    >>> round(d, 6)
    0.75
    """
    n, m = int(ref_sketch.n), int(cur_sketch.n)
    if n == 0 or m == 0:
        return math.nan, math.nan
    support = np.union1d(ref_sketch.items()[0], cur_sketch.items()[0])
    d = float(np.max(np.abs(_summary_cdf(ref_sketch, support) - _summary_cdf(cur_sketch, support))))
    return d, _kolmogorov_sf(d, n, m)


def ks_sketch_error_bound(ref_sketch: QuantileSummary, cur_sketch: QuantileSummary) -> float:
    """Documented bound on ``|ks_from_sketches(...)[0] - exact D|``: the sum of rank errors.

    >>> from types import SimpleNamespace as S
    >>> ks_sketch_error_bound(S(rank_error=0.001), S(rank_error=0.0))
    0.001
    """
    return float(ref_sketch.rank_error) + float(cur_sketch.rank_error)


def chi_square(
    ref_counts: Mapping[str, int],
    cur_counts: Mapping[str, int],
) -> tuple[float, float, int]:
    """Pearson chi-square test of homogeneity on the 2 x K table of category counts.

    Categories are the union of both mappings (one unseen in the reference counts 0 there);
    categories with a zero total are dropped. ``X2 = sum_ij (O_ij - E_ij)^2 / E_ij`` with
    ``E_ij = row_i col_j / N``, ``K - 1`` degrees of freedom, p = ``chi2.sf(X2, K - 1)``
    (Pearson 1900; Agresti 2013, *Categorical Data Analysis*, 3.2). Returns
    ``(statistic, p_value, dof)``, equal to ``scipy.stats.chi2_contingency(table,
    correction=False)`` for ``K >= 2``. ``K <= 1`` gives ``(0.0, 1.0, 0)`` (nothing can
    differ); an empty side gives ``(nan, nan, K - 1)``.

    >>> stat, p, dof = chi_square({"a": 30, "b": 70}, {"a": 50, "b": 50})
    >>> (round(stat, 4), round(p, 6), dof)
    (8.3333, 0.003892, 1)
    """
    keys = sorted(set(ref_counts) | set(cur_counts))
    r = np.array([ref_counts.get(k, 0) for k in keys], dtype=np.float64)
    c = np.array([cur_counts.get(k, 0) for k in keys], dtype=np.float64)
    if np.any(r < 0) or np.any(c < 0):
        raise ValueError("ref_counts and cur_counts must be non-negative")
    keep = (r + c) > 0
    r, c = r[keep], c[keep]
    k = int(r.size)
    if k <= 1:
        return 0.0, 1.0, 0
    nr, nc = float(r.sum()), float(c.sum())
    if nr == 0 or nc == 0:
        return math.nan, math.nan, k - 1
    total = nr + nc
    col = r + c
    er, ec = nr * col / total, nc * col / total
    stat = float(np.sum((r - er) ** 2 / er) + np.sum((c - ec) ** 2 / ec))
    from scipy.special import chdtrc  # what scipy.stats.chi2.sf calls; a lighter import

    return stat, float(chdtrc(k - 1, stat)), k - 1


def cramers_v(statistic: float, n: int, categories: int) -> float:
    """Cramér's V of a 2 x K table: ``sqrt(X2 / (n (min(2, K) - 1)))`` (Cramér 1946).

    In [0, 1]; 0.1 / 0.3 / 0.5 are Cohen's small / medium / large. ``K <= 1`` gives 0.0;
    ``n == 0`` or a NaN statistic gives NaN.

    >>> round(cramers_v(8.3333, 200, 2), 4)
    0.2041
    """
    if categories <= 1:
        return 0.0
    if n <= 0 or math.isnan(statistic):
        return math.nan
    return math.sqrt(max(statistic, 0.0) / (n * (min(2, categories) - 1)))
