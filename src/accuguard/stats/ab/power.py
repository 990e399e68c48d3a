"""Sample size planning: how many units per arm to detect an effect with given power.

Two solvers, each equal to a statsmodels power solver (the tests check it):

* :func:`sample_size_proportions` for a conversion rate: the effect size is Cohen's
  ``h = 2 asin(sqrt(p₁)) - 2 asin(sqrt(p₀))`` (the variance-stabilising arcsine
  transform), solved with the two-sample z-test power of
  ``statsmodels.stats.power.NormalIndPower`` and
  ``statsmodels.stats.proportion.proportion_effectsize(p₁, p₀)``.
* :func:`sample_size_means` for a continuous metric with baseline standard
  deviation ``σ``: effect size ``d = δ / σ`` (Cohen's d), solved with the noncentral-t
  power of a two-sample t-test, ``statsmodels.stats.power.TTestIndPower``.

``ratio = n_treatment / n_control`` (statsmodels' ``ratio``); ``alternative`` is
``"two-sided"``, ``"greater"`` or ``"less"`` (statsmodels' ``"larger"`` and
``"smaller"``; a one-sided ``mde`` must point the same way). Both return the
*control* arm's size as a float, which the caller rounds up. Power for the
two-sided test counts rejections in both tails, as statsmodels does.

References: J. Cohen (1988), *Statistical Power Analysis for the Behavioral
Sciences*, 2nd ed., ch. 2 (d) and ch. 6 (h); Chow, Shao & Wang (2008), *Sample Size
Calculations in Clinical Research*, ch. 3-4.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from scipy import optimize
from scipy import stats as sps

from accuguard.stats.ab.comparison import check_alpha

_ALTERNATIVES = ("two-sided", "greater", "less")


def _positive(name: str, value: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (math.isfinite(value) and value > 0)
    ):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _check_common(alpha: float, power: float, ratio: float, alternative: str) -> None:
    check_alpha(alpha)
    if isinstance(power, bool) or not isinstance(power, int | float) or not 0 < power < 1:
        raise ValueError(f"power must be a number strictly between 0 and 1, got {power!r}")
    _positive("ratio", ratio)
    if alternative not in _ALTERNATIVES:
        raise ValueError(f"alternative must be one of {_ALTERNATIVES}, got {alternative!r}")


def cohens_h(p1: float, p0: float) -> float:
    """Cohen's effect size for proportions ``h = 2 asin(sqrt(p1)) - 2 asin(sqrt(p0))``.

    Equal to ``statsmodels.stats.proportion.proportion_effectsize(p1, p0)``.
    Raises ``ValueError`` unless both are in [0, 1].

    >>> round(cohens_h(0.0336, 0.032), 6)
    0.008984
    """
    for name, p in (("p1", p1), ("p0", p0)):
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 1:
            raise ValueError(f"{name} must be a proportion in [0, 1], got {p!r}")
    return 2.0 * math.asin(math.sqrt(p1)) - 2.0 * math.asin(math.sqrt(p0))


def normal_power(
    effect_size: float,
    n_control: float,
    *,
    alpha: float = 0.05,
    ratio: float = 1.0,
    alternative: str = "two-sided",
) -> float:
    """Power of the two-sample z-test, ``NormalIndPower().power``.

    With ``m = 1 / (1/n_c + 1/n_t)`` and ``n_t = ratio · n_c``, two-sided:
    ``Φ(e sqrt(m) - z_{1-α/2}) + Φ(-e sqrt(m) - z_{1-α/2})``; ``greater``
    (``less``) keeps the first (second) term with ``z_{1-α}`` (statsmodels'
    ``larger``/``smaller``).

    >>> round(normal_power(0.2, 393), 4)
    0.8006
    """
    _check_common(alpha, 0.5, ratio, alternative)
    m = 1.0 / (1.0 / n_control + 1.0 / (ratio * n_control))
    tail = alpha / 2 if alternative == "two-sided" else alpha
    crit = float(sps.norm.isf(tail))
    shift = effect_size * math.sqrt(m)
    out = 0.0
    if alternative in ("two-sided", "greater"):
        out += float(sps.norm.sf(crit - shift))
    if alternative in ("two-sided", "less"):
        out += float(sps.norm.cdf(-crit - shift))
    return out


def t_power(
    effect_size: float,
    n_control: float,
    *,
    alpha: float = 0.05,
    ratio: float = 1.0,
    alternative: str = "two-sided",
) -> float:
    """Power of the two-sample t-test, ``dof = n_c + n_t - 2``: ``TTestIndPower().power``.

    Noncentral t with noncentrality ``e sqrt(m)``, ``m = 1 / (1/n_c + 1/n_t)``;
    two-sided adds both tails beyond ``±t_{1-α/2, dof}``.

    >>> round(t_power(0.2, 394), 4)
    0.8006
    """
    _check_common(alpha, 0.5, ratio, alternative)
    n_t = ratio * n_control
    dof = n_control + n_t - 2.0
    nc = effect_size * math.sqrt(1.0 / (1.0 / n_control + 1.0 / n_t))
    tail = alpha / 2 if alternative == "two-sided" else alpha
    out = 0.0
    if alternative in ("two-sided", "greater"):
        out += float(sps.nct.sf(sps.t.isf(tail, dof), dof, nc))
    if alternative in ("two-sided", "less"):
        out += float(sps.nct.cdf(sps.t.ppf(tail, dof), dof, nc))
    return out


def _solve(
    power_fn: Callable[[float], float], effect: float, power: float, alpha: float, lower: float
) -> float:
    if power <= alpha:
        raise ValueError(f"power must exceed alpha, got power={power!r} and alpha={alpha!r}")

    def gap(n: float) -> float:
        return power_fn(n) - power

    if gap(lower) >= 0:  # an effect so large that the smallest design already has the power
        return lower
    hi = max(2.0 * lower, 16.0)
    while gap(hi) < 0:
        hi *= 2.0
        if hi > 1e15:
            raise ValueError(f"effect size {effect!r} is too small to reach power {power!r}")
    return float(optimize.brentq(gap, lower, hi, xtol=1e-10, rtol=1e-14, maxiter=500))


def sample_size_proportions(
    baseline: float,
    mde: float,
    *,
    relative: bool = False,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    alternative: str = "two-sided",
) -> float:
    """Control-arm units to detect a change of a conversion rate from ``baseline``.

    The treatment rate is ``p₁ = baseline · (1 + mde)`` if ``relative`` else
    ``baseline + mde``; the effect size is ``h = cohens_h(p₁, baseline)`` and the
    result solves ``normal_power(|h|, n) = power``, i.e. it equals
    ``NormalIndPower().solve_power(proportion_effectsize(p₁, baseline), alpha=alpha,
    power=power, ratio=ratio, alternative=alternative)``. Without the negligible
    second tail, ``n = (z_{1-α/2} + z_{power})² (1 + 1/ratio) / h²``. Raises
    ``ValueError`` unless ``0 < baseline < 1``, ``mde != 0`` and ``0 < p₁ < 1``.

    >>> round(sample_size_proportions(0.032, 0.05, relative=True))
    194502
    """
    _check_common(alpha, power, ratio, alternative)
    if (
        isinstance(baseline, bool)
        or not isinstance(baseline, int | float)
        or not (0 < baseline < 1)
    ):
        raise ValueError(f"baseline must be a rate strictly between 0 and 1, got {baseline!r}")
    if (
        isinstance(mde, bool)
        or not isinstance(mde, int | float)
        or not math.isfinite(mde)
        or (mde == 0)
    ):
        raise ValueError(f"mde must be a non-zero finite number, got {mde!r}")
    p1 = baseline * (1.0 + mde) if relative else baseline + mde
    if not 0 < p1 < 1:
        raise ValueError(
            f"baseline {baseline!r} with mde {mde!r} ({'relative' if relative else 'absolute'})"
            f" gives a treatment rate {p1!r} outside (0, 1)"
        )
    h = cohens_h(p1, baseline)
    if alternative == "less":
        h = -h
    effect = abs(h) if alternative == "two-sided" else h
    if effect <= 0:
        raise ValueError(f"mde {mde!r} points the other way than alternative={alternative!r}")
    return _solve(
        lambda n: normal_power(
            effect,
            n,
            alpha=alpha,
            ratio=ratio,
            alternative="greater" if alternative != "two-sided" else alternative,
        ),
        effect,
        power,
        alpha,
        1e-6,
    )


def sample_size_means(
    mde: float,
    std: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    alternative: str = "two-sided",
) -> float:
    """Control-arm units for a two-sample t-test to detect an absolute change ``mde``.

    Effect size ``d = mde / std``; the result solves ``t_power(|d|, n) = power``,
    equal to ``TTestIndPower().solve_power(d, alpha=alpha, power=power, ratio=ratio,
    alternative=alternative)``. For a relative change pass ``mde = mean · rel``.
    Raises ``ValueError`` unless ``std > 0`` and ``mde != 0``.

    >>> round(sample_size_means(0.5, 10.0), 1)
    6280.0
    """
    _check_common(alpha, power, ratio, alternative)
    sd = _positive("std", std)
    if (
        isinstance(mde, bool)
        or not isinstance(mde, int | float)
        or not math.isfinite(mde)
        or (mde == 0)
    ):
        raise ValueError(f"mde must be a non-zero finite number, got {mde!r}")
    d = mde / sd
    if alternative == "less":
        d = -d
    effect = abs(d) if alternative == "two-sided" else d
    if effect <= 0:
        raise ValueError(f"mde {mde!r} points the other way than alternative={alternative!r}")
    alt = "greater" if alternative != "two-sided" else alternative
    # the smallest design with one degree of freedom: n_c (1 + ratio) - 2 = 1
    lower = 3.0 / (1.0 + ratio)
    return _solve(
        lambda n: t_power(effect, n, alpha=alpha, ratio=ratio, alternative=alt),
        effect,
        power,
        alpha,
        lower,
    )


def duration_days(total_units: float, daily_units: float) -> int:
    """Days to enrol ``total_units`` at ``daily_units`` new units a day, rounded up.

    >>> duration_days(387_702, 40_000)
    10
    """
    t = _positive("total_units", total_units)
    d = _positive("daily_units", daily_units)
    return math.ceil(t / d - 1e-12)
