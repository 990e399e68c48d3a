"""The live demo's monitor phase: drifted inputs -> alert -> signed retraining webhook."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from typing import Any

from accuguard.demo.data import Shift
from accuguard.demo.live import TrafficReplayer, WebhookReceiver
from accuguard.demo.live_outcome import LiveOutcome, Timeline, short

DEPLOYMENT = "fraud"
SECRET_ENV = "ACCUGUARD_DEMO_WEBHOOK_SECRET"  # noqa: S105 - a variable name
INPUT_DRIFT = Shift(amount_scale=1.6, distance_shift_km=10.0, hour_night_share=0.3)


def wait_for_events(engine: Any, minimum: int, timeout_s: float = 15.0) -> int:
    """Wait until the event writer has stored at least ``minimum`` predictions."""
    from accuguard.store.repository import EventRepository

    repo = EventRepository(engine)
    deadline = time.monotonic() + timeout_s
    count = repo.count_predictions(DEPLOYMENT)
    while count < minimum and time.monotonic() < deadline:
        time.sleep(0.2)
        count = repo.count_predictions(DEPLOYMENT)
    return count


def monitor_phase(
    outcome: LiveOutcome,
    engine: Any,
    app: Any,
    replayer: TrafficReplayer,
    live: Path,
    drifted: tuple[list[dict[str, Any]], list[int]],
    say: Timeline,
) -> None:
    """Quiet monitor on normal traffic, then drifted inputs -> alert -> signed webhook."""
    from accuguard.audit import AuditLog
    from accuguard.monitor import Monitor, MonitorConfig, Reference, WebhookHook

    secret = secrets.token_hex(16)
    os.environ[SECRET_ENV] = secret
    controller = app.state.gateway.rollouts.controller
    reference = Reference.from_parquet(live / "reference.parquet", exclude=["is_fraud"])
    with WebhookReceiver(secret.encode()) as receiver:
        hook = WebhookHook(receiver.url, secret_env=SECRET_ENV, retries=2, backoff_s=0.2)
        before = wait_for_events(engine, 0, timeout_s=0)
        start = time.time()
        stats = replayer.replay(*drifted, max_s=60)
        wait_for_events(engine, before + stats.rows)
        time.sleep(1.0)  # the last labels land too
        window = max(time.time() - start, 1.0)
        cfg = MonitorConfig.model_validate(
            {
                "deployment": DEPLOYMENT,
                "window_s": window,
                "min_rows": 200,
                "cooldown_s": 600,
                "accuracy": {"metric": "recall", "floor": 0.5, "min_labels": 100, "rollback": True},
            }
        )
        monitor = Monitor(
            engine,
            cfg,
            reference=reference,
            hooks=[hook],
            rollback=controller.rollback_to_previous,
            audit=AuditLog(engine),
        )
        say(
            f"input drift injected: {stats.rows:,} transactions with amounts x"
            f"{INPUT_DRIFT.amount_scale}, distances +{INPUT_DRIFT.distance_shift_km:g} km, "
            "more night hours",
            "alert",
        )
        report = monitor.run_once()
        hook.close()
        for result in report.results:
            kind = "alert" if result.alert else "info"
            say(f"monitor {result.monitor}: {result.status}: {short(result.reason, 160)}", kind)
        outcome.alerts = [r.to_dict() for r in report.alerts]
        for action in report.actions:
            if action.get("action") == "hook":
                say(
                    f"   webhook -> {receiver.url}: HTTP {action.get('status_code')} "
                    f"({'delivered' if action.get('ok') else 'failed'})",
                    "ok" if action.get("ok") else "fail",
                )
        outcome.webhook_deliveries = len(receiver.deliveries)
        outcome.webhook_signatures_ok = bool(receiver.deliveries) and all(
            d.signature_ok for d in receiver.deliveries
        )
        if receiver.deliveries:
            say(
                f"retraining service received {len(receiver.deliveries)} alert(s); HMAC "
                f"signature {'valid' if outcome.webhook_signatures_ok else 'INVALID'}",
                "ok" if outcome.webhook_signatures_ok else "fail",
            )
    os.environ.pop(SECRET_ENV, None)
