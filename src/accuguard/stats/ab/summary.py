"""One entry point over summary statistics: pick the test from the statistic's type.

:func:`analyze_summary` is what the CLI, the rollout controller and the benchmark
call: arrays of per-arm sums for many experiment x metric pairs in, one
:class:`~accuguard.stats.ab.fixed.Comparison` with arrays out.
:func:`non_inferiority` checks guardrail metrics that must not get worse by more
than a margin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from accuguard.stats.ab.comparison import Comparison, check_alpha
from accuguard.stats.ab.fixed import (
    cuped_test,
    ratio_test,
    two_proportion_ztest,
    welch_ttest,
)
from accuguard.stats.ab.moments import (
    CupedStats,
    FloatArray,
    Proportion,
    RatioStats,
    SampleMean,
    Values,
)
from accuguard.stats.ab.sequential import DEFAULT_TUNING, make_sequential, msprt_p_value

Stats = SampleMean | Proportion | RatioStats | CupedStats
"""Any per-arm sufficient statistic."""


def analyze_summary(
    control: Stats,
    treatment: Stats,
    *,
    alpha: float = 0.05,
    alternative: str = "two-sided",
    null_value: Values = 0.0,
    relative: bool = False,
    sequential: bool = False,
    tuning: float = DEFAULT_TUNING,
    pooled: bool = False,
) -> Comparison:
    """Compare treatment with control from sufficient statistics, vectorised.

    The test follows the type of the statistics (both arms must have the same type):
    :class:`Proportion` -> :func:`two_proportion_ztest`, :class:`SampleMean` ->
    :func:`welch_ttest`, :class:`RatioStats` -> :func:`ratio_test`,
    :class:`CupedStats` -> :func:`cuped_test`. ``relative`` tests the lift
    ``Δ / mean_c`` instead of ``Δ``; ``sequential`` replaces the fixed-horizon p-value
    and intervals by always-valid ones (:func:`make_sequential`, two-sided only);
    ``pooled`` applies to proportions only. Every field may be an array: one call
    analyses thousands of experiment x metric pairs.

    >>> c = Proportion(n=[10_000, 20_000], successes=[320, 640])
    >>> t = Proportion(n=[10_000, 20_000], successes=[380, 700])
    >>> r = analyze_summary(c, t, relative=True)
    >>> [round(float(x), 3) for x in r.rel_diff], [round(float(x), 3) for x in r.p_value]
    ([0.187, 0.094], [0.034, 0.111])
    """
    if type(control) is not type(treatment):
        raise ValueError(
            "control and treatment must be the same kind of statistic, got "
            f"{type(control).__name__} and {type(treatment).__name__}"
        )
    if sequential and alternative != "two-sided":
        raise ValueError(f"sequential tests are two-sided only, got alternative={alternative!r}")
    if pooled and not isinstance(control, Proportion):
        raise ValueError(f"pooled=True applies to Proportion only, got {type(control).__name__}")
    result: Comparison
    if isinstance(control, Proportion) and isinstance(treatment, Proportion):
        result = two_proportion_ztest(
            control,
            treatment,
            alpha=alpha,
            alternative=alternative,
            null_value=null_value,
            relative=relative,
            pooled=pooled,
        )
    elif isinstance(control, SampleMean) and isinstance(treatment, SampleMean):
        result = welch_ttest(
            control,
            treatment,
            alpha=alpha,
            alternative=alternative,
            null_value=null_value,
            relative=relative,
        )
    elif isinstance(control, RatioStats) and isinstance(treatment, RatioStats):
        result = ratio_test(
            control,
            treatment,
            alpha=alpha,
            alternative=alternative,
            null_value=null_value,
            relative=relative,
        )
    elif isinstance(control, CupedStats) and isinstance(treatment, CupedStats):
        result = cuped_test(
            control,
            treatment,
            alpha=alpha,
            alternative=alternative,
            null_value=null_value,
            relative=relative,
        )
    else:
        raise ValueError(f"unsupported statistic type {type(control).__name__}")
    return make_sequential(result, tuning=tuning) if sequential else result


Verdict = Literal["non-inferior", "inferior", "inconclusive"]


@dataclass(frozen=True, eq=False)
class NonInferiority:
    """Guardrail result: the comparison, the bound used and a verdict per experiment.

    ``verdict`` is ``"non-inferior"`` (the interval excludes a worsening beyond the
    margin: the guardrail passes), ``"inferior"`` (the interval lies entirely beyond
    the margin: it fails) or ``"inconclusive"`` (not enough data yet). ``p_value``
    tests ``H0: worse by at least margin``. ``bound`` is the interval end on the
    "worse" side (lower end when higher is better).
    """

    comparison: Comparison
    margin: float
    relative: bool
    higher_is_better: bool
    p_value: FloatArray
    bound: FloatArray
    verdict: npt.NDArray[np.str_]

    @property
    def passed(self) -> npt.NDArray[np.bool_]:
        """``verdict == "non-inferior"``."""
        return np.asarray(self.verdict == "non-inferior")


def non_inferiority(
    control: Stats,
    treatment: Stats,
    *,
    margin: float,
    higher_is_better: bool = True,
    relative: bool = False,
    alpha: float = 0.05,
    sequential: bool = False,
    tuning: float = DEFAULT_TUNING,
) -> NonInferiority:
    """Non-inferiority test: treatment is not worse than control by more than ``margin``.

    With ``δ`` the difference (or lift if ``relative``) and ``m = margin >= 0``:
    higher is better -> ``H0: δ <= -m`` vs ``H1: δ > -m``; lower is better (latency,
    error rate) -> ``H0: δ >= m`` vs ``H1: δ < m``. Fixed horizon: the one-sided
    level-``α`` test, equivalently the ``1 - 2α`` two-sided interval's bound on the
    worse side against the margin. Sequential: the always-valid ``1 - α`` interval
    (conservative) and the mixture p-value against the margin. The comparison
    returned is the two-sided level-``α`` one for reporting.

    Reference: Wellek (2010), *Testing Statistical Hypotheses of Equivalence and
    Noninferiority*, 2nd ed., ch. 2; Schuirmann (1987), J. Pharmacokinet. Biopharm. 15.

    >>> from accuguard.stats.ab.moments import Proportion
    >>> c = Proportion(n=50_000, successes=500)   # 1.0 % errors
    >>> t = Proportion(n=50_000, successes=510)   # 1.02 % errors
    >>> r = non_inferiority(c, t, margin=0.002, higher_is_better=False)
    >>> str(r.verdict), round(float(r.bound), 5)
    ('non-inferior', 0.00124)
    """
    a = check_alpha(alpha)
    if (
        isinstance(margin, bool)
        or not isinstance(margin, int | float)
        or not (np.isfinite(margin) and margin >= 0)
    ):
        raise ValueError(f"margin must be a finite number >= 0, got {margin!r}")
    sign = -1.0 if higher_is_better else 1.0
    null = sign * float(margin)
    report = analyze_summary(
        control, treatment, alpha=a, relative=relative, sequential=sequential, tuning=tuning
    )
    if sequential:
        lo, hi = (
            (report.rel_lower, report.rel_upper)
            if relative
            else (report.diff_lower, report.diff_upper)
        )
        est, se = (report.rel_diff, report.rel_se) if relative else (report.diff, report.diff_se)
        n = report.control_n + report.treatment_n
        p = msprt_p_value(est, se, n, alpha=a, tuning=tuning, null_value=null)
        # the mixture p-value is two-sided: only a deviation to the good side counts
        p = np.where((est - null) * -sign > 0, p, 1.0)
    else:
        alt = "greater" if higher_is_better else "less"
        p = analyze_summary(
            control, treatment, alpha=a, alternative=alt, null_value=null, relative=relative
        ).p_value
        wide = analyze_summary(control, treatment, alpha=min(2 * a, 0.999), relative=relative)
        lo, hi = (
            (wide.rel_lower, wide.rel_upper) if relative else (wide.diff_lower, wide.diff_upper)
        )
    worse, better = (lo, hi) if higher_is_better else (hi, lo)
    if higher_is_better:
        ok, bad = worse > null, better < null
    else:
        ok, bad = worse < null, better > null
    verdict = np.where(ok, "non-inferior", np.where(bad, "inferior", "inconclusive"))
    return NonInferiority(
        comparison=report,
        margin=float(margin),
        relative=relative,
        higher_is_better=higher_is_better,
        p_value=np.asarray(p, np.float64),
        bound=np.asarray(worse, np.float64),
        verdict=np.asarray(verdict),
    )
