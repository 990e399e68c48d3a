"""Hot reload: follow MLflow alias moves (and config edits) without failing a request.

Every ``reload_interval_s`` seconds, and on ``POST /v1/admin/reload``, the reloader:

1. re-reads the config file when one was given (a file that no longer validates is
   reported and the running config kept; only ``deployments`` are applied live);
2. resolves every alias in the registry to a version number;
3. loads the versions not loaded yet (in a background thread: requests keep being
   served by the current versions meanwhile) and warms them up;
4. builds the new :class:`DeploymentState` of each deployment and swaps it in with
   one assignment;
5. retires the versions no longer used: their batchers finish what was queued before
   they stop (after a grace period), so no request fails during the switch.

A deployment whose champion cannot be resolved or loaded keeps serving its current
state (or is not ready, at startup). A challenger that cannot be loaded keeps its
current version, or is left out: the champion answers its units and each such
request is counted as a fallback. Every error is reported (``/readyz``, the reload
answer, the log).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accuguard.errors import AccuguardError
from accuguard.gateway.batcher import MicroBatcher, ModelWorker
from accuguard.gateway.config import (
    CHAMPION,
    DeploymentConfig,
    GatewayConfig,
    load_gateway_config,
)
from accuguard.gateway.metrics import GatewayMetrics
from accuguard.gateway.models import ModelHandle, load_version, resolve_version
from accuguard.gateway.routing import Router
from accuguard.gateway.state import DeploymentState, LoadedModel, Variant
from accuguard.gateway.tracing import Tracing

log = logging.getLogger("accuguard.gateway")

#: (variant, mode, model name, version, alias, timeout seconds)
_Target = tuple[str, str, str, int | None, str | None, float]
Loader = Callable[..., ModelHandle]
Resolver = Callable[[Any, str, int | None, str | None], str]


@dataclass
class ReloadReport:
    """What a reload changed: ``changes`` (deployment, variant, old, new) and ``errors``."""

    changes: list[dict[str, str | None]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON form for the admin API."""
        return {"changes": self.changes, "errors": self.errors}


