"""From per-arm sufficient statistics to an :class:`ExperimentReport`.

This is the part of the analysis that needs no file: the CLI aggregates events into
statistics (:mod:`accuguard.experiment.analysis`) and calls :func:`evaluate`; other
callers with statistics at hand (the rollout controller) can call it directly.

Order of the checks: the SRM test runs first and, when it flags the split, every
primary decision becomes ``untrusted_srm`` (lifts are still shown). Primary metrics x
treatment arms are then corrected together for multiple testing. Guardrails are not
part of the correction: a rollout needs *all* of them to pass, and requiring every
non-inferiority test to reject at ``α`` keeps the error of the "all pass" claim at
``α`` (intersection-union test, Berger 1982).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, cast

import numpy as np

import accuguard
from accuguard.experiment.report import (
    ArmResult,
    Bayesian,
    Decision,
    ExperimentReport,
    Guardrail,
    Inputs,
    Interval,
    MetricResult,
    Settings,
    Srm,
    Variant,
    num,
)
from accuguard.experiment.specs import GuardrailSpec, MetricSpec
from accuguard.stats.ab import (
    Comparison,
    CupedStats,
    Stats,
    adjust,
    analyze_summary,
    cuped_theta,
    expected_loss,
    non_inferiority,
    prob_beat_control,
    srm_test,
)
from accuguard.stats.ab.srm import SRM_THRESHOLD

Verdict = Literal["non-inferior", "inferior", "inconclusive"]
Kind = Literal["proportion", "mean", "ratio"]
Correction = Literal["none", "holm", "bh"]


@dataclass(frozen=True)
class MetricData:
    """One metric's statistics per variant, ready to test."""

    spec: MetricSpec
    kind: str  # resolved: proportion, mean or ratio
    stats: Mapping[str, Stats]
    guardrail: GuardrailSpec | None = None
    covariate: str | None = None
    winsorize_quantile: float | None = None
    cap: float | None = None


@dataclass(frozen=True)
class Options:
    """Analysis settings (defaults are the CLI's)."""

    alpha: float = 0.05
    sequential: bool = False
    tuning: float = 5000.0
    correction: str = "holm"
    srm_threshold: float = SRM_THRESHOLD
    bayesian: bool = False


def _interval(c: Comparison, relative: bool) -> Interval:
    if relative:
        return Interval(estimate=num(c.rel_diff), lower=num(c.rel_lower), upper=num(c.rel_upper))
    return Interval(estimate=num(c.diff), lower=num(c.diff_lower), upper=num(c.diff_upper))


