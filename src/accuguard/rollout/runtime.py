"""Rollouts inside the gateway process: traffic sync, the controller loop, the API's state.

``accuguard serve`` builds one :class:`RolloutService` per process when the gateway
has an event-log database. At startup it brings the schema up to date, reads the
active rollouts (so the first model load already serves them) and starts two
background tasks: the traffic poll (``controller.traffic_poll_s``) and, with
``controller.enabled``, the controller loop (a tick every ``controller.interval_s``;
only the replica holding the lease acts). At shutdown the lease is released so
another replica takes over without waiting for it to expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from accuguard.audit import AuditLog
from accuguard.auth import TokenStore
from accuguard.gateway.config import GatewayConfig
from accuguard.rollout.controller import Controller
from accuguard.rollout.traffic import TrafficSync
from accuguard.rollout.watch import RolloutWatch

if TYPE_CHECKING:
    from accuguard.gateway.reload import Reloader
    from accuguard.monitor.runner import MonitorRunner

log = logging.getLogger("accuguard.rollout")


class RolloutService:
    """What the rollout API and loops of one gateway process share."""

    def __init__(
        self,
        config: GatewayConfig,
        reloader: Reloader,
        engine: Engine,
        *,
        registry_client: Any = None,
        admin_token: str | None = None,
        migrate: bool = True,
    ) -> None:
        self.config = config
        self.migrate = migrate
        self.engine = engine
        self.audit = AuditLog(engine)
        self.tokens = TokenStore(engine, bootstrap_admin_token=admin_token or None)
        self.sync = TrafficSync(engine, reloader, config.controller.traffic_poll_s)
        self._client = registry_client
        self._controller: Controller | None = None
        self.monitors: MonitorRunner | None = None
        self.watch = RolloutWatch(engine, lambda: list(config.deployments))  # for /metrics
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def controller(self) -> Controller:
        """The controller (after :meth:`start`)."""
        if self._controller is None:
            raise RuntimeError("the rollout service is not started")
        return self._controller

    def _make_controller(self) -> Controller:
        client = self._client
        if client is None:
            from mlflow import MlflowClient

            client = MlflowClient(tracking_uri=self.config.mlflow_tracking_uri)
        return Controller(
            self.engine,
            client,
            self.audit,
            lease_ttl_s=self.config.controller.lease_ttl_s,
            on_change=self.sync.notify_threadsafe,
        )

    async def start(self) -> None:
        """Schema, first read of the rollouts, then the background loops."""
        prepare = _upgrade if self.migrate else _wait_for_schema
        try:
            await asyncio.to_thread(prepare, self.engine)
        except Exception as exc:  # the store is down: the loops retry, the writer upgrades
            log.warning("rollouts: the database is not ready yet (%s)", type(exc).__name__)
        self._controller = await asyncio.to_thread(self._make_controller)
        await self.sync.load()
        loop = asyncio.get_running_loop()
        cfg = self.config.controller
        if cfg.traffic_poll_s > 0:
            self._tasks.append(loop.create_task(self.sync.run()))
        if cfg.enabled:
            self._tasks.append(loop.create_task(self._control(cfg.interval_s)))
        self._tasks.append(loop.create_task(self.watch.run(cfg.interval_s)))
        if self.config.monitoring.files:
            self.monitors = self._make_monitors()
            self._tasks.append(loop.create_task(self.monitors.run()))

    def _make_monitors(self) -> MonitorRunner:
        from accuguard.monitor.runner import MonitorRunner, load_monitor_files

        settings = self.config.monitoring
        return MonitorRunner(
            self.engine,
            load_monitor_files(settings.files),
            interval_s=settings.interval_s,
            lease_ttl_s=self.config.controller.lease_ttl_s,
            audit=self.audit,
            rollback=self._rollback_to_previous,
        )

    def _rollback_to_previous(self, deployment: str, reason: str, actor: str) -> Any:
        """A monitor's rollback, on the registered model and alias the deployment serves."""
        served = self.config.deployments[deployment]
        return self.controller.rollback_to_previous(
            deployment, reason, actor, model=served.model, champion_alias=served.champion_alias
        )

    async def _control(self, interval_s: float) -> None:
        while True:
            try:
                await asyncio.to_thread(self.controller.tick)
            except Exception:
                log.exception("controller tick failed")
            await asyncio.sleep(interval_s)

    async def stop(self) -> None:
        """Stop the loops and release the lease."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self._controller is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._controller.release)
        if self.monitors is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.monitors.release)


def _wait_for_schema(engine: Engine, timeout_s: float = 5.0) -> None:
    """Wait until the event writer has brought the schema to head (Alembic runs are not
    thread-safe, so the gateway's writer is the only one to migrate in its process)."""
    from sqlalchemy import text

    from accuguard.store.migrate import head_revision

    head = head_revision()
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with engine.connect() as conn:
                found = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            if found == head:
                return
        except Exception:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise RuntimeError(f"the event-log schema is not at {head} yet")
        time.sleep(0.1)


def _upgrade(engine: Engine, attempts: int = 5) -> None:
    """Bring the schema to head (another process upgrading at the same time is waited out)."""
    from accuguard.store.migrate import current_revision, head_revision, upgrade

    for attempt in range(attempts):
        try:
            upgrade(engine)
            return
        except Exception:
            with contextlib.suppress(Exception):
                if current_revision(engine) == head_revision():
                    return
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
