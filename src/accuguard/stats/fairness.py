"""Largest gaps of a metric across segments (group fairness).

The gap is ``max over segments - min over segments`` of a per-segment value, the
"between groups, difference" aggregation of fairlearn's ``MetricFrame.difference()``.
Segments whose value is ``nan`` (the metric is undefined there, e.g. recall in a
segment without positives) are ignored; with no defined segment the gap is ``nan``.
Ties are broken by segment name (the first in sorted order wins), so results are
deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class SegmentGap:
    """The segments with the highest and lowest value of a metric, and their gap.

    ``gap = max_value - min_value`` (``>= 0``); ``nan`` values and empty segment names
    when no segment has a defined value.

    >>> SegmentGap("recall", "a", 0.9, "b", 0.7, 0.2).gap
    0.2
    """

    metric: str
    max_segment: str
    max_value: float
    min_segment: str
    min_value: float
    gap: float


def largest_gap(values: Mapping[str, float], metric: str) -> SegmentGap:
    """``max_s v_s - min_s v_s`` over the segments ``s`` whose value ``v_s`` is not nan.

    One defined segment gives a gap of 0; none gives ``nan``. Raises ``ValueError`` if
    a value is not a real number.

    Reference: fairlearn ``MetricFrame.difference(method="between_groups")``; Barocas,
    Hardt & Narayanan (2023), *Fairness and Machine Learning*, ch. 3.

    >>> g = largest_gap({"a": 0.9, "b": 0.7, "c": float("nan")}, "recall")
    >>> g.max_segment, g.min_segment, round(g.gap, 3)
    ('a', 'b', 0.2)
    """
    defined: list[tuple[str, float]] = []
    for segment in sorted(values, key=str):
        try:
            value = float(values[segment])
        except (TypeError, ValueError):
            raise ValueError(
                f"values[{segment!r}] must be a number, got {values[segment]!r}"
            ) from None
        if not math.isnan(value):
            defined.append((str(segment), value))
    if not defined:
        return SegmentGap(metric, "", math.nan, "", math.nan, math.nan)
    top = bottom = defined[0]
    for item in defined[1:]:
        if item[1] > top[1]:
            top = item
        if item[1] < bottom[1]:
            bottom = item
    return SegmentGap(metric, top[0], top[1], bottom[0], bottom[1], top[1] - bottom[1])


def demographic_parity_difference(positive_rates: Mapping[str, float]) -> SegmentGap:
    """Largest gap in the share predicted positive, ``P(y_pred = 1 | segment)``.

    Equal to fairlearn's ``demographic_parity_difference`` (between-groups difference of
    selection rates); see :func:`largest_gap` for undefined segments.

    Reference: Calders & Verwer (2010); fairlearn ``metrics.demographic_parity_difference``.

    >>> round(demographic_parity_difference({"f": 0.30, "m": 0.42}).gap, 2)
    0.12
    """
    return largest_gap(positive_rates, "demographic_parity_difference")


def equal_opportunity_difference(recalls: Mapping[str, float]) -> SegmentGap:
    """Largest gap in the true-positive rate (recall) across segments.

    Equal to fairlearn's ``equal_opportunity_difference`` (between-groups difference of
    true-positive rates); segments without positives have ``nan`` recall and are ignored.

    Reference: Hardt, Price & Srebro (2016), "Equality of opportunity in supervised
    learning", NeurIPS.

    >>> round(equal_opportunity_difference({"f": 0.8, "m": 0.65}).gap, 2)
    0.15
    """
    return largest_gap(recalls, "equal_opportunity_difference")
