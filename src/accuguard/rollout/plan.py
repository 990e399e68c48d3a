"""Rollout plans: ordered steps (shadow, canary weights), each with a gate of checks.

A plan is YAML validated by pydantic; errors name the file and the field::

    plans/fraud.yaml: steps.1.weight: a canary step needs a weight in (0, 1] (got 0.0)

Promotion is implicit: when the last step's gate passes, the challenger becomes the
champion. A gate's checks are mappings with a ``check`` key (the discriminator), e.g.
``{check: recall, margin: 0.02}``; docs/rollout.md ("Plans and gates") has a full
example and the meaning of every field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from accuguard.configfile import format_validation_error, parse_yaml, read_yaml_mapping
from accuguard.errors import ConfigError

Mode = Literal["shadow", "canary"]
OnInconclusive = Literal["rollback", "promote", "hold"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Scalar = str | int | float | bool

Share = Annotated[float, Field(ge=0, le=1)]
Alpha = Annotated[float, Field(gt=0, lt=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- checks ------------------------------------------------------------------------


class MetricCheck(_Strict):
    """Non-inferiority of a labelled metric: challenger - champion > -margin.

    Shadow steps compare the two models on the same requests (paired); canary steps
    compare the two arms (unpaired). ``positive`` is the positive class for recall,
    precision and F1 (ignored by accuracy). Fewer than ``min_labels`` rows the metric is
    computed on (labelled rows per arm or labelled pairs; for recall the labelled
    positives, for canary precision the predicted positives) make it inconclusive.
    """

    check: Literal["accuracy", "recall", "precision", "f1"]
    margin: Annotated[float, Field(ge=0, lt=1)] = 0.01
    positive: Scalar = 1
    min_labels: Annotated[int, Field(ge=1)] = 100


class PredictionDriftCheck(_Strict):
    """Challenger's score distribution vs the champion's (two-sample KS).

    Fails when the KS test is significant at ``alpha`` *and* the KS statistic is at
    least ``max_statistic`` (DESIGN.md, "Drift verdicts").
    """

    check: Literal["prediction_drift"]
    max_statistic: Annotated[float, Field(gt=0, le=1)] = 0.1
    alpha: Alpha = 0.01
    min_samples: Annotated[int, Field(ge=2)] = 100


class InputDriftCheck(_Strict):
    """Features of the window vs the plan's reference data, column by column.

    A column drifts when :func:`accuguard.profile.columns.drift_between` says so (KS for
    numeric, chi-square for categorical columns, ``alpha`` and ``min_effect`` overriding
    the defaults); the check fails when the share of drifted columns exceeds
    ``max_drifted_share``. ``columns`` restricts the check (default: every reference
    column present in the features).
    """

    check: Literal["input_drift"]
    columns: list[str] | None = None
    max_drifted_share: Share = 0.0
    alpha: Alpha | None = None
    min_effect: Annotated[float, Field(ge=0)] | None = None
    min_samples: Annotated[int, Field(ge=2)] = 200


class LatencyCheck(_Strict):
    """The challenger's 95th latency percentile (ms) must be at most ``max``."""

    check: Literal["latency_p95_ms"]
    max: Annotated[float, Field(gt=0)]
    min_samples: Annotated[int, Field(ge=1)] = 100


class RateCheck(_Strict):
    """A rate of the challenger must be at most ``max``.

    ``error_rate``: share of the challenger's requests that failed (timeouts included).
    ``disagreement_rate`` (shadow only): share of paired requests whose outputs differ.
    """

    check: Literal["error_rate", "disagreement_rate"]
    max: Share
    min_samples: Annotated[int, Field(ge=1)] = 100


class BusinessCheck(_Strict):
    """Non-inferiority of a business metric per unit (canary only).

    ``event`` is a ``business_events.name``. ``kind: conversion`` compares the share of
    units with at least one such event; ``kind: mean`` the mean of the event values
    summed per unit (units without events count 0). ``margin`` is absolute (or a
    fraction of the champion's value with ``relative: true``).
    """

    check: Literal["business"]
    event: Annotated[str, Field(min_length=1)]
    kind: Literal["conversion", "mean"] = "conversion"
    margin: Annotated[float, Field(ge=0)] = 0.0
    relative: bool = False
    higher_is_better: bool = True
    min_units: Annotated[int, Field(ge=2)] = 100


class SrmCheck(_Strict):
    """Sample ratio mismatch of the canary's units against the step weight (canary only)."""

    check: Literal["srm"]
    threshold: Alpha = 0.001
    min_units: Annotated[int, Field(ge=1)] = 100


Check = Annotated[
    MetricCheck
    | PredictionDriftCheck
    | InputDriftCheck
    | LatencyCheck
    | RateCheck
    | BusinessCheck
    | SrmCheck,
    Field(discriminator="check"),
]
SHADOW_ONLY = frozenset({"disagreement_rate"})
CANARY_ONLY = frozenset({"business", "srm"})


class Gate(_Strict):
    """The checks of a step and how their intervals are computed.

    ``confidence`` is the two-sided level of every interval. ``sequential: true`` (the
    default) uses always-valid confidence sequences for the comparisons (labelled
    metrics, business metrics), so the controller may look at every tick without
    inflating the error rates; ``false`` uses fixed-horizon intervals, valid when the
    decision is read once.
    """

    checks: list[Check] = Field(default_factory=list)
    confidence: Annotated[float, Field(gt=0.5, lt=1)] = 0.95
    sequential: bool = True


# -- steps and plan ----------------------------------------------------------------


