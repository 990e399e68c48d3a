"""What the gateway serves during a rollout: the challenger ``v<version>`` and its step.

The rollouts in the database are laid over the gateway's configured deployments
(:func:`overlay`): a running or paused rollout adds the challenger ``v<version>``
with its current step's mode (``shadow``, or ``canary`` at the step's weight, or the
operator's weight override). A finished rollout adds nothing: a rolled-back
challenger serves no traffic, a promoted one is the champion (its alias moved).

:class:`TrafficSync` keeps the gateway in step with the database:

- it polls the active rollouts every ``controller.traffic_poll_s`` (one small query
  on the ``rollouts`` table) and, when they changed, reloads the deployments;
- the controller calls :meth:`TrafficSync.notify_threadsafe` after each transition,
  so the replica that made the decision applies it at once;
- before the reload (which may load a model), a challenger whose traffic went down
  or away is taken out of the serving state at once, with no registry call: a
  rollback is effective even while the registry is slow or down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from accuguard.gateway.config import ChallengerConfig, DeploymentConfig, GatewayConfig
from accuguard.gateway.routing import Router
from accuguard.gateway.state import DeploymentState, Variant
from accuguard.rollout import machine
from accuguard.rollout.state import active_traffic

if TYPE_CHECKING:
    from accuguard.gateway.reload import Reloader

log = logging.getLogger("accuguard.rollout")


@dataclass(frozen=True)
class Traffic:
    """The challenger of an active rollout and what it serves now."""

    deployment: str
    model: str
    version: str
    mode: str  # shadow | canary
    weight: float  # canary share of units, or shadow mirroring share

    @property
    def variant(self) -> str:
        """``v<version>``."""
        return f"v{self.version}"


def read_traffic(engine: Engine) -> dict[str, Traffic]:
    """The traffic of every running or paused rollout, by deployment."""
    out: dict[str, Traffic] = {}
    for deployment, model, version, state, step, override, plan, _ in active_traffic(engine):
        steps = plan.get("steps", []) if isinstance(plan, dict) else []
        if not 0 <= step < len(steps):
            continue
        spec = steps[step]
        mode = str(spec.get("mode", "shadow"))
        weight = (
            override
            if override is not None
            else (1.0 if mode == "shadow" else float(spec.get("weight", 0.0)))
        )
        if state in machine.ACTIVE_STATES:
            out[deployment] = Traffic(deployment, model, str(version), mode, float(weight))
    return out


def overlay(config: GatewayConfig, traffic: Mapping[str, Traffic]) -> GatewayConfig:
    """``config`` with each rollout's challenger added to its deployment.

    A configured challenger of the same name is replaced. A canary's weight is capped
    so that all canary weights of the deployment add up to at most 1. A rollout of a
    deployment the config does not have, or of another registered model, is ignored.
    """
    if not traffic:
        return config
    deployments = dict(config.deployments)
    for name, t in traffic.items():
        dep = deployments.get(name)
        if dep is None:
            continue
        if t.model != dep.model:
            log.warning(
                "rollout of %s: model %r is not the deployment's model %r; ignored",
                name,
                t.model,
                dep.model,
            )
            continue
        others = [c for c in dep.challengers if c.name != t.variant]
        weight = t.weight
        if t.mode == "canary":
            taken = sum(c.weight or 0.0 for c in others if c.mode == "canary")
            weight = max(0.0, min(weight, 1.0 - taken))
        challenger = ChallengerConfig.model_validate(
            {"name": t.variant, "version": int(t.version), "mode": t.mode, "weight": weight}
        )
        deployments[name] = dep.model_copy(update={"challengers": [*others, challenger]})
    return config.model_copy(update={"deployments": deployments})


def without_unloaded(old: DeploymentState, dep: DeploymentConfig) -> DeploymentState:
    """``old`` with ``dep``'s challengers that are already loaded (no registry call).

    Used to cut a challenger's traffic at once; challengers that would need loading
    are left out until the next full reload.
    """
    by_name = {v.name: v for v in old.variants()}
    loaded = {v.model.key: v.model for v in old.variants()}
    kept: list[ChallengerConfig] = []
    variants: dict[str, Variant] = {}
    for c in dep.challengers:
        model = None
        if c.version is not None:
            model = loaded.get((c.model or dep.model, str(c.version)))
        elif c.name in by_name:
            model = by_name[c.name].model
        if model is None:
            continue
        kept.append(c)
        timeout = (c.timeout_ms or dep.timeout_ms) / 1000
        variants[c.name] = Variant(c.name, c.mode, model, timeout)
    cfg = dep.model_copy(update={"challengers": kept})
    serving = {k: v for k, v in variants.items() if v.mode in ("canary", "ab")}
    shadows = {k: v for k, v in variants.items() if v.mode == "shadow"}
    return DeploymentState(old.name, cfg, old.champion, serving, shadows, Router(old.name, cfg))


class TrafficSync:
    """Follows the rollouts in ``engine`` and applies them to ``reloader`` (see module doc)."""

    def __init__(self, engine: Engine, reloader: Reloader, poll_s: float = 1.0) -> None:
        self.engine = engine
        self.reloader = reloader
        self.poll_s = poll_s
        self.traffic: dict[str, Traffic] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._refresh_lock = asyncio.Lock()
        self._unreachable = False  # the store was down at the last poll (logged once)
        reloader.overlay = self.apply

    def apply(self, config: GatewayConfig) -> GatewayConfig:
        """The reloader's overlay: ``config`` with the last known rollouts."""
        return overlay(config, self.traffic)

    async def load(self) -> None:
        """Read the rollouts once (at startup, before the first reload)."""
        self._loop = asyncio.get_running_loop()
        try:
            self.traffic = await asyncio.to_thread(read_traffic, self.engine)
        except Exception as exc:
            log.warning("cannot read the rollouts yet (%s); retrying", type(exc).__name__)

    async def refresh(self, *, force: bool = False) -> bool:
        """Re-read the rollouts; when they changed (or ``force``: an alias moved), cut
        the challengers that lost traffic and reload. True if the rollouts changed."""
        async with self._refresh_lock:
            fresh = await asyncio.to_thread(read_traffic, self.engine)
            changed = fresh != self.traffic
            if changed:
                before, self.traffic = self.traffic, fresh
                self._cut(before, fresh)
        if changed or force:
            await self.reloader.reload()
        return changed

    def _cut(self, before: Mapping[str, Traffic], after: Mapping[str, Traffic]) -> None:
        current = dict(self.reloader.deployments)
        changed = False
        for name in set(before) | set(after):
            if before.get(name) == after.get(name) or name not in current:
                continue
            dep = self.apply(self.reloader.config).deployments.get(name)
            if dep is None:
                continue
            current[name] = without_unloaded(current[name], dep)
            changed = True
        if changed:
            self.reloader.deployments = current  # the atomic switch, as in a reload

    def notify_threadsafe(self, deployment: str) -> None:
        """Ask for a refresh now; safe to call from any thread (the controller's)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop is shutting down
            asyncio.run_coroutine_threadsafe(self._refresh_logged(force=True), loop)

    async def _refresh_logged(self, *, force: bool = False) -> None:
        """Refresh; a store outage is logged once (no traceback per poll), then its end."""
        try:
            await self.refresh(force=force)
        except OperationalError as exc:
            if not self._unreachable:
                log.warning(
                    "cannot read the rollouts: the store is unreachable (%s); serving the "
                    "last known traffic and retrying every %.1f s",
                    type(getattr(exc, "orig", exc)).__name__,
                    self.poll_s,
                )
            self._unreachable = True
            return
        except Exception:
            log.exception("applying the rollouts failed")
            return
        if self._unreachable:
            log.warning("the rollouts can be read again")
            self._unreachable = False

    async def run(self) -> None:
        """Poll every ``poll_s`` seconds until cancelled."""
        self._loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.poll_s)
            await self._refresh_logged()
