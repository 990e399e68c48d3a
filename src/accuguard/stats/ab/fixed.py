"""Fixed-horizon tests of treatment against control, from sufficient statistics.

Each test returns a :class:`~accuguard.stats.ab.comparison.Comparison` holding, for
every experiment in the (broadcast) input arrays, the absolute difference
``Δ = mean_t - mean_c`` and the relative lift ``Δ / mean_c``, each with a standard
error and a confidence interval, and the p-value of the hypothesis test on the
scale chosen by ``relative``.

* :func:`two_proportion_ztest`: binary metrics, normal reference distribution.
* :func:`welch_ttest`: means with unequal variances, Student t with the
  Welch-Satterthwaite degrees of freedom.
* :func:`ratio_test`: ratio metrics (clicks per session), delta method.
* :func:`cuped_test`: means adjusted by a pre-experiment covariate (CUPED).

Relative lift uses the delta method for a ratio of independent means,
``Var(m_t / m_c) ≈ v_t / (m_c² n_t) + m_t² v_c / (m_c⁴ n_c)`` (Deng, Knoblich & Lu
2018), with the same reference distribution as the absolute test; this is also what
GrowthBook's gbstats computes. ``alternative`` is ``"two-sided"``, ``"greater"``
(treatment above ``null_value``) or ``"less"``; one-sided intervals are half-open,
as in :func:`scipy.stats.ttest_ind`. Undefined results (an arm with fewer than two
units, zero variance with zero difference, a control mean of 0 for the lift) are
``nan``.
"""

from __future__ import annotations

import numpy as np

from accuguard.stats.ab.comparison import (
    Comparison,
    check_alpha,
    check_alternative,
    interval,
    p_value,
    welch_dof,
)
from accuguard.stats.ab.moments import (
    CupedStats,
    FloatArray,
    Proportion,
    RatioStats,
    SampleMean,
    Values,
    _arr,
    _div,
)


