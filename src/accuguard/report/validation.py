"""The validation report: a pydantic model whose JSON Schema is checked in.

``docs/schema/validation-report.v1.json`` is generated from :class:`ValidationReport`
(``accuguard schema validation``); a test keeps the two equal. Adding an optional
field is a minor change; renaming or removing one bumps ``schema_version``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION: Final = "accuguard.validation/v1"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Estimate(_Model):
    """A value with its confidence interval (NaN bounds are written as null)."""

    value: float | None
    lower: float | None = None
    upper: float | None = None
    method: str | None = None


class DatasetInfo(_Model):
    path: str
    rows: int
    columns: int


class Inputs(_Model):
    reference: DatasetInfo
    current: DatasetInfo
    target: str | None = None
    prediction: str | None = None
    score: str | None = None
    challenger_prediction: str | None = None
    challenger_score: str | None = None
    model_uri: str | None = None
    challenger_model_uri: str | None = None
    config_path: str | None = None
    config_sha256: str | None = None


class TypeChange(_Model):
    column: str
    reference: str
    current: str


class SchemaCheck(_Model):
    missing_columns: list[str]
    extra_columns: list[str]
    type_changes: list[TypeChange]
    unsupported_columns: dict[str, str]


class Duplicates(_Model):
    reference: int
    current: int
    current_share: float


class Quality(_Model):
    schema_: SchemaCheck = Field(alias="schema")
    duplicates: Duplicates
    columns: dict[str, dict[str, float | None]]
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ColumnDrift(_Model):
    kind: Literal["numeric", "categorical"]
    role: Literal["feature", "target", "prediction", "score"] = Field(
        description="only features count in drift.share and drift.count"
    )
    method: str
    statistic: float | None
    p_value: float | None
    effect: float | None
    threshold: float | None
    drifted: bool
    detail: dict[str, float | None]
    distribution: dict[str, Any]


class Drift(_Model):
    share: float = Field(description="share of compared feature columns that drifted")
    count: int = Field(description="number of drifted feature columns")
    columns_checked: int = Field(description="number of compared feature columns")
    alpha: float
    columns: dict[str, ColumnDrift]


class ConfusionMatrix(_Model):
    labels: list[str]
    matrix: list[list[int]] = Field(description="rows: true label, columns: predicted label")


class Performance(_Model):
    task: Literal["binary", "multiclass", "regression"]
    rows: int
    rows_without_label: int
    positive_label: str | None = None
    metrics: dict[str, Estimate]
    confusion_matrix: ConfusionMatrix | None = None


class PairedComparison(_Model):
    metric: str
    champion: float | None
    challenger: float | None
    difference: float | None
    lower: float | None
    upper: float | None
    p_value: float | None
    method: str
    verdict: Literal["better", "not_worse", "worse", "inconclusive"]


class Comparison(_Model):
    margin: float
    verdict: Literal["better", "not_worse", "worse", "inconclusive"]
    metrics: list[PairedComparison]


class SegmentColumn(_Model):
    table: dict[str, dict[str, float | None]]
    gaps: dict[str, dict[str, Any]]


class GateOutcome(_Model):
    name: str
    expression: str
    passed: bool
    left: float | None
    op: str
    right: float | None
    message: str


class ValidationReport(_Model):
    """Top level of the JSON report."""

    schema_version: Literal["accuguard.validation/v1"] = SCHEMA_VERSION
    accuguard_version: str
    created_at: str
    passed: bool = Field(description="true when every gate passed")
    inputs: Inputs
    quality: Quality
    drift: Drift
    performance: Performance | None = None
    champion: Performance | None = None
    comparison: Comparison | None = None
    fairness: dict[str, SegmentColumn] = Field(default_factory=dict)
    gates: list[GateOutcome]
    notes: list[str] = Field(default_factory=list)

    def to_json(self) -> str:
        """Serialise with aliases (``quality.schema``) and NaN written as null."""
        return self.model_dump_json(by_alias=True, indent=2)

    def write_json(self, path: str | Path) -> None:
        """Write atomically: a partial report is never left behind."""
        write_atomic(Path(path), self.to_json())


def json_schema() -> dict[str, Any]:
    """The JSON Schema of :class:`ValidationReport`."""
    schema = ValidationReport.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://accuguard.dev/schema/validation-report.v1.json"
    return schema


def json_schema_text() -> str:
    """The schema as the text checked into ``docs/schema``."""
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


def nan_to_none(value: Any) -> float | None:
    """A number for the report: ``None`` for missing or NaN (written as JSON ``null``)."""
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