class Step(_Strict):
    """One step: shadow, or canary at ``weight`` (share of units), with its gate.

    The gate passes only once the step has run ``min_duration_s`` and seen
    ``min_requests`` challenger requests and ``min_labels`` labelled challenger rows
    (pairs in shadow). Still inconclusive after ``max_duration_s``: the plan's
    ``on_inconclusive`` applies.
    """

    name: Annotated[str, Field(min_length=1)]
    mode: Mode
    weight: Annotated[float, Field(ge=0, le=1, validate_default=True)] = 0.0
    min_duration_s: Annotated[float, Field(ge=0)] = 0.0
    max_duration_s: Annotated[float, Field(gt=0)] | None = None
    min_requests: Annotated[int, Field(ge=0)] = 0
    min_labels: Annotated[int, Field(ge=0)] = 0
    gate: Gate = Field(default_factory=Gate)

    @field_validator("weight")
    @classmethod
    def _weight_for_canary(cls, value: float, info: Any) -> float:
        if info.data.get("mode") == "canary" and not value > 0:
            raise ValueError("a canary step needs a weight in (0, 1]")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Step:
        if self.max_duration_s is not None and self.max_duration_s < self.min_duration_s:
            raise ValueError(
                f"max_duration_s ({self.max_duration_s:g}) is below min_duration_s "
                f"({self.min_duration_s:g})"
            )
        wrong = SHADOW_ONLY if self.mode == "canary" else CANARY_ONLY
        for check in self.gate.checks:
            if check.check in wrong:
                other = "shadow" if self.mode == "canary" else "canary"
                raise ValueError(
                    f"check {check.check!r} applies to {other} steps only, not to "
                    f"{self.mode} step {self.name!r}"
                )
        return self


class ChangeWindow(_Strict):
    """When changes may happen (UTC): weekdays and ``[start_hour, end_hour)``."""

    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS), min_length=1)
    start_hour: Annotated[int, Field(ge=0, le=23)] = 0
    end_hour: Annotated[int, Field(ge=1, le=24)] = 24

    @model_validator(mode="after")
    def _ordered(self) -> ChangeWindow:
        if self.end_hour <= self.start_hour:
            raise ValueError(
                f"end_hour ({self.end_hour}) must be after start_hour ({self.start_hour})"
            )
        return self


class OpaHook(_Strict):
    """Delegate a decision to an OPA server: ``POST {url}/v1/data/{path}``.

    The result must be ``true`` (or an object with ``allow: true``) for the policy to pass.
    """

    url: Annotated[str, Field(min_length=1)]
    path: Annotated[str, Field(min_length=1)]
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 2.0

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"expected an http(s) URL such as http://opa:8181 (got {value!r})")
        return value.rstrip("/")

    @field_validator("path")
    @classmethod
    def _data_path(cls, value: str) -> str:
        path = value.strip("/")
        if not path or any(not part for part in path.split("/")):
            raise ValueError(f"expected a data path such as 'accuguard/allow' (got {value!r})")
        return path


class Policy(_Strict):
    """Conditions beyond metrics (:func:`accuguard.rollout.policy.evaluate_policy`)."""

    require_validation: bool = False
    max_fairness_gap: Annotated[float, Field(ge=0)] | None = None
    change_window: ChangeWindow | None = None
    opa: OpaHook | None = None


class Plan(_Strict):
    """A rollout plan: steps in order, then promotion."""

    steps: list[Step] = Field(min_length=1)
    on_inconclusive: OnInconclusive = "rollback"
    policy: Policy = Field(default_factory=Policy)
    reference: str | None = None

    @model_validator(mode="after")
    def _unique_and_referenced(self) -> Plan:
        seen: set[str] = set()
        for step in self.steps:
            if step.name in seen:
                raise ValueError(f"step names must be unique; {step.name!r} appears twice")
            seen.add(step.name)
        if self.reference is None:
            for step in self.steps:
                if any(c.check == "input_drift" for c in step.gate.checks):
                    raise ValueError(
                        f"step {step.name!r} has an input_drift check: set 'reference' to "
                        f"the reference data file (Parquet or CSV)"
                    )
        return self


def parse_plan(data: Mapping[str, Any] | None, source: str = "plan") -> Plan:
    """Validate a plan already parsed from YAML or JSON; errors name ``source`` and field."""
    if data is None:
        raise ConfigError(f"{source}: the plan is empty; expected a mapping with 'steps'")
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{source}: expected a mapping at the top level, got {type(data).__name__}"
        )
    try:
        return Plan.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(f"{source}: {format_validation_error(exc)}") from None


def plan_from_yaml(text: str, source: str = "plan") -> Plan:
    """Parse and validate a plan from YAML text (e.g. received over HTTP)."""
    raw = parse_yaml(text, source)
    return parse_plan(raw, source)


def load_plan(path: str | Path) -> Plan:
    """Read and validate a plan file.

    A relative ``reference`` is resolved against the plan file's folder. Raises
    :class:`~accuguard.errors.ConfigError` naming the file and the field.
    """
    path = Path(path)
    raw = read_yaml_mapping(path, "plan")
    plan = parse_plan(raw or None, str(path))
    if plan.reference is not None and not Path(plan.reference).is_absolute():
        resolved = (path.parent / plan.reference).resolve()
        plan = plan.model_copy(update={"reference": str(resolved)})
    return plan


def plan_hash(plan: Plan) -> str:
    """sha256 (hex) of the plan's canonical JSON (sorted keys, defaults included)."""
    canonical = json.dumps(
        plan.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
