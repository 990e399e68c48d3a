"""Always-valid p-values and confidence sequences: look at the results as often as you like.

A fixed-horizon test is valid only if it is looked at once, at the planned sample
size. Checking a dashboard every hour and stopping at the first ``p < 0.05`` inflates
the false-positive rate far above 5 %. The normal-mixture sequential probability
ratio test (mSPRT) fixes this: with the estimate ``θ̂`` after ``N`` units, its standard
error ``se`` and ``z = (θ̂ - θ₀) / se``, the mixture likelihood ratio (an e-value) is

    Λ = exp(ρ² N z² / (2 (N ρ² + 1))) / sqrt(N ρ² + 1)

and ``P(Λ ever exceeds 1/α | H₀) <= α`` (Ville's inequality). So ``p = min(1, 1/Λ)``
may be recomputed after every new unit, and rejecting at the first ``p <= α`` keeps
the false-positive rate at most ``α``. Inverting the test gives the confidence
sequence ``θ̂ ± se sqrt(2 (N ρ² + 1) / (N ρ²) · log(sqrt(N ρ² + 1) / α))``, which covers
the true effect at every ``N`` simultaneously with probability ``1 - α``.

``ρ`` is the mixing scale in units of the per-unit standard deviation; it is chosen
so that the boundary is tightest at ``N = tuning`` units (eq. 161 of Waudby-Smith et
al.), ``ρ² = (-2 log α + log(1 - 2 log α)) / tuning``. With ``τ = σ ρ`` this is exactly
the mSPRT of Johari et al. with a ``N(θ₀, τ²)`` mixture, and it is the asymptotic
confidence sequence that GrowthBook's gbstats uses (default ``tuning = 5000``). The
guarantee is asymptotic (it uses the estimated variance and the CLT); the simulation
tests check it on 20 interim looks.

References: Johari, Koomen, Pekelis & Walsh (2017), "Peeking at A/B tests: why it
matters, and what to do about it", KDD; Howard, Ramdas, McAuliffe & Sekhon (2021),
"Time-uniform, nonparametric, nonasymptotic confidence sequences", Ann. Statist. 49(2);
Waudby-Smith, Arbour, Sinha, Kennedy & Ramdas (2023), "Time-uniform central limit
theory and asymptotic confidence sequences", arXiv:2103.06476v7.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from accuguard.stats.ab.comparison import Comparison, check_alpha
from accuguard.stats.ab.moments import FloatArray, Values, _arr

DEFAULT_TUNING = 5000.0


def _check_tuning(tuning: float) -> float:
    if (
        isinstance(tuning, bool)
        or not isinstance(tuning, int | float)
        or not (math.isfinite(tuning) and tuning > 0)
    ):
        raise ValueError(f"tuning must be a positive number of units, got {tuning!r}")
    return float(tuning)


def mixture_rho(alpha: float = 0.05, tuning: float = DEFAULT_TUNING) -> float:
    """Mixing scale ``ρ = sqrt((-2 log α + log(1 - 2 log α)) / tuning)``.

    Makes the confidence sequence narrowest at ``N = tuning`` total units.
    Reference: Waudby-Smith et al. (2023), arXiv:2103.06476v7, eq. 161.

    >>> round(mixture_rho(0.05, 5000), 6)
    0.03984
    """
    a = check_alpha(alpha)
    t = _check_tuning(tuning)
    return math.sqrt((-2.0 * math.log(a) + math.log(1.0 - 2.0 * math.log(a))) / t)


def _n(n: Values) -> FloatArray:
    arr = _arr(n)
    if np.any(arr < 0) or not np.all(np.isfinite(arr)):
        raise ValueError(f"n must be finite counts >= 0, got {n!r}")
    return arr


def msprt_p_value(
    estimate: Values,
    se: Values,
    n: Values,
    *,
    alpha: float = 0.05,
    tuning: float = DEFAULT_TUNING,
    null_value: Values = 0.0,
) -> FloatArray:
    """Always-valid p-value ``min(1, 1/Λ)`` of the normal-mixture SPRT (module docstring).

    ``estimate`` and ``se`` are the current estimate of the effect and its standard
    error, ``n`` the total number of units so far (both arms). ``nan`` where ``se``
    is ``nan`` or ``0`` with ``estimate == null_value``; ``0`` where ``se == 0`` and the
    estimate differs from the null.

    Reference: Johari et al. (2017), KDD; Waudby-Smith et al. (2023), eq. 155.

    >>> round(float(msprt_p_value(0.05, 0.02, 20_000)), 4)
    0.2766
    >>> f"{float(msprt_p_value(0.05, 0.01, 20_000)):.2e}"
    '3.12e-05'
    """
    rho2 = mixture_rho(alpha, tuning) ** 2
    nn = _n(n)
    with np.errstate(all="ignore"):
        z2 = ((_arr(estimate) - _arr(null_value)) / _arr(se)) ** 2
        log_lambda = rho2 * nn * z2 / (2.0 * (nn * rho2 + 1.0)) - 0.5 * np.log1p(nn * rho2)
        p = np.minimum(1.0, np.exp(-log_lambda))
    return np.asarray(p, dtype=np.float64)


def confidence_sequence(
    estimate: Values,
    se: Values,
    n: Values,
    *,
    alpha: float = 0.05,
    tuning: float = DEFAULT_TUNING,
) -> tuple[FloatArray, FloatArray]:
    """Always-valid ``1 - α`` interval ``estimate ± se · sqrt(2(Nρ²+1)/(Nρ²) log(sqrt(Nρ²+1)/α))``.

    Covers the true effect at all ``N`` at once with probability ``>= 1 - α``
    (asymptotically). Infinite when ``n == 0``.

    Reference: Waudby-Smith et al. (2023), arXiv:2103.06476v7, eq. 9 and 161.

    >>> lo, hi = confidence_sequence(0.05, 0.01, 20_000)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.0187, 0.0813)
    """
    rho2 = mixture_rho(alpha, tuning) ** 2
    nn = _n(n)
    a = check_alpha(alpha)
    with np.errstate(all="ignore"):
        v = nn * rho2
        mult = np.sqrt(2.0 * (v + 1.0) / v * (0.5 * np.log1p(v) - math.log(a)))
        half = _arr(se) * mult
    est = _arr(estimate)
    return np.asarray(est - half, np.float64), np.asarray(est + half, np.float64)


def make_sequential(comparison: Comparison, *, tuning: float = DEFAULT_TUNING) -> Comparison:
    """The same comparison with always-valid intervals and p-values (two-sided only).

    Uses ``N = control_n + treatment_n``, the comparison's standard errors and its
    ``alpha``; the p-value is on the comparison's scale (``relative``). The reference
    distribution becomes the normal (``dof = inf``). Raises ``ValueError`` for a
    one-sided comparison.

    >>> from accuguard.stats.ab.fixed import two_proportion_ztest
    >>> from accuguard.stats.ab.moments import Proportion
    >>> c = two_proportion_ztest(Proportion(n=10_000, successes=320),
    ...                          Proportion(n=10_000, successes=380))
    >>> s = make_sequential(c)
    >>> round(float(c.p_value), 4), round(float(s.p_value), 4), s.sequential
    (0.021, 0.4319, True)
    """
    c = comparison
    if c.alternative != "two-sided":
        raise ValueError(f"sequential tests are two-sided only, got alternative={c.alternative!r}")
    n = c.control_n + c.treatment_n
    lo, hi = confidence_sequence(c.diff, c.diff_se, n, alpha=c.alpha, tuning=tuning)
    rlo, rhi = confidence_sequence(c.rel_diff, c.rel_se, n, alpha=c.alpha, tuning=tuning)
    est, se = (c.rel_diff, c.rel_se) if c.relative else (c.diff, c.diff_se)
    p = msprt_p_value(est, se, n, alpha=c.alpha, tuning=tuning, null_value=c.null_value)
    with np.errstate(all="ignore"):
        stat = (est - c.null_value) / se
    return dataclasses.replace(
        c,
        diff_lower=lo,
        diff_upper=hi,
        rel_lower=rlo,
        rel_upper=rhi,
        p_value=p,
        statistic=np.asarray(stat, np.float64),
        dof=np.full(c.shape, np.inf),
        sequential=True,
    )
