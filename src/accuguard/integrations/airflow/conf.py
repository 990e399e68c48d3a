"""The ``conf`` of accuguard's Airflow DAG runs, validated before any work is done.

A DAG run's conf is whatever JSON the trigger sent; a typo must not become a silent
default. Both models forbid unknown fields, and every error names the field::

    conf.model_version: give either model_version or alias, not both
    conf.dataset_path: file not found (got '/data/missing.parquet')
    conf.alert.deployment: Field required
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from accuguard.configfile import format_validation_error
from accuguard.errors import ConfigError

__all__ = ["RetrainRunConf", "ValidationRunConf", "parse_retrain_conf", "parse_validation_conf"]

_NAME = r"^[A-Za-z0-9_.-]{1,250}$"
Action = Literal["promote", "rollout", "tag"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())


class GateItem(_Strict):
    """A gate as in a validation config: ``{name?, check}``."""

    name: str | None = None
    check: str = Field(min_length=1)


class ValidationRunConf(_Strict):
    """The conf of ``accuracy_validation_dag``.

    Example::

        {"model_name": "fraud", "alias": "challenger", "target": "label",
         "dataset_path": "/data/holdout.parquet", "reference_path": "/data/train.parquet",
         "gates": ["roc_auc >= 0.85", "drift.share <= 0.3"]}
    """

    model_name: str = Field(pattern=_NAME)
    model_version: str | None = Field(default=None, pattern=r"^[1-9]\d{0,9}$")
    alias: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,255}$")
    dataset_path: str
    reference_path: str
    target: str = Field(min_length=1)
    gates: list[str | GateItem] = Field(default_factory=list)
    config_path: str | None = None
    action: Action = "promote"
    promote_alias: str = Field(default="champion", pattern=r"^[A-Za-z0-9_-]{1,255}$")
    deployment: str | None = Field(default=None, pattern=_NAME)
    plan_path: str | None = None
    dry_run: bool = False
    fail_on_reject: bool = False
    report_dir: str | None = None

    @field_validator("model_version", mode="before")
    @classmethod
    def _version_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("dataset_path", "reference_path", "config_path", "plan_path")
    @classmethod
    def _existing_file(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).is_file():
            raise ValueError("file not found")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ValidationRunConf:
        if (self.model_version is None) == (self.alias is None):
            which = "not both" if self.model_version else "one of them is required"
            raise ValueError(f"model_version: give either model_version or alias, {which}")
        if not self.gates and self.config_path is None:
            raise ValueError("gates: give at least one gate (or config_path with gates)")
        if self.action == "rollout" and (self.deployment is None or self.plan_path is None):
            raise ValueError("action: 'rollout' needs deployment and plan_path")
        return self

    @property
    def model_ref(self) -> str:
        """``models:/name/version`` or ``models:/name@alias``, as the conf names it."""
        if self.model_version is not None:
            return f"models:/{self.model_name}/{self.model_version}"
        return f"models:/{self.model_name}@{self.alias}"


class AlertPayload(BaseModel):
    """The alert a monitor's ``airflow:`` hook sends (docs/monitoring.md)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    deployment: str = Field(pattern=_NAME)
    monitor: str = Field(min_length=1)
    reason: str = ""
    value: float | None = None
    threshold: float | None = None
    window: dict[str, Any] | None = None
    checked_at: float | None = None
    detail: dict[str, Any] | None = None


class RetrainRunConf(_Strict):
    """The conf of ``accuguard_retrain_dag``: a monitor alert as the Airflow hook sends it."""

    event: str = Field(min_length=1)
    delivery: str = Field(min_length=1)
    alert: AlertPayload


def _parse(model: type[BaseModel], conf: object) -> Any:
    if not isinstance(conf, dict):
        raise ConfigError(f"conf: expected a JSON object, got {type(conf).__name__}")
    try:
        return model.model_validate(conf)
    except ValidationError as exc:
        message = format_validation_error(exc).replace("Value error, ", "")
        parts = [p.removeprefix("(top level): ") for p in message.split("; ")]
        raise ConfigError("; ".join(f"conf.{p}" for p in parts)) from None


def parse_validation_conf(conf: object) -> ValidationRunConf:
    """Validate ``accuracy_validation_dag``'s conf; :class:`ConfigError` names the field.

    >>> parse_validation_conf({"model_name": "fraud"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    accuguard.errors.ConfigError: conf.dataset_path: Field required; ...
    """
    result: ValidationRunConf = _parse(ValidationRunConf, conf)
    return result


def parse_retrain_conf(conf: object) -> RetrainRunConf:
    """Validate ``accuguard_retrain_dag``'s conf (a monitor alert)."""
    result: RetrainRunConf = _parse(RetrainRunConf, conf)
    return result
