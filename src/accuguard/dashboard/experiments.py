"""A deployment's A/B experiment, analysed from SQL sufficient statistics.

The arms are the champion and the deployment's ``ab`` challengers; the expected split is
their ``split`` (docs/gateway.md). Per arm and business-event name,
:func:`accuguard.dashboard.queries.experiment_sums` returns the exposed units and the
sums of per-unit totals; this module turns them into
:class:`~accuguard.stats.ab.Proportion` (every unit's total is 0 or 1) or
:class:`~accuguard.stats.ab.SampleMean` statistics and runs
:func:`accuguard.experiment.evaluate.evaluate`: the SRM check, the lifts with their
intervals and, because a dashboard is looked at again and again, *sequential*
(always-valid) p-values and intervals, so peeking does not inflate the error rate.

The planned sample size per arm is the one that detects a relative change of
``mde`` (default 5 %) with power 0.8 at ``alpha`` on the control's observed mean and
variance (:func:`accuguard.stats.ab.sample_size_proportions` /
:func:`~accuguard.stats.ab.sample_size_means`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from accuguard.experiment.evaluate import MetricData, Options, evaluate
from accuguard.experiment.report import ExperimentReport, Inputs
from accuguard.experiment.specs import MetricSpec
from accuguard.stats.ab import Proportion, SampleMean, sample_size_means, sample_size_proportions
from accuguard.store.business import MetricSums

CONTROL = "champion"


@dataclass
class Planned:
    """Planned units per arm for one metric against the units each arm reached."""

    metric: str
    per_arm: float | None
    reached: dict[str, int] = field(default_factory=dict)
    note: str = ""

    @property
    def share(self) -> float | None:
        """The least-reached arm's share of the plan (1.0 = reached)."""
        if not self.per_arm or not self.reached:
            return None
        return min(self.reached.values()) / self.per_arm


def is_proportion(sums: Mapping[str, tuple[int, int, float, float]]) -> bool:
    """True when every unit's total is 0 or 1: Σ total = Σ total² = units with the event."""
    return all(
        math.isclose(s, k, abs_tol=1e-9) and math.isclose(s2, k, abs_tol=1e-9)
        for (_, k, s, s2) in sums.values()
    )


def arm_stats(sums: Mapping[str, tuple[int, int, float, float]]) -> tuple[str, dict[str, Any]]:
    """``(kind, {arm: statistics})`` of one metric's per-arm sums."""
    if is_proportion(sums):
        return "proportion", {a: Proportion(n=n, successes=k) for a, (n, k, _, _) in sums.items()}
    return "mean", {a: SampleMean(n=n, sum=s, sum_sq=s2) for a, (n, _, s, s2) in sums.items()}


def planned_units(
    kind: str, control: Any, mde: float, alpha: float, reached: dict[str, int], name: str
) -> Planned:
    """Units per arm to detect a relative change ``mde`` with power 0.8 (see module doc)."""
    mean = float(control.mean)
    try:
        if kind == "proportion":
            n = sample_size_proportions(mean, mde, relative=True, alpha=alpha)
        else:
            n = sample_size_means(mean * mde, float(control.std), alpha=alpha)
    except (ValueError, ZeroDivisionError):
        return Planned(name, None, reached, "not enough control data to plan")
    if not math.isfinite(n):
        return Planned(name, None, reached, "not enough control data to plan")
    return Planned(name, float(math.ceil(n)), reached)


def analyse(
    deployment: str,
    units: Mapping[str, int],
    sums: MetricSums,
    split: Mapping[str, float],
    *,
    alpha: float = 0.05,
    mde: float = 0.05,
) -> tuple[ExperimentReport | None, list[Planned]]:
    """The experiment report and the planned sample sizes (None without control units)."""
    arms = [a for a in split if units.get(a, 0) > 0]  # arms with units get statistics
    if CONTROL not in arms or len(arms) < 2:
        return None, []
    metrics, plans = [], []
    for name in sorted(sums):
        kind, stats = arm_stats({a: sums[name][a] for a in arms})
        spec = MetricSpec(
            name=name, kind="proportion" if kind == "proportion" else "mean", column=name
        )
        metrics.append(MetricData(spec=spec, kind=kind, stats=stats))
        reached = {a: int(units.get(a, 0)) for a in arms}
        plans.append(planned_units(kind, stats[CONTROL], mde, alpha, reached, name))
    total = int(sum(units.get(a, 0) for a in split))
    inputs = Inputs(
        events=f"event log: business_events of deployment {deployment}",
        rows=total,
        unit="unit_hash",
        variant="variant",
        control=CONTROL,
        units=total,
        units_in_several_variants=0,
        rows_without_unit_or_variant=0,
    )
    report = evaluate(
        units={a: int(units.get(a, 0)) for a in split},  # an empty arm is an SRM too
        weights={a: float(w) for a, w in split.items()},
        control=CONTROL,
        metrics=metrics,
        options=Options(alpha=alpha, sequential=True),
        inputs=inputs,
    )
    return report, plans
