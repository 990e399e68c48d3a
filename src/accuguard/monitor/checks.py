"""The three monitors over one window: input drift, prediction drift, accuracy floor.

Each returns a :class:`MonitorResult` whose ``status`` is ``ok``, ``alert`` or
``insufficient`` (too few rows or labels to say anything; never an alert). The
statistics are the ones ``accuguard validate`` uses: column profiles compared with
:func:`accuguard.profile.columns.drift_between` (exact KS = ``scipy.stats.ks_2samp``,
Pearson chi-square = ``scipy.stats.chi2_contingency``) and Wilson intervals
(:func:`accuguard.stats.intervals.wilson_interval`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from accuguard.monitor.config import AccuracySettings, DriftSettings, PredictionDriftSettings
from accuguard.monitor.reference import Reference, profile_values
from accuguard.monitor.window import Window, same_label
from accuguard.profile.columns import ColumnProfile, NumericColumnProfile, drift_between
from accuguard.stats.drift import DriftResult
from accuguard.stats.intervals import wilson_interval

Status = Literal["ok", "alert", "insufficient"]

__all__ = ["MonitorResult", "accuracy_floor", "input_drift", "prediction_drift"]


def _num(value: float | None) -> float | None:
    """A JSON-safe number: NaN and infinities become ``None``."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class MonitorResult:
    """One monitor's verdict on one window.

    ``value`` is what was compared with ``threshold``: the share of drifted columns
    (input drift), the effect size (prediction drift) or the metric (accuracy).
    """

    monitor: str
    status: Status
    value: float | None
    threshold: float | None
    reason: str
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def alert(self) -> bool:
        """True when the monitor raised an alert."""
        return self.status == "alert"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (NaN becomes ``None``)."""
        return {
            "monitor": self.monitor,
            "status": self.status,
            "value": _num(self.value),
            "threshold": _num(self.threshold),
            "reason": self.reason,
            "detail": self.detail,
        }


def drift_dict(result: DriftResult) -> dict[str, Any]:
    """A drift verdict as a JSON-safe dict."""
    return {
        "method": result.method,
        "statistic": _num(result.statistic),
        "p_value": _num(result.p_value),
        "effect": _num(result.effect),
        "threshold": _num(result.threshold),
        "drifted": result.drifted,
    }


def input_drift(
    window: Window, reference: Reference, settings: DriftSettings, min_rows: int
) -> MonitorResult:
    """Drift of each reference column from the reference to the window's features.

    The per-column level is ``alpha / k`` for ``k`` columns under Bonferroni. Alerts when
    the share of drifted columns exceeds ``settings.max_drifted_share``.
    """
    needed = settings.min_rows or min_rows
    names = list(settings.columns) if settings.columns is not None else list(reference.columns)
    unknown = [n for n in names if n not in reference.columns]
    if unknown:
        raise ValueError(
            f"drift.columns {unknown} are not in the reference ({sorted(reference.columns)})"
        )
    if window.rows < needed or not names:
        return MonitorResult(
            "input_drift",
            "insufficient",
            None,
            settings.max_drifted_share,
            f"{window.rows} rows in the window, {needed} needed",
            {"rows": window.rows},
        )
    alpha = settings.alpha / len(names) if settings.correction == "bonferroni" else settings.alpha
    columns: dict[str, Any] = {}
    drifted: list[str] = []
    for name in names:
        kind = reference.kinds[name]
        current = profile_values([row.get(name) for row in window.features], kind)
        method = settings.numeric if kind == "numeric" else settings.categorical
        verdict = drift_between(
            reference.columns[name], current, method, alpha=alpha, threshold=settings.min_effect
        )
        columns[name] = drift_dict(verdict)
        if verdict.drifted:
            drifted.append(name)
    share = len(drifted) / len(names)
    alert = bool(drifted) and share > settings.max_drifted_share
    worst = sorted(drifted, key=lambda n: -(columns[n]["effect"] or 0.0))
    reason = (
        f"{len(drifted)}/{len(names)} columns drifted ({', '.join(worst)})"
        if drifted
        else f"no drift in {len(names)} columns"
    )
    detail = {"rows": window.rows, "alpha_per_column": alpha, "drifted": worst, "columns": columns}
    return MonitorResult(
        "input_drift", "alert" if alert else "ok", share, settings.max_drifted_share, reason, detail
    )


def score_profile(window: Window) -> NumericColumnProfile:
    """Profile of the window's finite scores."""
    return NumericColumnProfile.from_array(np.asarray(window.finite_scores(), dtype=np.float64))


