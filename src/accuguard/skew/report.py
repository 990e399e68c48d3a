"""The feature-skew report: per feature mismatch rate and drift, the gates, the verdict.

``SkewReport.to_dict()`` is the JSON written by ``accuguard skew --output`` (schema
``accuguard.skew/v1``; NaN written as ``null``). ``gate_values()`` lists every value a
gate can name:

- per feature: ``mismatch_rate(f)``, ``mismatches(f)``, ``missing(f)`` (share of rows the
  store has no value for), ``ks(f)``, ``psi(f)``, ``wasserstein(f)``, ``jensenshannon(f)``,
  ``chi_square(f)``, ``p_value(f)``, ``drift(f)`` (the verdict's effect), ``drifted(f)``;
- overall: ``max_mismatch_rate``, ``row_mismatch_rate`` (share of rows with at least one
  mismatching feature), ``drift.share``, ``drift.count``, ``rows``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from accuguard.report.validation import write_atomic
from accuguard.stats.drift import DriftResult
from accuguard.validate.gates import GateResult

SCHEMA_VERSION = "accuguard.skew/v1"
FUNCTIONS = frozenset(
    {
        "mismatch_rate",
        "mismatches",
        "missing",
        "ks",
        "psi",
        "wasserstein",
        "jensenshannon",
        "chi_square",
        "p_value",
        "drift",
        "drifted",
    }
)
_DETAIL_ALIASES = (
    ("ks", "ks"),
    ("psi", "psi"),
    ("wasserstein_normed", "wasserstein"),
    ("jensenshannon", "jensenshannon"),
    ("chi_square", "chi_square"),
)


@dataclass(frozen=True)
class FeatureSkew:
    """One feature: how often the logged value differs from the store's, and drift."""

    name: str
    ref: str
    dtype: str
    kind: str
    rows: int
    mismatches: int
    mismatch_rate: float
    logged_nulls: int
    store_nulls: int
    wrong_type: int
    tolerance: dict[str, float] | None
    max_abs_difference: float | None
    drift: DriftResult
    examples: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class SkewReport:
    """The whole check (see the module docstring for the gate names)."""

    deployment: str
    since: float
    until: float
    entity_keys: list[str]
    source: str
    feast_repo: str
    feast_version: str
    served: int
    sampled: int
    compared: int
    without_entity: int
    rows_with_mismatch: int
    features: dict[str, FeatureSkew]
    not_in_store: list[str]
    gates: list[GateResult]
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every gate passed."""
        return all(g.passed for g in self.gates)

    @property
    def row_mismatch_rate(self) -> float:
        """Share of compared rows with at least one mismatching feature."""
        return self.rows_with_mismatch / self.compared if self.compared else math.nan

    @property
    def drifted(self) -> list[str]:
        """The features whose distribution drifted."""
        return [n for n, f in self.features.items() if f.drift.drifted]

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (NaN as ``None``)."""
        out: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "passed": self.passed}
        body = asdict(self)
        body["gates"] = [asdict(g) for g in self.gates]
        out.update(body)
        out["row_mismatch_rate"] = self.row_mismatch_rate
        out["drift"] = {
            "count": len(self.drifted),
            "share": _share(len(self.drifted), len(self.features)),
            "features": self.drifted,
        }
        cleaned: dict[str, Any] = _clean(out)
        return cleaned

    def write_json(self, path: str | Path) -> None:
        """Write atomically: a partial report is never left behind."""
        write_atomic(Path(path), json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n")


def gate_values(
    features: dict[str, FeatureSkew], compared: int, rows_with_mismatch: int
) -> dict[str, float]:
    """Every value a skew gate can name, e.g. ``mismatch_rate(amount)``."""
    nan = math.nan
    values: dict[str, float] = {
        "rows": float(compared),
        "row_mismatch_rate": rows_with_mismatch / compared if compared else nan,
        "max_mismatch_rate": max((f.mismatch_rate for f in features.values()), default=nan),
    }
    drifted = sum(f.drift.drifted for f in features.values())
    values["drift.count"] = float(drifted)
    values["drift.share"] = _share(drifted, len(features))
    for name, f in features.items():
        values[f"mismatch_rate({name})"] = f.mismatch_rate
        values[f"mismatches({name})"] = float(f.mismatches)
        values[f"missing({name})"] = f.store_nulls / f.rows if f.rows else nan
        d = f.drift
        values[f"p_value({name})"] = nan if d.p_value is None else d.p_value
        values[f"drift({name})"] = d.effect
        values[f"drifted({name})"] = float(d.drifted)
        for key, alias in _DETAIL_ALIASES:
            if key in d.detail:
                values[f"{alias}({name})"] = d.detail[key]
    return values


def _share(part: int, whole: int) -> float:
    return part / whole if whole else math.nan


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value
