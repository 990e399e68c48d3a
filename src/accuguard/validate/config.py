"""Validation config: what to check and the gates that must pass, loaded from YAML.

Errors name the file, the field and what was expected, e.g.::

    gates.yaml: drift.alpha: Input should be less than 1 (got 5)
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from accuguard.configfile import format_validation_error, read_yaml_mapping
from accuguard.errors import ConfigError

DriftMethod = Literal["ks", "chi_square", "psi", "wasserstein", "jensenshannon"]
ColumnKind = Literal["numeric", "categorical"]
Task = Literal["binary", "multiclass", "regression"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnConfig(_Strict):
    """Per-column settings; every field is optional."""

    kind: ColumnKind | None = None
    drift: DriftMethod | None = None
    threshold: float | None = Field(default=None, gt=0, description="effect-size threshold")
    bounds: tuple[float | None, float | None] | None = None
    ignore: bool = False


class DriftConfig(_Strict):
    """Drift defaults: the method per column kind and the verdict thresholds."""

    numeric: DriftMethod = "ks"
    categorical: DriftMethod = "chi_square"
    alpha: Annotated[float, Field(gt=0, lt=1)] = 0.05


class GateConfig(_Strict):
    """A named check, e.g. ``{name: recall floor, check: "recall >= 0.7"}``."""

    name: str | None = None
    check: str

    @field_validator("check")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a gate needs an expression such as 'f1 >= 0.8'")
        return value


def _gate_strings(value: object) -> object:
    """A gate may be written as a bare string: ``- "f1 >= 0.8"``."""
    if isinstance(value, list):
        return [{"check": g} if isinstance(g, str) else g for g in value]
    return value


#: a list of gates, each a :class:`GateConfig` or a bare expression string
GateList = Annotated[list[GateConfig], BeforeValidator(_gate_strings)]


class ValidationConfig(_Strict):
    """Everything `accuguard validate` reads from ``--config``."""

    task: Task | None = None
    positive_label: str | int | bool | None = None
    confidence: Annotated[float, Field(gt=0.5, lt=1)] = 0.95
    decision_threshold: Annotated[float, Field(gt=0, lt=1)] = 0.5
    margin: Annotated[float, Field(ge=0)] = 0.01
    segments: list[str] = Field(default_factory=list)
    columns: dict[str, ColumnConfig] = Field(default_factory=dict)
    drift: DriftConfig = Field(default_factory=DriftConfig)
    gates: GateList = Field(default_factory=list)
    exact_limit: Annotated[int, Field(ge=1000)] = 10_000_000
    seed: int = 0


def load_config(path: str | Path | None) -> ValidationConfig:
    """Read and validate a YAML config; ``None`` gives the defaults.

    Raises :class:`~accuguard.errors.ConfigError` naming the file and field.
    """
    if path is None:
        return ValidationConfig()
    path = Path(path)
    raw = read_yaml_mapping(path)
    try:
        return ValidationConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {format_validation_error(exc)}") from None