def prediction_drift(
    current: ColumnProfile,
    baseline: ColumnProfile | None,
    settings: PredictionDriftSettings,
    min_rows: int,
    *,
    baseline_name: str,
) -> MonitorResult:
    """Drift of the champion's scores (numeric) or predicted labels (categorical).

    Numeric profiles use ``settings.method``; categorical ones chi-square. Alerts when
    the verdict is drifted (test significant and effect at least its minimum).
    """
    needed = settings.min_rows or min_rows
    if baseline is None:
        return MonitorResult(
            "prediction_drift",
            "insufficient",
            None,
            None,
            f"no baseline ({baseline_name})",
            {"baseline": baseline_name},
        )
    n_cur, n_base = _count(current), _count(baseline)
    if n_cur < needed or n_base < needed:
        return MonitorResult(
            "prediction_drift",
            "insufficient",
            None,
            None,
            f"{n_cur} current and {n_base} baseline predictions, {needed} needed",
            {"rows": n_cur, "baseline_rows": n_base, "baseline": baseline_name},
        )
    method = settings.method if isinstance(current, NumericColumnProfile) else "chi_square"
    verdict = drift_between(
        baseline, current, method, alpha=settings.alpha, threshold=settings.min_effect
    )
    reason = (
        f"{'drifted' if verdict.drifted else 'stable'}: {verdict.method} effect "
        f"{verdict.effect:.3g} (minimum {verdict.threshold:.3g}) vs {baseline_name}"
    )
    detail = {
        "rows": n_cur,
        "baseline_rows": n_base,
        "baseline": baseline_name,
        **drift_dict(verdict),
    }
    return MonitorResult(
        "prediction_drift",
        "alert" if verdict.drifted else "ok",
        verdict.effect,
        verdict.threshold,
        reason,
        detail,
    )


def _count(profile: ColumnProfile) -> int:
    return int(profile.count)


def _predicted(window: Window, settings: AccuracySettings) -> list[Any]:
    if settings.decision_threshold is None:
        return list(window.outputs)
    positive, threshold = settings.positive_label, settings.decision_threshold
    out: list[Any] = []
    for score, output in zip(window.scores, window.outputs, strict=True):
        if score is None or not math.isfinite(float(score)):
            out.append(output)  # no score: fall back to the predicted label
        else:
            out.append(positive if float(score) >= threshold else _NOT_POSITIVE)
    return out


_NOT_POSITIVE = object()  # a prediction that is not the positive class (never equal to a label)


def _correct(predicted: Any, label: Any, is_pos: Any) -> bool:
    if predicted is _NOT_POSITIVE:
        return not is_pos(label)
    return same_label(predicted, label)


def accuracy_floor(window: Window, settings: AccuracySettings) -> MonitorResult:
    """``settings.metric`` over the window's labelled rows, with a Wilson interval, vs the floor.

    Accuracy: correct / labelled. Recall: predicted positive / labelled positive.
    Precision: labelled positive / predicted positive. ``min_labels`` applies to the
    metric's denominator. Alerts per ``settings.alert_when``.
    """
    predicted = _predicted(window, settings)
    pos = settings.positive_label
    pairs = [(p, y) for p, y in zip(predicted, window.labels, strict=True) if y is not None]

    def is_pos(v: Any) -> bool:
        return v is not _NOT_POSITIVE and same_label(v, pos)

    if settings.metric == "accuracy":
        trials = len(pairs)
        hits = sum(1 for p, y in pairs if _correct(p, y, is_pos))
    elif settings.metric == "recall":
        positives = [p for p, y in pairs if is_pos(y)]
        trials, hits = len(positives), sum(1 for p in positives if is_pos(p))
    else:
        flagged = [y for p, y in pairs if is_pos(p)]
        trials, hits = len(flagged), sum(1 for y in flagged if is_pos(y))
    base = {
        "labelled": len(pairs),
        "trials": trials,
        "successes": hits,
        "metric": settings.metric,
        "confidence": settings.confidence,
        "alert_when": settings.alert_when,
    }
    if trials < settings.min_labels:
        return MonitorResult(
            "accuracy",
            "insufficient",
            None,
            settings.floor,
            f"{trials} labelled rows for {settings.metric}, {settings.min_labels} needed",
            base,
        )
    value = hits / trials
    low, high = wilson_interval(hits, trials, settings.confidence)
    compared = high if settings.alert_when == "upper_below_floor" else value
    breach = compared < settings.floor
    reason = (
        f"{settings.metric} {value:.3f} [{low:.3f}, {high:.3f}] on {trials} labels "
        f"{'below' if breach else 'not below'} the floor {settings.floor}"
    )
    return MonitorResult(
        "accuracy",
        "alert" if breach else "ok",
        value,
        settings.floor,
        reason,
        {**base, "ci_low": low, "ci_high": high},
    )
