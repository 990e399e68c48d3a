"""Settings of a feature-skew check, from YAML (``accuguard skew --config``) or Python.

.. code-block:: yaml

    tolerance: 1.0e-9          # absolute tolerance for numbers
    rel_tolerance: 1.0e-6      # plus this share of |store value|
    features:
      amount: {tolerance: 0.01}                 # cents
      merchant_category: {ref: "merchant_features:category"}
      session_length: {ignore: true}
    drift: {numeric: ks, categorical: chi_square, alpha: 0.05}
    gates:
      - mismatch_rate(amount) <= 0.01
      - {name: no drift, check: "drift.count == 0"}

Unknown fields are errors naming the file and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from accuguard.configfile import format_validation_error, read_yaml_mapping
from accuguard.errors import ConfigError
from accuguard.validate.config import DriftConfig, DriftMethod, GateList

DEFAULT_GATES = ("max_mismatch_rate <= 0", "drift.count == 0")
"""The gates used when none is given: no mismatch at all, no drifted feature."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeatureSettings(_Strict):
    """Per-feature settings; every field is optional."""

    ref: str | None = Field(default=None, pattern=r"^[^:=\s]+:[^:=\s]+$")
    tolerance: Annotated[float, Field(ge=0)] | None = None
    rel_tolerance: Annotated[float, Field(ge=0)] | None = None
    drift: DriftMethod | None = None
    threshold: Annotated[float, Field(gt=0)] | None = None
    ignore: bool = False


class SkewConfig(_Strict):
    """Everything ``accuguard skew`` reads from ``--config``."""

    tolerance: Annotated[float, Field(ge=0)] = 1e-9
    rel_tolerance: Annotated[float, Field(ge=0)] = 1e-6
    features: dict[str, FeatureSettings] = Field(default_factory=dict)
    drift: DriftConfig = Field(default_factory=DriftConfig)
    gates: GateList = Field(default_factory=list)
    max_rows: Annotated[int, Field(ge=1)] = 100_000


def load_skew_config(path: str | Path | None) -> SkewConfig:
    """Read and validate a YAML config; ``None`` gives the defaults.

    Raises :class:`~accuguard.errors.ConfigError` naming the file and field.
    """
    if path is None:
        return SkewConfig()
    raw = read_yaml_mapping(path)
    try:
        return SkewConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {format_validation_error(exc)}") from None