def evaluate(
    *,
    units: Mapping[str, int],
    weights: Mapping[str, float],
    control: str,
    metrics: Sequence[MetricData],
    options: Options,
    inputs: Inputs,
    warnings: Sequence[str] = (),
) -> ExperimentReport:
    """Run SRM, the tests, the correction and the guardrails; return the report.

    ``units`` and ``weights`` list every variant (control first or not); ``metrics``
    hold per-variant statistics. Raises ``ValueError`` (from the statistics) for
    invalid settings.
    """
    names = list(weights)
    counts = [units.get(v, 0) for v in names]
    srm = srm_test(
        np.array(counts, float),
        np.array([weights[v] for v in names], float),
        threshold=options.srm_threshold,
    )
    flagged = bool(srm.flagged)
    total = sum(counts)
    wsum = sum(weights.values())
    variants = [
        Variant(
            name=v,
            units=int(units.get(v, 0)),
            expected_share=weights[v] / wsum,
            observed_share=(units.get(v, 0) / total) if total else None,
            is_control=v == control,
        )
        for v in names
    ]
    treatments = [v for v in names if v != control]
    results: list[MetricResult] = []
    primary: list[ArmResult] = []
    guardrail_arms: list[ArmResult] = []
    for m in metrics:
        arms: list[ArmResult] = []
        theta = None
        for v in (v for v in treatments if v in m.stats):  # a variant with no units: skipped
            c_stats, t_stats = m.stats[control], m.stats[v]
            comp = analyze_summary(
                c_stats,
                t_stats,
                alpha=options.alpha,
                sequential=options.sequential,
                tuning=options.tuning,
            )
            if isinstance(c_stats, CupedStats) and isinstance(t_stats, CupedStats):
                theta = num(float(cuped_theta(c_stats, t_stats)))
            bayes = None
            if options.bayesian:
                # "better" is higher, except for a lower-is-better guardrail
                lower = m.guardrail is not None and not m.guardrail.higher_is_better
                effect = -comp.diff if lower else comp.diff
                ship, keep = expected_loss(effect, comp.diff_se)
                bayes = Bayesian(
                    prob_beat_control=num(prob_beat_control(effect, comp.diff_se)),
                    expected_loss_treatment=num(ship),
                    expected_loss_control=num(keep),
                )
            guard = None
            if m.guardrail is not None:
                g = m.guardrail
                ni = non_inferiority(
                    c_stats,
                    t_stats,
                    margin=g.margin,
                    higher_is_better=g.higher_is_better,
                    relative=g.relative,
                    alpha=options.alpha,
                    sequential=options.sequential,
                    tuning=options.tuning,
                )
                guard = Guardrail(
                    margin=g.margin,
                    relative=g.relative,
                    direction="higher_is_better" if g.higher_is_better else "lower_is_better",
                    bound=num(ni.bound),
                    p_value=num(ni.p_value),
                    verdict=cast(Verdict, str(ni.verdict)),
                    passed=bool(ni.passed),
                )
            dof = float(comp.dof)
            arm = ArmResult(
                variant=v,
                units=int(units.get(v, 0)),
                mean=num(comp.treatment_mean),
                diff=_interval(comp, False),
                rel_diff=_interval(comp, True),
                statistic=num(comp.statistic),
                dof=None if math.isinf(dof) else num(dof),
                p_value=num(comp.p_value),
                adjusted_p_value=None,
                decision="undefined",
                bayesian=bayes,
                guardrail=guard,
            )
            arms.append(arm)
            (primary if m.guardrail is None else guardrail_arms).append(arm)
        results.append(
            MetricResult(
                name=m.spec.name,
                role="guardrail" if m.guardrail else "primary",
                kind=cast(Kind, m.kind),
                method=_method(m),
                column=m.spec.column,
                denominator=m.spec.denominator,
                covariate=m.covariate,
                cuped_theta=theta,
                winsorize_quantile=m.winsorize_quantile,
                cap=m.cap,
                control_units=int(units.get(control, 0)),
                control_mean=num(float(m.stats[control].mean)),
                arms=arms,
            )
        )
    p = np.array([a.p_value if a.p_value is not None else math.nan for a in primary])
    adjusted = adjust(p, options.correction) if len(p) else p
    for arm, p_adj in zip(primary, adjusted, strict=True):
        arm.adjusted_p_value = num(p_adj)
        arm.decision = _decide(num(p_adj), arm.diff.estimate, options.alpha, flagged)
    for arm in guardrail_arms:  # not corrected (intersection-union test, module docstring)
        arm.decision = _decide(arm.p_value, arm.diff.estimate, options.alpha, flagged)
    guards = [a.guardrail.passed for m in results for a in m.arms if a.guardrail is not None]
    return ExperimentReport(
        accuguard_version=accuguard.__version__,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        trustworthy=not flagged,
        guardrails_passed=all(guards) if guards else None,
        inputs=inputs,
        settings=Settings(
            alpha=options.alpha,
            sequential=options.sequential,
            tuning=options.tuning if options.sequential else None,
            correction=cast(Correction, options.correction),
            srm_threshold=options.srm_threshold,
            bayesian=options.bayesian,
        ),
        variants=variants,
        srm=Srm(
            statistic=num(float(srm.statistic)),
            dof=srm.dof,
            p_value=num(float(srm.p_value)),
            threshold=srm.threshold,
            flagged=flagged,
        ),
        metrics=results,
        warnings=list(warnings),
    )


def _method(m: MetricData) -> str:
    if m.covariate is not None:
        return "cuped"
    return {"proportion": "z-test", "mean": "welch", "ratio": "delta-ratio"}[m.kind]


def _decide(p_adj: float | None, diff: float | None, alpha: float, srm: bool) -> Decision:
    if srm:
        return "untrusted_srm"
    if p_adj is None or diff is None:
        return "undefined"
    if p_adj < alpha:
        return "increase" if diff > 0 else "decrease"
    return "no_significant_difference"
