"""The monitor of one deployment's champion: check a window, then act on alerts.

``Monitor.check(now)`` reads the window ``[now - window_s, now)`` of the champion's
traffic and runs the three monitors (input drift, prediction drift, accuracy floor).
``Monitor.run_once(now)`` also acts on the alerts: each alert goes to every hook
(webhook, Airflow DAG run) and, optionally, to the audit log; an accuracy floor breach
with ``accuracy.rollback: true`` calls the rollback callback, e.g. the controller's
``Controller.rollback_to_previous(deployment, reason, actor)``. An alert of one kind is
acted on at most once per ``cooldown_s`` (per monitor object), so a drift that lasts
does not start a retraining run every minute.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.engine import Engine

from accuguard.monitor.airflow import AirflowHook
from accuguard.monitor.checks import (
    MonitorResult,
    accuracy_floor,
    input_drift,
    prediction_drift,
    score_profile,
)
from accuguard.monitor.config import MonitorConfig
from accuguard.monitor.hooks import Hook, HookResult, WebhookHook
from accuguard.monitor.reference import Reference, profile_values
from accuguard.monitor.window import Window, read_window
from accuguard.profile.columns import ColumnProfile, NumericColumnProfile

log = logging.getLogger(__name__)

#: ``rollback(deployment, reason, actor)``: e.g. ``Controller.rollback_to_previous``.
RollbackCallback = Callable[[str, str, str], Any]
ACTOR = "monitor"

__all__ = ["AuditSink", "Monitor", "MonitorReport", "RollbackCallback", "hooks_from_config"]


class AuditSink(Protocol):
    """The part of :class:`accuguard.audit.AuditLog` the monitor uses."""

    def append(
        self,
        *,
        action: str,
        actor: str,
        deployment: str | None = ...,
        decision: str | None = ...,
        reason: str = ...,
        config_hash: str | None = ...,
        window: dict[str, Any] | None = ...,
        model_versions: dict[str, Any] | None = ...,
        evidence: dict[str, Any] | None = ...,
    ) -> Any: ...


@dataclass
class MonitorReport:
    """The monitors' results on one window and what was done about the alerts."""

    deployment: str
    window: dict[str, Any]
    results: list[MonitorResult]
    actions: list[dict[str, Any]] = field(default_factory=list)
    checked_at: float = field(default_factory=time.time)

    @property
    def alerts(self) -> list[MonitorResult]:
        """The results that raised an alert."""
        return [r for r in self.results if r.alert]

    def result(self, monitor: str) -> MonitorResult | None:
        """The result of one monitor by name, if it ran."""
        return next((r for r in self.results if r.monitor == monitor), None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict."""
        return {
            "deployment": self.deployment,
            "checked_at": self.checked_at,
            "window": self.window,
            "alerts": [r.monitor for r in self.alerts],
            "results": [r.to_dict() for r in self.results],
            "actions": self.actions,
        }


def hooks_from_config(config: MonitorConfig) -> list[Hook]:
    """The hooks the config asks for (environment variables are checked now)."""
    hooks: list[Hook] = []
    if config.webhook is not None:
        w = config.webhook
        hooks.append(
            WebhookHook(
                w.url,
                secret_env=w.secret_env,
                timeout_s=w.timeout_s,
                retries=w.retries,
                backoff_s=w.backoff_s,
            )
        )
    if config.airflow is not None:
        a = config.airflow
        hooks.append(
            AirflowHook(
                a.base_url,
                a.dag_id,
                token_env=a.token_env,
                timeout_s=a.timeout_s,
                retries=a.retries,
                backoff_s=a.backoff_s,
                max_conf_bytes=a.max_conf_bytes,
            )
        )
    return hooks


class Monitor:
    """Sliding-window monitors of one deployment's champion, with their actions."""

    def __init__(
        self,
        engine: Engine,
        config: MonitorConfig,
        *,
        reference: Reference | None = None,
        hooks: Sequence[Hook] | None = None,
        rollback: RollbackCallback | None = None,
        audit: AuditSink | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.config = config
        if reference is None and config.reference is not None:
            reference = Reference.from_parquet(config.reference, score_column=config.score_column)
        self.reference = reference
        self.hooks = list(hooks_from_config(config) if hooks is None else hooks)
        self.rollback = rollback
        self.audit = audit
        self.clock = clock
        self._last_fired: dict[str, float] = {}
        self._lock = threading.Lock()

    # -- checks -------------------------------------------------------------------------

    def _baseline(self, now: float, current: ColumnProfile) -> tuple[ColumnProfile | None, str]:
        mode = self.config.prediction_drift.baseline
        has_ref = self.reference is not None and self.reference.scores is not None
        numeric = isinstance(current, NumericColumnProfile)
        if mode == "reference" or (mode == "auto" and has_ref and numeric):
            if not has_ref or not numeric:
                return None, "reference scores (none in the reference)"
            assert self.reference is not None
            return self.reference.scores, f"reference scores ({self.reference.source})"
        w = self.config.window_s
        previous = read_window(
            self.engine,
            self.config.deployment,
            now - 2 * w,
            now - w,
            variant=self.config.variant,
            max_rows=self.config.max_rows,
        )
        return self._prediction_profile(previous, numeric), "the previous window"

    @staticmethod
    def _prediction_profile(window: Window, numeric: bool) -> ColumnProfile:
        if numeric:
            return score_profile(window)
        return profile_values(window.outputs, "categorical")

    def check(self, *, now: float | None = None) -> MonitorReport:
        """Run every enabled monitor on the window ending at ``now`` (no actions)."""
        cfg = self.config
        end = self.clock() if now is None else now
        window = read_window(
            self.engine,
            cfg.deployment,
            end - cfg.window_s,
            end,
            variant=cfg.variant,
            max_rows=cfg.max_rows,
        )
        results: list[MonitorResult] = []
        if cfg.drift.enabled:
            if self.reference is None:
                results.append(
                    MonitorResult(
                        "input_drift", "insufficient", None, None, "no reference configured"
                    )
                )
            else:
                results.append(input_drift(window, self.reference, cfg.drift, cfg.min_rows))
        if cfg.prediction_drift.enabled:
            numeric = len(window.finite_scores()) > 0 or (
                window.rows == 0
                and self.reference is not None
                and self.reference.scores is not None
            )
            current = self._prediction_profile(window, numeric)
            baseline, name = self._baseline(end, current)
            results.append(
                prediction_drift(
                    current, baseline, cfg.prediction_drift, cfg.min_rows, baseline_name=name
                )
            )
        if cfg.accuracy.enabled:
            results.append(accuracy_floor(window, cfg.accuracy))
        return MonitorReport(cfg.deployment, window.describe(), results, checked_at=end)

    # -- actions ------------------------------------------------------------------------

    def _alert_payload(self, report: MonitorReport, result: MonitorResult) -> dict[str, Any]:
        return {
            "deployment": report.deployment,
            "monitor": result.monitor,
            "reason": result.reason,
            "value": result.to_dict()["value"],
            "threshold": result.to_dict()["threshold"],
            "window": report.window,
            "checked_at": report.checked_at,
            "detail": result.to_dict()["detail"],
        }

    def act(self, report: MonitorReport) -> MonitorReport:
        """Deliver the report's alerts (hooks, audit, rollback), honouring the cooldown."""
        for result in report.alerts:
            with self._lock:
                last = self._last_fired.get(result.monitor)
                if last is not None and report.checked_at - last < self.config.cooldown_s:
                    report.actions.append(
                        {"monitor": result.monitor, "action": "cooldown", "since": last}
                    )
                    continue
                self._last_fired[result.monitor] = report.checked_at
            self._deliver(report, result)
        return report

    def _deliver(self, report: MonitorReport, result: MonitorResult) -> None:
        payload = self._alert_payload(report, result)
        event = f"{result.monitor}_alert"
        delivery = str(uuid.uuid4())
        log.warning("monitor alert on %s: %s: %s", report.deployment, result.monitor, result.reason)
        if self.audit is not None:
            self.audit.append(
                action=f"monitor.{result.monitor}",
                actor=ACTOR,
                deployment=report.deployment,
                decision="alert",
                reason=result.reason,
                window=report.window,
                evidence=result.to_dict(),
            )
        for hook in self.hooks:
            try:
                sent = hook.send(event, payload, delivery=delivery)
            except Exception as exc:  # a broken hook must not stop the others
                log.exception("hook %s failed", getattr(hook, "name", hook))
                sent = HookResult(
                    getattr(hook, "name", "hook"), False, None, 0, f"{type(exc).__name__}: {exc}"
                )
            report.actions.append({"monitor": result.monitor, "action": "hook", **sent.to_dict()})
        if result.monitor == "accuracy" and self.config.accuracy.rollback:
            self._rollback(report, result)

    def _rollback(self, report: MonitorReport, result: MonitorResult) -> None:
        if self.rollback is None:
            report.actions.append(
                {
                    "monitor": "accuracy",
                    "action": "rollback",
                    "ok": False,
                    "error": "no rollback callback configured",
                }
            )
            return
        reason = f"accuracy floor breached: {result.reason}"
        try:
            outcome = self.rollback(report.deployment, reason, ACTOR)
        except Exception as exc:
            log.exception("rollback of %s failed", report.deployment)
            report.actions.append(
                {
                    "monitor": "accuracy",
                    "action": "rollback",
                    "ok": False,
                    "error": f"{type(exc).__name__}: {exc}",
                }
            )
            return
        report.actions.append(
            {"monitor": "accuracy", "action": "rollback", "ok": True, "result": _jsonable(outcome)}
        )

    def run_once(self, *, now: float | None = None) -> MonitorReport:
        """``check`` then ``act``."""
        return self.act(self.check(now=now))

    def run_forever(
        self,
        stop: threading.Event,
        interval_s: float = 60.0,
        on_report: Callable[[MonitorReport], None] | None = None,
    ) -> None:
        """Run every ``interval_s`` until ``stop`` is set; errors are logged, not raised."""
        while not stop.is_set():
            try:
                report = self.run_once()
                if on_report is not None:
                    on_report(report)
            except Exception:
                log.exception("monitor run on %s failed", self.config.deployment)
            stop.wait(interval_s)


def _jsonable(value: Any) -> Any:
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        value = to_dict()
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return repr(value)
    return value