class Reloader:
    """Owns the loaded models and the current :class:`DeploymentState` of each deployment.

    ``deployments`` is replaced, never mutated, so readers need no lock.
    """

    def __init__(
        self,
        config: GatewayConfig,
        metrics: GatewayMetrics,
        tracing: Tracing,
        *,
        config_path: Path | None = None,
        client: Any = None,
        loader: Loader = load_version,
        resolver: Resolver = resolve_version,
        retire_grace_s: float = 1.0,
    ) -> None:
        self.config = config
        self.deployments: dict[str, DeploymentState] = {}
        self.errors: dict[str, str] = {}
        self._metrics = metrics
        self._tracing = tracing
        self._path = config_path
        self._file_digest = _digest(config_path)
        self._client = client
        self._loader = loader
        self._resolver = resolver
        self._grace = retire_grace_s
        self._pool: dict[tuple[str, str], LoadedModel] = {}
        self._lock = asyncio.Lock()
        self._worker = ModelWorker("accuguard-registry", model_threads=None)
        self._retiring: set[asyncio.Task[None]] = set()
        self.loaded_once = False
        #: applied to the config before each build (rollouts add their challenger)
        self.overlay: Callable[[GatewayConfig], GatewayConfig] | None = None
        #: requests that may still queue rows (the gateway's in flight), for the batchers
        self.callers: Callable[[], int] | None = None

    def _registry_client(self) -> Any:
        if self._client is None:
            from mlflow import MlflowClient

            uri = self.config.mlflow_tracking_uri
            self._client = MlflowClient(tracking_uri=uri)
        return self._client

    async def _in_thread(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.wrap_future(self._worker.submit(lambda: fn(*args, **kwargs)))

    async def reload(self, config: GatewayConfig | None = None) -> ReloadReport:
        """Apply ``config`` (default: the config file if it changed, else the current one)."""
        async with self._lock:
            report = ReloadReport()
            if config is not None:
                self.config = config
            else:
                self._reread_file(report)
            cfg = self.config if self.overlay is None else self.overlay(self.config)
            new: dict[str, DeploymentState] = {}
            for name, dep in cfg.deployments.items():
                try:
                    state = await self._build(name, dep, report.errors)
                except Exception as exc:  # registry down, bad model: keep the current state
                    report.errors[name] = _message(exc)
                    old = self.deployments.get(name)
                    if old is not None:
                        new[name] = old
                    continue
                old = self.deployments.get(name)
                new[name] = state
                report.changes.extend(_diff(name, old, state))
            self.deployments = new  # the atomic switch
            self.errors = {k: v for k, v in report.errors.items() if k != "(config)"}
            self.loaded_once = True
            self._retire_unused()
            self._publish()
            self._metrics.reloads.labels("error" if report.errors else "ok").inc()
            for change in report.changes:
                log.info(
                    "deployment %s: %s now serves %s (was %s)",
                    change["deployment"],
                    change["variant"],
                    change["to"],
                    change["from"],
                )
            for where, message in report.errors.items():
                log.error("reload of %s failed: %s", where, message)
            return report

    def _reread_file(self, report: ReloadReport) -> None:
        digest = _digest(self._path)
        if self._path is None or digest == self._file_digest:
            return
        try:
            fresh = load_gateway_config(self._path)
        except AccuguardError as exc:
            report.errors["(config)"] = f"{exc}; keeping the running config"
            return
        self._file_digest = digest
        self.config = self.config.model_copy(update={"deployments": fresh.deployments})

    async def _build(
        self, name: str, dep: DeploymentConfig, errors: dict[str, str]
    ) -> DeploymentState:
        """The deployment's new state; raises when the champion cannot be served.

        A challenger that cannot be resolved or loaded keeps its current version if it
        has one, else it is left out (its units are answered by the champion, counted
        as fallbacks); the problem goes to ``errors`` under ``"<deployment>/<name>"``.
        """
        client = self._client
        if client is None:  # creating an MLflow client may touch the tracking store
            client = await self._in_thread(self._registry_client)
        old = self.deployments.get(name)
        variants: dict[str, Variant] = {}
        for variant, mode, model, version, alias, timeout in _targets(dep):
            try:
                number = await self._in_thread(self._resolver, client, model, version, alias)
                loaded = await self._load(model, number, dep.allow_missing)
            except Exception as exc:
                if variant == CHAMPION:
                    raise
                errors[f"{name}/{variant}"] = _message(exc)
                kept = old.challengers.get(variant) or old.shadows.get(variant) if old else None
                if kept is not None and kept.mode == mode:
                    variants[variant] = Variant(variant, mode, kept.model, timeout)
                continue
            variants[variant] = Variant(variant, mode, loaded, timeout)
        champion = variants.pop(CHAMPION)
        serving = {k: v for k, v in variants.items() if v.mode in ("canary", "ab")}
        shadows = {k: v for k, v in variants.items() if v.mode == "shadow"}
        return DeploymentState(name, dep, champion, serving, shadows, Router(name, dep))

    async def _load(self, model: str, version: str, allow_missing: bool | None) -> LoadedModel:
        key = (model, version)
        loaded = self._pool.get(key)
        if loaded is not None:
            return loaded
        handle = await self._in_thread(self._loader, model, version, allow_missing=allow_missing)
        b = self.config.batching
        batcher = MicroBatcher(
            self._tracing.wrap(handle.predict, model, version),
            name=f"{model}-v{version}",
            max_batch_size=b.max_batch_size,
            max_wait_ms=b.max_wait_ms,
            max_queue=b.max_queue,
            model_threads=b.model_threads,
            observe=self._metrics.batch_observer(model, version),
            callers=self.callers,
        )
        loaded = LoadedModel(handle, batcher)
        self._pool[key] = loaded
        log.info(
            "loaded %s (%s)", handle.uri, "sklearn fast path" if handle.fast_path else "pyfunc"
        )
        return loaded

    def _retire_unused(self) -> None:
        used = {v.model.key for s in self.deployments.values() for v in s.variants()}
        for key in [k for k in self._pool if k not in used]:
            loaded = self._pool.pop(key)
            task = asyncio.get_running_loop().create_task(self._retire(loaded))
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    async def _retire(self, loaded: LoadedModel) -> None:
        await asyncio.sleep(self._grace)
        await loaded.batcher.close()
        log.info("retired %s", loaded.handle.uri)

    def _publish(self) -> None:
        info = self._metrics.model_info
        info.clear()
        for state in self.deployments.values():
            for v in state.variants():
                info.labels(state.name, v.name, v.mode, v.model.handle.name, v.version).set(1)

    async def run(self, interval_s: float) -> None:
        """Reload every ``interval_s`` seconds until cancelled (errors are logged)."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.reload()
            except Exception:  # keep polling whatever happened
                log.exception("registry poll failed")

    async def close(self, timeout: float = 10.0) -> None:
        """Finish queued work of every model (up to ``timeout`` s) and stop the batchers."""
        for task in list(self._retiring):
            task.cancel()
        loaded = list(self._pool.values())
        self._pool.clear()
        # all at once: models that hang cost ``timeout`` once, not once per model
        await asyncio.gather(
            *(model.batcher.close(timeout) for model in loaded), return_exceptions=True
        )
        self._worker.close()


def _targets(dep: DeploymentConfig) -> list[_Target]:
    out: list[_Target] = [
        (CHAMPION, CHAMPION, dep.model, None, dep.champion_alias, dep.timeout_ms / 1000)
    ]
    for c in dep.challengers:
        timeout = (c.timeout_ms or dep.timeout_ms) / 1000
        out.append((c.name, c.mode, c.model or dep.model, c.version, c.alias, timeout))
    return out


def _diff(
    name: str, old: DeploymentState | None, new: DeploymentState
) -> list[dict[str, str | None]]:
    before = old.versions() if old is not None else {}
    changes: list[dict[str, str | None]] = []
    for variant, key in new.versions().items():
        if before.get(variant) != key:
            prev = before.get(variant)
            changes.append(
                {
                    "deployment": name,
                    "variant": variant,
                    "from": f"{prev[0]}/{prev[1]}" if prev else None,
                    "to": f"{key[0]}/{key[1]}",
                }
            )
    return changes


def _message(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, AccuguardError) else repr(exc)
    return text[:1000]


def _digest(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
