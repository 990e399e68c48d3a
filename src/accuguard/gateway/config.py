"""The gateway's configuration: ``deployments.yaml``, with environment overrides.

Example (every top-level field but ``deployments`` has a default)::

    store_url: sqlite:///accuguard.db
    deployments:
      fraud:
        model: fraud                 # MLflow registered model
        champion_alias: champion
        challengers:
          - {name: v2, alias: challenger, mode: shadow}
          - {name: v3, version: 3, mode: canary, weight: 0.05}

Errors name the file (or the environment variable) and the field, e.g.::

    deployments.yaml: deployments.fraud.challengers.1.weight: a canary needs a weight ...

Environment variables override the file: ``ACCUGUARD_STORE_URL``,
``ACCUGUARD_SPOOL_DIR``, ``ACCUGUARD_MLFLOW_TRACKING_URI``,
``ACCUGUARD_RELOAD_INTERVAL_S``, ``ACCUGUARD_MAX_BATCH_SIZE``, ``ACCUGUARD_MAX_WAIT_MS``,
``ACCUGUARD_TRACING_EXPORTER``, ``ACCUGUARD_OTLP_ENDPOINT``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from accuguard.configfile import format_validation_error, read_yaml_mapping
from accuguard.errors import ConfigError

Mode = Literal["shadow", "canary", "ab"]
CHAMPION = "champion"
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_NAME_RE = re.compile(_NAME)
PositiveMs = Annotated[float, Field(gt=0, le=600_000)]

#: environment variable -> dotted config field it overrides
ENV_OVERRIDES: dict[str, str] = {
    "ACCUGUARD_STORE_URL": "store_url",
    "ACCUGUARD_SPOOL_DIR": "spool_dir",
    "ACCUGUARD_MLFLOW_TRACKING_URI": "mlflow_tracking_uri",
    "ACCUGUARD_RELOAD_INTERVAL_S": "reload_interval_s",
    "ACCUGUARD_MAX_BATCH_SIZE": "batching.max_batch_size",
    "ACCUGUARD_MAX_WAIT_MS": "batching.max_wait_ms",
    "ACCUGUARD_TRACING_EXPORTER": "tracing.exporter",
    "ACCUGUARD_OTLP_ENDPOINT": "tracing.otlp_endpoint",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BatchingConfig(_Strict):
    """Micro-batching of concurrent requests to one model (see ``batcher.py``)."""

    max_batch_size: Annotated[int, Field(ge=1, le=100_000)] = 64
    max_wait_ms: Annotated[float, Field(ge=0, le=1000)] = 2.0
    max_queue: Annotated[int, Field(ge=1)] = 10_000
    model_threads: Annotated[int, Field(ge=1, le=256)] = 1


class LimitsConfig(_Strict):
    """Request limits: larger requests get a 413 or 422 naming the limit."""

    max_body_bytes: Annotated[int, Field(ge=1024)] = 1_048_576
    max_rows: Annotated[int, Field(ge=1)] = 1000
    max_items: Annotated[int, Field(ge=1)] = 10_000


class TracingConfig(_Strict):
    """OpenTelemetry: nothing is exported unless an exporter is named."""

    exporter: Literal["none", "console", "otlp"] = "none"
    otlp_endpoint: str | None = None
    service_name: str = "accuguard-gateway"


class ChallengerConfig(_Strict):
    """A challenger version of the deployment's model (or of ``model``) and its mode.

    ``weight``: canary share of units in ``[0, 1]``; for a shadow, the share of
    requests mirrored (default 1). ``salt``: the assignment salt (required for ``ab``:
    the experiment's salt; canaries default to ``"<deployment>/<name>"``). ``split``:
    an A/B experiment's weights, ``{champion: 50, <name>: 50}``.
    """

    name: Annotated[str, Field(pattern=_NAME)]
    model: str | None = None
    version: Annotated[int, Field(ge=1)] | None = None
    alias: Annotated[str, Field(pattern=r"^[\w-]+$")] | None = None
    mode: Mode
    weight: Annotated[float, Field(ge=0, le=1)] | None = None
    salt: Annotated[str, Field(min_length=1)] | None = None
    split: dict[str, Annotated[float, Field(ge=0)]] | None = None
    timeout_ms: PositiveMs | None = None

    @model_validator(mode="after")
    def _check(self) -> ChallengerConfig:
        if self.name == CHAMPION:
            raise ValueError(f"name {CHAMPION!r} is reserved for the champion")
        if (self.version is None) == (self.alias is None):
            raise ValueError("give exactly one of version or alias")
        if self.mode == "canary" and self.weight is None:
            raise ValueError("a canary needs a weight in [0, 1] (share of units it serves)")
        if self.mode == "ab":
            if self.salt is None or self.split is None:
                raise ValueError(
                    "an ab challenger needs salt (the experiment salt) and split "
                    f"(weights such as {{champion: 50, {self.name}: 50}})"
                )
            if self.name not in self.split or CHAMPION not in self.split:
                raise ValueError(f"split must name {CHAMPION!r} and {self.name!r}")
            if not sum(self.split.values()) > 0 or not all(
                math.isfinite(w) for w in self.split.values()
            ):
                raise ValueError("split weights must be finite with a positive sum")
        elif self.split is not None:
            raise ValueError("split is for ab challengers only")
        if self.mode == "ab" and self.weight is not None:
            raise ValueError("an ab challenger's traffic comes from split, not weight")
        return self


class ControllerConfig(_Strict):
    """The rollout controller run by ``accuguard serve`` (docs/rollout.md, "Controller").

    ``enabled``: run the controller loop in this process (every replica may: the lease
    lets one act); ``interval_s``: seconds between ticks; ``lease_ttl_s``: how long
    the lease lasts without renewal (a dead leader is replaced after this);
    ``traffic_poll_s``: how often the gateway re-reads the active rollouts (0: never).
    """

    enabled: bool = True
    interval_s: Annotated[float, Field(gt=0, le=3600)] = 5.0
    lease_ttl_s: Annotated[float, Field(gt=0, le=86_400)] = 30.0
    traffic_poll_s: Annotated[float, Field(ge=0, le=3600)] = 1.0

    @model_validator(mode="after")
    def _lease_outlives_tick(self) -> ControllerConfig:
        if self.lease_ttl_s <= self.interval_s:
            raise ValueError(
                f"lease_ttl_s ({self.lease_ttl_s:g}) must be longer than interval_s "
                f"({self.interval_s:g}), or the leader loses its lease between ticks"
            )
        return self


class MonitoringConfig(_Strict):
    """The champion monitors run by ``accuguard serve`` (docs/monitoring.md).

    ``files``: monitor YAML files (relative paths: from the gateway config's folder);
    ``interval_s``: seconds between two checks of every monitor.
    """

    files: list[Path] = Field(default_factory=list)
    interval_s: Annotated[float, Field(gt=0, le=86_400)] = 60.0


class DeploymentConfig(_Strict):
    """A named endpoint: the champion (an alias of ``model``) and its challengers."""

    model: Annotated[str, Field(min_length=1)]
    champion_alias: Annotated[str, Field(pattern=r"^[\w-]+$")] = CHAMPION
    timeout_ms: PositiveMs = 1000.0
    allow_missing: bool | None = None
    challengers: list[ChallengerConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> DeploymentConfig:
        names = [c.name for c in self.challengers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"challenger names must be unique, got {dupes} more than once")
        canary = sum(c.weight or 0.0 for c in self.challengers if c.mode == "canary")
        if canary > 1 + 1e-9:
            raise ValueError(f"canary weights add up to {canary:g}; at most 1 is allowed")
        by_salt: dict[str, ChallengerConfig] = {}
        ab_names = {c.name for c in self.challengers if c.mode == "ab"}
        for c in self.challengers:
            if c.mode != "ab" or c.salt is None or c.split is None:
                continue
            unknown = sorted(set(c.split) - ab_names - {CHAMPION})
            if unknown:
                raise ValueError(
                    f"challenger {c.name!r}: split names {unknown}, which are not ab challengers "
                    f"of this deployment (nor {CHAMPION!r})"
                )
            first = by_salt.setdefault(c.salt, c)
            if first.split != c.split:
                raise ValueError(
                    f"ab challengers {first.name!r} and {c.name!r} share salt {c.salt!r} "
                    "(one experiment) but give different splits"
                )
        return self

    def challenger(self, name: str) -> ChallengerConfig:
        """The challenger called ``name`` (KeyError if there is none)."""
        for c in self.challengers:
            if c.name == name:
                return c
        raise KeyError(name)


class GatewayConfig(_Strict):
    """Everything ``accuguard serve`` reads from ``deployments.yaml`` and the environment."""

    store_url: str = "sqlite:///accuguard.db"
    spool_dir: str = "accuguard-spool"
    mlflow_tracking_uri: str | None = None
    privacy_salt_env: str = "ACCUGUARD_PRIVACY_SALT"
    hash_unit_ids: bool = True
    admin_token_env: str = "ACCUGUARD_ADMIN_TOKEN"  # noqa: S105 (a variable name)
    reload_interval_s: Annotated[float, Field(ge=0)] = 30.0
    shutdown_timeout_s: Annotated[float, Field(gt=0)] = 30.0
    shadow_max_in_flight: Annotated[int, Field(ge=1)] = 256
    batching: BatchingConfig = Field(default_factory=BatchingConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    tracing: TracingConfig = Field(default_factory=TracingConfig)
    controller: ControllerConfig = Field(default_factory=ControllerConfig)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    deployments: dict[str, DeploymentConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names(self) -> GatewayConfig:
        bad = [n for n in self.deployments if not _NAME_RE.match(n)]
        if bad:
            raise ValueError(
                f"deployment names must match {_NAME} (they appear in URLs), got {bad}"
            )
        return self


def load_gateway_config(
    path: str | Path | None, env: Mapping[str, str] | None = None
) -> GatewayConfig:
    """Read ``path`` (YAML; ``None``: defaults only), apply environment overrides, validate.

    Raises :class:`~accuguard.errors.ConfigError` naming the file or the environment
    variable, the field and what was expected.

    >>> cfg = load_gateway_config(None, env={"ACCUGUARD_MAX_BATCH_SIZE": "128"})
    >>> cfg.batching.max_batch_size, cfg.store_url
    (128, 'sqlite:///accuguard.db')
    """
    env = os.environ if env is None else env
    raw = read_yaml_mapping(path) if path is not None else {}
    where = str(path) if path is not None else "(no config file)"
    used = []
    for var, dotted in ENV_OVERRIDES.items():
        value = env.get(var)
        if value is None or value == "":
            continue
        used.append(var)
        node = raw
        *parents, leaf = dotted.split(".")
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[leaf] = value
    try:
        config = GatewayConfig.model_validate(raw)
    except ValidationError as exc:
        message = format_validation_error(exc).replace(": Value error, ", ": ")
        if used:
            message += f" (environment overrides in effect: {', '.join(used)})"
        raise ConfigError(f"{where}: {message}") from None
    if path is not None and config.monitoring.files:
        base = Path(path).resolve().parent
        files = [f if f.is_absolute() else base / f for f in config.monitoring.files]
        config = config.model_copy(
            update={"monitoring": config.monitoring.model_copy(update={"files": files})}
        )
    _check_monitors(config, where)
    return config


def _check_monitors(config: GatewayConfig, where: str) -> None:
    """Read every monitor file now, so a bad one stops ``serve`` before it starts."""
    if not config.monitoring.files:
        return
    from accuguard.monitor.runner import load_monitor_files

    for monitor in load_monitor_files(config.monitoring.files):
        if monitor.deployment not in config.deployments:
            raise ConfigError(
                f"{where}: monitoring.files: a monitor watches deployment "
                f"{monitor.deployment!r}, which is not in deployments "
                f"({', '.join(sorted(config.deployments)) or 'none'})"
            )
