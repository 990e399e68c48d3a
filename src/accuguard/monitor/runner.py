"""The champion monitors inside ``accuguard serve``: one loop, one acting replica.

``accuguard serve`` reads the monitor files named in the gateway config
(``monitoring.files``) and, when the event-log database is there, runs every monitor
each ``monitoring.interval_s`` seconds. With several replicas only the one holding the
``accuguard-monitors`` lease checks and acts, so an alert fires one webhook, not one
per replica. A floor breach with ``accuracy.rollback: true`` goes through the rollout
controller's ``rollback_to_previous``; every alert is audited.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy.engine import Engine

from accuguard.monitor.config import MonitorConfig, load_monitor_config
from accuguard.monitor.service import AuditSink, Monitor, MonitorReport, RollbackCallback

log = logging.getLogger("accuguard.monitor")
LEASE_NAME = "accuguard-monitors"


def load_monitor_files(files: Sequence[Path]) -> list[MonitorConfig]:
    """Read every monitor file (the gateway config resolved relative paths already).

    Raises :class:`~accuguard.errors.ConfigError` naming the file and the field.
    """
    return [load_monitor_config(path) for path in files]


class MonitorRunner:
    """Runs ``monitors`` every ``interval_s`` while this process holds the lease."""

    def __init__(
        self,
        engine: Engine,
        configs: Sequence[MonitorConfig],
        *,
        interval_s: float,
        lease_ttl_s: float,
        audit: AuditSink | None = None,
        rollback: RollbackCallback | None = None,
        on_report: Callable[[MonitorReport], None] | None = None,
    ) -> None:
        self.engine = engine
        self.configs = list(configs)
        self.interval_s = interval_s
        self.lease_ttl_s = max(lease_ttl_s, 2 * interval_s)
        self.audit = audit
        self.rollback = rollback
        self.on_report = on_report
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.monitors: list[Monitor] = []
        self.last_reports: dict[str, MonitorReport] = {}

    def _build(self) -> None:
        """Read the references (Parquet) once, off the event loop."""
        self.monitors = [
            Monitor(self.engine, cfg, audit=self.audit, rollback=self.rollback)
            for cfg in self.configs
        ]

    def run_once(self) -> list[MonitorReport]:
        """Check and act on every monitor if this process holds the lease; else nothing."""
        from accuguard.rollout.state import acquire_lease

        if not acquire_lease(self.engine, LEASE_NAME, self.holder, self.lease_ttl_s):
            return []
        reports = []
        for monitor in self.monitors:
            try:
                report = monitor.run_once()
            except Exception:
                log.exception("monitor of %s failed", monitor.config.deployment)
                continue
            self.last_reports[monitor.config.deployment] = report
            for alert in report.alerts:
                log.warning(
                    "monitor alert on %s: %s (%s)",
                    monitor.config.deployment,
                    alert.monitor,
                    alert.reason,
                )
            if self.on_report is not None:
                self.on_report(report)
            reports.append(report)
        return reports

    async def run(self) -> None:
        """The loop: build the monitors, then ``run_once`` every ``interval_s``."""
        await asyncio.to_thread(self._build)
        while True:
            try:
                await asyncio.to_thread(self.run_once)
            except Exception:  # the database is down: try again next time
                log.exception("monitor loop failed")
            await asyncio.sleep(self.interval_s)

    def release(self) -> None:
        """Give the lease up (at shutdown)."""
        from accuguard.rollout.state import release_lease

        release_lease(self.engine, LEASE_NAME, self.holder)
