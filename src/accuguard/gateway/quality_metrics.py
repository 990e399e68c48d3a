"""Model-quality metrics of one gateway: the champion monitors and the rollouts.

Read at scrape time from what the gateway already holds, never from the database:
the monitors' last reports (:class:`accuguard.monitor.runner.MonitorRunner`, only on
the replica holding the monitor lease) and the rollout snapshot
(:class:`accuguard.rollout.watch.RolloutWatch`, on every replica). Names and labels:

- ``accuguard_monitor_value{deployment, monitor}``: what the monitor compared with its
  threshold (input drift: share of drifted columns; prediction drift: the effect size;
  accuracy: the metric on the window's labels), absent while ``insufficient``;
- ``accuguard_monitor_threshold{deployment, monitor}``: ``max_drifted_share``, the
  effect minimum, or the accuracy floor;
- ``accuguard_monitor_alert{deployment, monitor}``: 1 while the last check alerted;
- ``accuguard_monitor_status{deployment, monitor, status}``: 1 for the last status
  (``ok``, ``alert``, ``insufficient``);
- ``accuguard_monitor_column_drift_effect{deployment, column}`` and
  ``accuguard_monitor_column_drifted{deployment, column}``: per feature column;
- ``accuguard_monitor_last_run_timestamp_seconds{deployment}``;
- ``accuguard_rollout_state{deployment, state}``: 1 for the state of the latest
  rollout (``running``, ``paused``, ``promoted``, ``rolled_back``);
- ``accuguard_rollout_info{deployment, rollout_id, step, champion_version,
  challenger_version}`` = 1 and ``accuguard_rollout_step{deployment}`` (0-based);
- ``accuguard_rollout_gate_status{deployment, status}``: the last gate result;
- ``accuguard_rollout_check_status{deployment, check, status}``,
  ``accuguard_rollout_check_value{deployment, check}`` (the SRM check's value is its
  chi-square p-value), ``accuguard_rollout_check_threshold{deployment, check}`` and
  ``accuguard_rollout_arm_value{deployment, check, arm}`` (a metric per arm,
  ``champion`` / ``challenger``);
- ``accuguard_rollout_updated_timestamp_seconds{deployment}``: last change of the row;
- ``accuguard_rollout_decisions_total{deployment, decision}``: decisions audited since
  the process started.

A monitor report older than ``3 * interval_s + lease_ttl_s`` is not shown: the replica
lost the lease and another one reports now.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from accuguard.monitor.runner import MonitorRunner
    from accuguard.monitor.service import MonitorReport
    from accuguard.rollout.runtime import RolloutService
    from accuguard.rollout.watch import RolloutSnapshot

log = logging.getLogger("accuguard.gateway")

MONITOR_STATUSES = ("ok", "alert", "insufficient")
ROLLOUT_STATES = ("running", "paused", "promoted", "rolled_back")
CHECK_STATUSES = ("pass", "fail", "inconclusive")


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


def fresh_reports(runner: MonitorRunner | None, now: float) -> list[MonitorReport]:
    """The runner's last reports that are recent enough to be the truth."""
    if runner is None:
        return []
    stale_after = 3 * runner.interval_s + runner.lease_ttl_s
    reports = list(runner.last_reports.values())
    return [r for r in reports if now - r.checked_at <= stale_after]


def monitor_families(reports: list[MonitorReport]) -> list[Metric]:
    """The ``accuguard_monitor_*`` families of these reports."""
    dm = ["deployment", "monitor"]
    value = _gauge("accuguard_monitor_value", "Monitor value compared with its threshold", dm)
    threshold = _gauge("accuguard_monitor_threshold", "Monitor threshold", dm)
    alert = _gauge("accuguard_monitor_alert", "1 while the monitor's last check alerted", dm)
    status = _gauge(
        "accuguard_monitor_status", "1 for the last status of the monitor", [*dm, "status"]
    )
    dc = ["deployment", "column"]
    effect = _gauge(
        "accuguard_monitor_column_drift_effect", "Drift effect size of a feature column", dc
    )
    drifted = _gauge("accuguard_monitor_column_drifted", "1 when the column drifted", dc)
    last = _gauge(
        "accuguard_monitor_last_run_timestamp_seconds",
        "Unix time of the monitors' last check",
        ["deployment"],
    )
    for report in reports:
        d = report.deployment
        last.add_metric([d], report.checked_at)
        for result in report.results:
            labels = [d, result.monitor]
            if (v := _finite(result.value)) is not None:
                value.add_metric(labels, v)
            if (t := _finite(result.threshold)) is not None:
                threshold.add_metric(labels, t)
            alert.add_metric(labels, 1.0 if result.alert else 0.0)
            for s in MONITOR_STATUSES:
                status.add_metric([*labels, s], 1.0 if result.status == s else 0.0)
            for column, verdict in (result.detail.get("columns") or {}).items():
                if (e := _finite(verdict.get("effect"))) is not None:
                    effect.add_metric([d, str(column)], e)
                drifted.add_metric([d, str(column)], 1.0 if verdict.get("drifted") else 0.0)
    return [value, threshold, alert, status, effect, drifted, last]


