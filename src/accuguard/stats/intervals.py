"""Point estimates with confidence intervals, and the two basic intervals.

Every metric in :mod:`accuguard.stats` is returned as an :class:`Estimate`: the value,
the two-sided interval at the caller's confidence level and the name of the interval
method. A value that cannot be computed is ``nan`` with a ``nan`` interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats as sps

_NOISE = 1e-12  # relative rounding noise of sum x^2 - (sum x)^2 / n


@dataclass(frozen=True)
class Estimate:
    """A metric value with a two-sided confidence interval.

    ``method`` names the interval: ``"wilson"``, ``"delong"``, ``"normal"``,
    ``"multinomial-bootstrap"``, ``"logit"``, ``"delta"``. The confidence level is
    the one the caller asked for; it is not stored. Undefined values and intervals
    are ``nan``.

    >>> Estimate(0.5, 0.4, 0.6, "wilson").upper
    0.6
    """

    value: float
    lower: float
    upper: float
    method: str

    @classmethod
    def undefined(cls, method: str) -> Estimate:
        """An estimate whose value and interval are all ``nan``.

        >>> Estimate.undefined("wilson").value
        nan
        """
        return cls(math.nan, math.nan, math.nan, method)


def z_value(confidence: float) -> float:
    """Two-sided standard-normal critical value ``z = Phi^-1(1 - (1 - confidence) / 2)``.

    Raises ``ValueError`` unless ``0 < confidence < 1``.

    >>> round(z_value(0.95), 4)
    1.96
    """
    if not (isinstance(confidence, int | float) and 0.0 < confidence < 1.0):
        raise ValueError(
            f"confidence must be a number strictly between 0 and 1, got {confidence!r}"
        )
    return float(sps.norm.isf((1.0 - confidence) / 2.0))


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion ``p = successes / trials``.

    ``center = (p + z^2 / 2n) / (1 + z^2 / n)``,
    ``half = z * sqrt(p (1 - p) / n + z^2 / 4n^2) / (1 + z^2 / n)``, clipped to [0, 1];
    identical to ``statsmodels.stats.proportion.proportion_confint(method="wilson")``.
    Undefined (``(nan, nan)``) when ``trials == 0``.

    Reference: E. B. Wilson (1927), "Probable inference, the law of succession, and
    statistical inference", JASA 22(158); Brown, Cai & DasGupta (2001), Stat. Sci. 16(2).

    >>> [round(x, 4) for x in wilson_interval(8, 10)]
    [0.4902, 0.9433]
    """
    z = z_value(confidence)
    successes = check_count("successes", successes)
    trials = check_count("trials", trials)
    if successes > trials:
        raise ValueError(f"successes must be <= trials, got successes={successes} > {trials}")
    if trials == 0:
        return math.nan, math.nan
    p = successes / trials
    z2 = z * z
    denom = 1.0 + z2 / trials
    center = (p + z2 / (2.0 * trials)) / denom
    half = z * math.sqrt(p * (1.0 - p) / trials + z2 / (4.0 * trials * trials)) / denom
    return max(0.0, center - half), min(1.0, center + half)


def mean_interval(n: int, total: float, total_sq: float, confidence: float = 0.95) -> Estimate:
    """Normal (central limit) interval for a mean from ``n``, ``sum x`` and ``sum x^2``.

    ``mean = total / n``; ``s^2 = (total_sq - total^2 / n) / (n - 1)``; interval
    ``mean +- z * s / sqrt(n)``. The value is ``nan`` when ``n == 0``; the interval is
    ``nan`` when ``n < 2``. A numerator below ``1e-12 * total_sq`` is rounding noise of
    the subtraction and is taken as 0 (constant data gives a zero-width interval). For
    data far from zero with a small spread, pass sums of shifted values (``x - c``) and
    add ``c`` back: the variance formula loses precision to cancellation otherwise.

    Reference: any statistics text, e.g. Wasserman (2004), *All of Statistics*, 6.3.

    >>> e = mean_interval(4, 10.0, 30.0)
    >>> e.value, round(e.lower, 3), round(e.upper, 3)
    (2.5, 1.235, 3.765)
    """
    z = z_value(confidence)
    n = check_count("n", n)
    if n == 0:
        return Estimate.undefined("normal")
    mean = total / n
    if n < 2:
        return Estimate(mean, math.nan, math.nan, "normal")
    resid = total_sq - total * total / n
    var = resid / (n - 1) if resid > _NOISE * total_sq else 0.0
    half = z * math.sqrt(var / n)
    return Estimate(mean, mean - half, mean + half, "normal")


def check_count(name: str, value: int, minimum: int = 0) -> int:
    """Return ``value`` as an ``int`` if it is an integer ``>= minimum``, else raise.

    ``bool`` is refused; numpy integers are accepted. The ``ValueError`` names ``name``.

    >>> check_count("tp", 3)
    3
    """
    if (
        isinstance(value, bool | np.bool_)
        or not isinstance(value, int | np.integer)
        or value < minimum
    ):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def percentile_interval(
    draws: NDArray[np.float64], confidence: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval: the ``(1 -+ confidence) / 2`` quantiles of ``draws``.

    ``nan`` draws (replicates where the statistic was undefined) are ignored; the
    interval is ``(nan, nan)`` when every draw is ``nan``. Quantiles use numpy's default
    linear interpolation.

    Reference: Efron & Tibshirani (1993), *An Introduction to the Bootstrap*, ch. 13.

    >>> [round(x, 6) for x in percentile_interval(np.arange(101.0), 0.9)]
    [5.0, 95.0]
    """
    z_value(confidence)
    values = np.asarray(draws, dtype=np.float64)
    ok = values[~np.isnan(values)]
    if ok.size == 0:
        return math.nan, math.nan
    lo, hi = np.quantile(ok, [(1.0 - confidence) / 2.0, (1.0 + confidence) / 2.0])
    return float(lo), float(hi)
