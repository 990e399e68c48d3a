"""The result of comparing treatment with control, and the shared reference distributions.

:class:`Comparison` is what every test in :mod:`accuguard.stats.ab` returns; the helpers
here turn an estimate, its standard error and degrees of freedom into an interval and a
p-value (Student t, or the normal when ``dof`` is infinite).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from accuguard.stats.ab.moments import FloatArray, Values, _arr, _div

ALTERNATIVES = ("two-sided", "greater", "less")


@dataclass(frozen=True, eq=False)
class Comparison:
    """Treatment vs control for one or many experiments (every array has one shape).

    ``diff*`` fields are on the absolute scale (``mean_t - mean_c``), ``rel_*``
    fields on the relative scale (``diff / mean_c``). ``statistic``, ``p_value``
    and ``dof`` belong to the test on the scale given by ``relative`` against
    ``null_value``; ``dof`` is ``inf`` for a normal reference distribution.
    ``method`` names the test; ``sequential`` is true when intervals and p-values
    are always-valid (:mod:`accuguard.stats.ab.sequential`).

    >>> from accuguard.stats.ab import SampleMean, welch_ttest
    >>> c = welch_ttest(SampleMean.from_values([1., 2., 3.]), SampleMean.from_values([2., 3., 5.]))
    >>> c.method, round(float(c.diff), 4), round(float(c.p_value), 4)
    ('welch', 1.3333, 0.2846)
    """

    method: str
    control_n: FloatArray
    treatment_n: FloatArray
    control_mean: FloatArray
    treatment_mean: FloatArray
    diff: FloatArray
    diff_se: FloatArray
    diff_lower: FloatArray
    diff_upper: FloatArray
    rel_diff: FloatArray
    rel_se: FloatArray
    rel_lower: FloatArray
    rel_upper: FloatArray
    statistic: FloatArray
    p_value: FloatArray
    dof: FloatArray
    alpha: float
    alternative: str
    relative: bool
    null_value: FloatArray
    sequential: bool = False

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the result arrays (``()`` for one experiment)."""
        return self.diff.shape


def check_alpha(alpha: float) -> float:
    """Return ``alpha`` as a float; ``ValueError`` unless ``0 < alpha < 1``.

    >>> check_alpha(0.05)
    0.05
    """
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be a number strictly between 0 and 1, got {alpha!r}")
    return float(alpha)


def check_alternative(alternative: str) -> str:
    """Return ``alternative``; ``ValueError`` unless it is one of :data:`ALTERNATIVES`.

    >>> check_alternative("less")
    'less'
    """
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}, got {alternative!r}")
    return alternative


def _quantile(p: float, dof: FloatArray) -> FloatArray:
    """Upper ``p`` quantile of t(dof) (normal where ``dof`` is inf)."""
    with np.errstate(all="ignore"):
        q = np.where(np.isinf(dof), sps.norm.isf(p), sps.t.isf(p, np.where(np.isinf(dof), 1, dof)))
    return np.asarray(q, dtype=np.float64)


def _sf(x: FloatArray, dof: FloatArray) -> FloatArray:
    """Survival function of t(dof) (normal where ``dof`` is inf)."""
    inf = np.isinf(dof)
    with np.errstate(all="ignore"):
        out = np.where(inf, sps.norm.sf(x), sps.t.sf(x, np.where(inf, 1, dof)))
    return np.asarray(out, dtype=np.float64)


def interval(
    estimate: FloatArray, se: FloatArray, dof: FloatArray, alpha: float, alternative: str
) -> tuple[FloatArray, FloatArray]:
    """Confidence interval ``estimate ± q se`` with ``q`` the t(dof) (or normal) quantile.

    Two-sided: ``q = t_{1-α/2}``; ``"greater"``: ``[estimate - t_{1-α} se, inf)``;
    ``"less"``: ``(-inf, estimate + t_{1-α} se]``.

    >>> lo, hi = interval(np.array(1.0), np.array(0.5), np.array(np.inf), 0.05, "two-sided")
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.02, 1.98)
    """
    tail = alpha / 2 if alternative == "two-sided" else alpha
    with np.errstate(all="ignore"):
        half = _quantile(tail, dof) * se
    lower = estimate - half if alternative != "less" else np.full_like(estimate, -np.inf)
    upper = estimate + half if alternative != "greater" else np.full_like(estimate, np.inf)
    return np.asarray(lower, np.float64), np.asarray(upper, np.float64)


def p_value(statistic: FloatArray, dof: FloatArray, alternative: str) -> FloatArray:
    """P-value of a t(dof) (normal if ``dof`` is inf) statistic for ``alternative``.

    ``two-sided: 2 sf(|T|)``, ``greater: sf(T)``, ``less: sf(-T)``.

    >>> round(float(p_value(np.array(1.96), np.array(np.inf), "two-sided")), 4)
    0.05
    """
    if alternative == "two-sided":
        return np.minimum(2.0 * _sf(np.abs(statistic), dof), 1.0)
    if alternative == "greater":
        return _sf(statistic, dof)
    return _sf(-statistic, dof)


def welch_dof(v_c: Values, n_c: Values, v_t: Values, n_t: Values) -> FloatArray:
    """Welch-Satterthwaite degrees of freedom.

    ``(v_c/n_c + v_t/n_t)² / ((v_c/n_c)² / (n_c - 1) + (v_t/n_t)² / (n_t - 1))``,
    ``nan`` when an arm has fewer than two units or both variances are 0.

    Reference: Welch (1947), Biometrika 34; Satterthwaite (1946), Biometrics 2(6).

    >>> round(float(welch_dof(1.0, 10, 4.0, 20)), 2)
    27.98
    """
    a, b = _div(v_c, n_c), _div(v_t, n_t)
    nc, nt = _arr(n_c), _arr(n_t)
    with np.errstate(all="ignore"):
        dof = (a + b) ** 2 / (a**2 / (nc - 1.0) + b**2 / (nt - 1.0))
    return np.asarray(np.where((nc < 2) | (nt < 2), np.nan, dof), np.float64)
