"""Turn performance profiles into report sections (performance, comparison, fairness)."""

from __future__ import annotations

import math
from typing import Any, Literal, cast

from scipy import stats as sps

from accuguard.profile.performance import fairness_gaps, segment_table
from accuguard.report import validation as rpt
from accuguard.report.validation import nan_to_none
from accuguard.stats.intervals import mean_interval
from accuguard.stats.paired import PairedResult, mcnemar_accuracy, paired_verdict
from accuguard.validate.config import ValidationConfig
from accuguard.validate.performance import PerformanceResult

Verdict = Literal["better", "not_worse", "worse", "inconclusive"]


def performance_section(
    perf: PerformanceResult, profile: Any, cfg: ValidationConfig
) -> rpt.Performance:
    """Metrics with intervals (and the confusion matrix) of one model's profile."""
    metrics = {
        name: rpt.Estimate(
            value=nan_to_none(e.value),
            lower=nan_to_none(e.lower),
            upper=nan_to_none(e.upper),
            method=e.method,
        )
        for name, e in profile.metrics(confidence=cfg.confidence).items()
    }
    matrix = None
    if perf.task == "binary":
        positive = _positive_name(perf)
        negatives = [str(v) for v in perf.labels if str(v) != positive] or ["(negative)"]
        matrix = rpt.ConfusionMatrix(
            labels=[negatives[0], positive],
            matrix=[[int(x) for x in row] for row in profile.confusion_matrix],
        )
    elif perf.task == "multiclass":
        matrix = rpt.ConfusionMatrix(
            labels=[str(v) for v in profile.labels],
            matrix=[[int(x) for x in row] for row in profile.confusion],
        )
    return rpt.Performance(
        task=perf.task,
        rows=int(profile.n),
        rows_without_label=perf.rows_without_label,
        positive_label=_positive_name(perf) if perf.task == "binary" else None,
        metrics=metrics,
        confusion_matrix=matrix,
    )


def comparison_section(perf: PerformanceResult, cfg: ValidationConfig) -> rpt.Comparison:
    """Paired champion-vs-challenger tests on the same rows, and the overall verdict
    (the least favourable of the metrics' verdicts, see :func:`overall_verdict`)."""
    p = perf.paired
    if p is None:
        raise ValueError("comparison_section needs the paired profile of a challenger")
    if perf.task == "binary":
        results = list(p.compare(margin=cfg.margin, confidence=cfg.confidence))
    elif perf.task == "multiclass":
        results = [
            mcnemar_accuracy(
                p.champion_only,
                p.challenger_only,
                p.n,
                p.champion_correct,
                p.challenger_correct,
                margin=cfg.margin,
                confidence=cfg.confidence,
            )
        ]
    else:
        results = [_paired_mae(p, cfg)]
    items = [
        rpt.PairedComparison(
            metric=r.metric,
            champion=nan_to_none(r.champion),
            challenger=nan_to_none(r.challenger),
            difference=nan_to_none(r.difference),
            lower=nan_to_none(r.lower),
            upper=nan_to_none(r.upper),
            p_value=nan_to_none(r.p_value),
            method=r.method,
            verdict=cast(Verdict, r.verdict),
        )
        for r in results
    ]
    return rpt.Comparison(
        margin=cfg.margin, verdict=overall_verdict([i.verdict for i in items]), metrics=items
    )


_ORDER = ("worse", "inconclusive", "not_worse", "better")


def overall_verdict(verdicts: list[str]) -> Verdict:
    """The least favourable verdict: a challenger is only as good as its worst metric.

    >>> overall_verdict(["better", "not_worse", "worse"])
    'worse'
    """
    return cast(Verdict, min(verdicts, key=_ORDER.index)) if verdicts else "inconclusive"


def fairness_section(perf: PerformanceResult) -> dict[str, rpt.SegmentColumn]:
    """Per-segment tables and the largest gaps, per segment column."""
    out: dict[str, rpt.SegmentColumn] = {}
    for column, profiles in perf.segments.items():
        if perf.task == "binary":
            table = segment_table(profiles)
            gaps = {name: vars(gap) for name, gap in fairness_gaps(profiles).items()}
        else:
            table = {
                seg: {k: e.value for k, e in p.metrics(confidence=0.95).items()}
                for seg, p in profiles.items()
            }
            gaps = {}
        out[column] = rpt.SegmentColumn(
            table={s: {k: nan_to_none(v) for k, v in row.items()} for s, row in table.items()},
            gaps={
                k: {kk: (nan_to_none(vv) if isinstance(vv, float) else vv) for kk, vv in g.items()}
                for k, g in gaps.items()
            },
        )
    return out


def _paired_mae(p: Any, cfg: ValidationConfig) -> PairedResult:
    """Paired difference of absolute errors (champion |e| - challenger |e|): normal CI."""
    est = mean_interval(p.n, p.diff_sum, p.diff_sum_sq, cfg.confidence)
    var = (p.diff_sum_sq - p.diff_sum**2 / p.n) / max(p.n - 1, 1)
    se = math.sqrt(var / p.n) if var > 0 else math.nan
    z = est.value / se if se and se == se else math.nan
    p_value = float(2 * sps.norm.sf(abs(z))) if z == z else math.nan
    verdict = paired_verdict(est.lower, est.upper, cfg.margin)
    return PairedResult(
        metric="mae_reduction",
        champion=math.nan,
        challenger=math.nan,
        difference=est.value,
        lower=est.lower,
        upper=est.upper,
        p_value=p_value,
        method="paired-normal",
        verdict=verdict,
    )


def _positive_name(perf: PerformanceResult) -> str:
    return str(perf.positive)