def _relative(
    m_c: FloatArray,
    m_t: FloatArray,
    v_c: FloatArray,
    n_c: FloatArray,
    v_t: FloatArray,
    n_t: FloatArray,
    diff: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    rel = _div(diff, m_c)
    with np.errstate(all="ignore"):
        var = v_t / (m_c**2 * n_t) + v_c * m_t**2 / (m_c**4 * n_c)
    return rel, np.sqrt(np.where(m_c == 0, np.nan, var))


def _compare(
    method: str,
    *,
    n_c: FloatArray,
    n_t: FloatArray,
    m_c: FloatArray,
    m_t: FloatArray,
    diff: FloatArray,
    se: FloatArray,
    rel: FloatArray,
    rel_se: FloatArray,
    dof: FloatArray,
    alpha: float,
    alternative: str,
    null_value: Values,
    relative: bool,
    test_se: FloatArray | None = None,
) -> Comparison:
    alpha = check_alpha(alpha)
    alternative = check_alternative(alternative)
    null = _arr(null_value)
    if not np.all(np.isfinite(null)):
        raise ValueError(f"null_value must be finite, got {null_value!r}")
    lo, hi = interval(diff, se, dof, alpha, alternative)
    rlo, rhi = interval(rel, rel_se, dof, alpha, alternative)
    est, sd = (rel, rel_se) if relative else (diff, se if test_se is None else test_se)
    with np.errstate(all="ignore"):
        stat = (est - null) / sd
        signed_inf = np.where(est == null, np.nan, np.sign(est - null) * np.inf)
    stat = np.where(sd == 0, signed_inf, stat)
    shape = np.broadcast_shapes(diff.shape, null.shape)
    b = np.broadcast_to
    return Comparison(
        method=method,
        control_n=b(n_c, shape),
        treatment_n=b(n_t, shape),
        control_mean=b(m_c, shape),
        treatment_mean=b(m_t, shape),
        diff=b(diff, shape),
        diff_se=b(se, shape),
        diff_lower=b(lo, shape),
        diff_upper=b(hi, shape),
        rel_diff=b(rel, shape),
        rel_se=b(rel_se, shape),
        rel_lower=b(rlo, shape),
        rel_upper=b(rhi, shape),
        statistic=b(stat, shape),
        p_value=b(p_value(stat, dof, alternative), shape),
        dof=b(dof, shape),
        alpha=alpha,
        alternative=alternative,
        relative=relative,
        null_value=b(null, shape),
    )


def _means_test(
    method: str,
    m_c: FloatArray,
    v_c: FloatArray,
    n_c: FloatArray,
    m_t: FloatArray,
    v_t: FloatArray,
    n_t: FloatArray,
    *,
    alpha: float,
    alternative: str,
    null_value: Values,
    relative: bool,
    diff: FloatArray | None = None,
) -> Comparison:
    with np.errstate(all="ignore"):
        se = np.sqrt(v_c / n_c + v_t / n_t)
    d = m_t - m_c if diff is None else diff
    rel, rel_se = _relative(m_c, m_t, v_c, n_c, v_t, n_t, d)
    return _compare(
        method,
        n_c=n_c,
        n_t=n_t,
        m_c=m_c,
        m_t=m_t,
        diff=d,
        se=se,
        rel=rel,
        rel_se=rel_se,
        dof=welch_dof(v_c, n_c, v_t, n_t),
        alpha=alpha,
        alternative=alternative,
        null_value=null_value,
        relative=relative,
    )


def welch_ttest(
    control: SampleMean,
    treatment: SampleMean,
    *,
    alpha: float = 0.05,
    alternative: str = "two-sided",
    null_value: Values = 0.0,
    relative: bool = False,
) -> Comparison:
    """Welch's unequal-variance t-test of ``mean_t - mean_c`` (or the lift) vs ``null_value``.

    ``T = (Δ - null) / sqrt(s_c²/n_c + s_t²/n_t)`` against Student t with the
    Welch-Satterthwaite ``dof`` (:func:`welch_dof`); the interval is
    ``Δ ± t_{1-α/2, dof} se``. Equal to ``scipy.stats.ttest_ind(t, c,
    equal_var=False)`` and its ``confidence_interval()``. ``nan`` if an arm has
    fewer than 2 units.

    Reference: B. L. Welch (1947), "The generalization of Student's problem when
    several different population variances are involved", Biometrika 34.

    >>> c = SampleMean(n=1000, sum=10_000.0, sum_sq=125_000.0)
    >>> t = SampleMean(n=1000, sum=10_500.0, sum_sq=135_000.0)
    >>> r = welch_ttest(c, t)
    >>> round(float(r.diff), 3), round(float(r.p_value), 4), round(float(r.rel_diff), 3)
    (0.5, 0.0252, 0.05)
    """
    return _means_test(
        "welch",
        control.mean,
        control.variance,
        _arr(control.n),
        treatment.mean,
        treatment.variance,
        _arr(treatment.n),
        alpha=alpha,
        alternative=alternative,
        null_value=null_value,
        relative=relative,
    )


def two_proportion_ztest(
    control: Proportion,
    treatment: Proportion,
    *,
    alpha: float = 0.05,
    alternative: str = "two-sided",
    null_value: Values = 0.0,
    relative: bool = False,
    pooled: bool = False,
) -> Comparison:
    """Two-proportion z-test of ``p_t - p_c`` (or the lift ``p_t / p_c - 1``).

    ``Z = (p_t - p_c - null) / se`` against the standard normal, with the unpooled
    (Wald) ``se = sqrt(p_c(1-p_c)/n_c + p_t(1-p_t)/n_t)``; the interval is
    ``Δ ± z_{1-α/2} se`` (Wald). ``pooled=True`` uses the pooled
    ``p̄ = (x_c + x_t) / (n_c + n_t)``, ``se = sqrt(p̄(1-p̄)(1/n_c + 1/n_t))`` for the
    test statistic only (it needs ``null_value == 0`` on the absolute scale).
    Equal to statsmodels: ``test_proportions_2indep(method="wald")`` and
    ``confint_proportions_2indep(method="wald")``; with ``pooled=True``,
    ``proportions_ztest``. ``nan`` when an arm is empty.

    Reference: Agresti (2013), *Categorical Data Analysis*, 3rd ed., §3.1.2;
    Fleiss, Levin & Paik (2003), *Statistical Methods for Rates and Proportions*, ch. 4.

    >>> c, t = Proportion(n=10_000, successes=320), Proportion(n=10_000, successes=380)
    >>> r = two_proportion_ztest(c, t)
    >>> round(float(r.diff), 4), round(float(r.p_value), 5)
    (0.006, 0.02095)
    >>> round(float(two_proportion_ztest(c, t, pooled=True).p_value), 5)
    0.02097
    """
    n_c, n_t = _arr(control.n), _arr(treatment.n)
    p_c, p_t = control.mean, treatment.mean
    v_c, v_t = control.variance, treatment.variance
    with np.errstate(all="ignore"):
        se = np.sqrt(v_c / n_c + v_t / n_t)
    diff = p_t - p_c
    rel, rel_se = _relative(p_c, p_t, v_c, n_c, v_t, n_t, diff)
    test_se = None
    if pooled:
        if relative or np.any(_arr(null_value) != 0):
            raise ValueError(
                "pooled=True tests only p_t - p_c = 0; got "
                f"null_value={null_value!r}, relative={relative!r} (use pooled=False)"
            )
        pbar = _div(_arr(control.successes) + _arr(treatment.successes), n_c + n_t)
        with np.errstate(all="ignore"):
            test_se = np.sqrt(pbar * (1 - pbar) * (1 / n_c + 1 / n_t))
    inf = np.full(np.broadcast_shapes(n_c.shape, n_t.shape), np.inf)
    return _compare(
        "z-test-pooled" if pooled else "z-test",
        n_c=n_c,
        n_t=n_t,
        m_c=p_c,
        m_t=p_t,
        diff=diff,
        se=se,
        rel=rel,
        rel_se=rel_se,
        dof=inf,
        alpha=alpha,
        alternative=alternative,
        null_value=null_value,
        relative=relative,
        test_se=test_se,
    )


def ratio_test(
    control: RatioStats,
    treatment: RatioStats,
    *,
    alpha: float = 0.05,
    alternative: str = "two-sided",
    null_value: Values = 0.0,
    relative: bool = False,
) -> Comparison:
    """Test of a ratio metric ``R = Σx / Σy`` per arm with delta-method variances.

    ``Δ = R_t - R_c``, ``se² = V_c / n_c + V_t / n_t`` with ``V`` the per-unit
    delta-method variance (:attr:`RatioStats.variance`), compared with Student t
    on the Welch-Satterthwaite ``dof`` of those variances (as gbstats does; the
    method is asymptotic, and for large ``n`` this is the normal). ``nan`` if an
    arm's denominator sum is 0 or it has fewer than 2 units.

    Reference: Deng, Knoblich & Lu (2018), "Applying the delta method in metric
    analytics", KDD.

    >>> c = RatioStats.from_values(x=[1, 0, 3, 2, 1, 2], y=[2, 1, 3, 2, 2, 2])
    >>> t = RatioStats.from_values(x=[2, 1, 3, 3, 2, 2], y=[2, 1, 3, 3, 2, 2])
    >>> r = ratio_test(c, t)
    >>> round(float(r.control_mean), 4), round(float(r.diff), 4), round(float(r.p_value), 4)
    (0.75, 0.25, 0.1191)
    """
    return _means_test(
        "delta-ratio",
        control.ratio,
        control.variance,
        _arr(control.n),
        treatment.ratio,
        treatment.variance,
        _arr(treatment.n),
        alpha=alpha,
        alternative=alternative,
        null_value=null_value,
        relative=relative,
    )


def cuped_theta(control: CupedStats, treatment: CupedStats) -> FloatArray:
    """CUPED coefficient ``θ = cov(x, y) / var(x)`` on both arms pooled.

    Computed from the merged sums ``control + treatment`` (one ``θ`` for both arms,
    so the adjustment cannot bias the difference); ``0`` when the pooled covariate
    or metric has no variance (no adjustment, as in gbstats).

    Reference: Deng, Xu, Kohavi & Walker (2013), WSDM, §3.

    >>> c = CupedStats.from_values(y=[3.0, 5.0, 4.0], x=[1.0, 2.0, 2.0])
    >>> t = CupedStats.from_values(y=[4.0, 6.0, 8.0], x=[1.0, 2.0, 3.0])
    >>> round(float(cuped_theta(c, t)), 4)
    2.1176
    """
    pooled = control + treatment
    theta = pooled.theta
    ok = (pooled.var_x > 0) & (pooled.var_y > 0) & np.isfinite(theta)
    return np.asarray(np.where(ok, theta, 0.0), np.float64)


def cuped_test(
    control: CupedStats,
    treatment: CupedStats,
    *,
    alpha: float = 0.05,
    alternative: str = "two-sided",
    null_value: Values = 0.0,
    relative: bool = False,
) -> Comparison:
    """Welch test on CUPED-adjusted means ``mean_y - θ mean_x`` (θ from :func:`cuped_theta`).

    ``Δ = (ȳ_t - ȳ_c) - θ (x̄_t - x̄_c)``; per-arm variance
    ``var_y + θ² var_x - 2 θ cov_xy``; Student t on the Welch-Satterthwaite ``dof``.
    The relative lift divides by the *unadjusted* control mean, and
    ``control_mean``/``treatment_mean`` are the unadjusted means (as in gbstats).
    With an uninformative covariate it reduces to :func:`welch_ttest`.

    Reference: Deng, Xu, Kohavi & Walker (2013), "Improving the sensitivity of online
    controlled experiments by utilizing pre-experiment data", WSDM.

    >>> c = CupedStats.from_values(y=[3.0, 5.0, 4.0, 6.0], x=[1.0, 2.0, 2.0, 3.0])
    >>> t = CupedStats.from_values(y=[4.0, 6.0, 8.0, 7.0], x=[1.0, 2.0, 3.0, 3.0])
    >>> r = cuped_test(c, t)
    >>> round(float(r.diff), 4), round(float(r.diff_se), 4)
    (1.3077, 0.3156)
    """
    theta = cuped_theta(control, treatment)
    m_c, m_t = control.mean, treatment.mean
    diff = (m_t - m_c) - theta * (treatment.mean_x - control.mean_x)
    return _means_test(
        "cuped",
        m_c,
        control.adjusted_variance(theta),
        _arr(control.n),
        m_t,
        treatment.adjusted_variance(theta),
        _arr(treatment.n),
        alpha=alpha,
        alternative=alternative,
        null_value=null_value,
        relative=relative,
        diff=diff,
    )