def rollout_families(snapshot: RolloutSnapshot) -> list[Metric]:
    """The ``accuguard_rollout_*`` families of this snapshot."""
    state = _gauge(
        "accuguard_rollout_state", "1 for the latest rollout's state", ["deployment", "state"]
    )
    info = _gauge(
        "accuguard_rollout_info",
        "1 for the latest rollout of the deployment",
        ["deployment", "rollout_id", "step", "champion_version", "challenger_version"],
    )
    step = _gauge("accuguard_rollout_step", "Current step index (0-based)", ["deployment"])
    gate = _gauge(
        "accuguard_rollout_gate_status", "1 for the last gate result", ["deployment", "status"]
    )
    dc = ["deployment", "check"]
    check_status = _gauge(
        "accuguard_rollout_check_status", "1 for the check's last status", [*dc, "status"]
    )
    check_value = _gauge("accuguard_rollout_check_value", "The check's last value", dc)
    check_threshold = _gauge("accuguard_rollout_check_threshold", "The check's threshold", dc)
    arm = _gauge("accuguard_rollout_arm_value", "A compared metric per arm", [*dc, "arm"])
    updated = _gauge(
        "accuguard_rollout_updated_timestamp_seconds",
        "Unix time of the rollout's last change",
        ["deployment"],
    )
    decisions = CounterMetricFamily(
        "accuguard_rollout_decisions",
        "Rollout decisions in the audit log since the process started",
        labels=["deployment", "decision"],
    )
    for (deployment, decision), count in sorted(snapshot.decisions.items()):
        decisions.add_metric([deployment, decision], float(count))
    for d, r in sorted(snapshot.rollouts.items()):
        for s in ROLLOUT_STATES:
            state.add_metric([d, s], 1.0 if r.state == s else 0.0)
        steps = (r.plan or {}).get("steps") or []
        name = (
            str(steps[r.step_index].get("name", r.step_index)) if r.step_index < len(steps) else ""
        )
        info.add_metric([d, str(r.id), name, r.champion_version, r.challenger_version], 1.0)
        step.add_metric([d], float(r.step_index))
        updated.add_metric([d], float(r.updated_at))
        if not r.gate:
            continue
        for s in CHECK_STATUSES:
            gate.add_metric([d, s], 1.0 if r.gate.get("status") == s else 0.0)
        seen: set[str] = set()
        for check in r.gate.get("checks") or []:
            cname = str(check.get("name"))
            if cname in seen:  # one series per check name: the first one wins
                continue
            seen.add(cname)
            for s in CHECK_STATUSES:
                check_status.add_metric([d, cname, s], 1.0 if check.get("status") == s else 0.0)
            if (v := _finite(check.get("value"))) is not None:
                check_value.add_metric([d, cname], v)
            if (t := _finite(check.get("threshold"))) is not None:
                check_threshold.add_metric([d, cname], t)
            stats = check.get("stats") or {}
            for side in ("champion", "challenger"):
                if (a := _finite(stats.get(side))) is not None:
                    arm.add_metric([d, cname, side], a)
    return [
        state,
        info,
        step,
        gate,
        check_status,
        check_value,
        check_threshold,
        arm,
        updated,
        decisions,
    ]


class QualityCollector(Collector):
    """Reports the monitors' and rollouts' state at every scrape (never raises)."""

    def __init__(
        self,
        monitors: Callable[[], MonitorRunner | None],
        snapshot: Callable[[], RolloutSnapshot | None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._monitors = monitors
        self._snapshot = snapshot
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        from accuguard.rollout.watch import RolloutSnapshot

        try:
            reports = fresh_reports(self._monitors(), self._clock())
        except Exception:  # a failure here must not break /metrics
            log.exception("monitor metrics failed")
            reports = []
        yield from monitor_families(reports)
        try:
            families = rollout_families(self._snapshot() or RolloutSnapshot())
        except Exception:
            log.exception("rollout metrics failed")
            families = rollout_families(RolloutSnapshot())
        yield from families


def watch_quality(registry: CollectorRegistry, service: RolloutService) -> QualityCollector:
    """Register the monitor and rollout metrics of ``service`` in ``registry``."""
    collector = QualityCollector(lambda: service.monitors, lambda: service.watch.snapshot)
    registry.register(collector)
    return collector
