"""Compare one feature's logged values with the feature store's, row by row.

A row **matches** when both values are missing, or both are present and

- numeric features (the store's type is an integer or a float):
  ``|logged - store| <= absolute + relative * |store|`` (the rule of
  :func:`numpy.isclose`, the store's value being the reference);
- categorical features (strings, booleans): the values are equal and of the same kind
  (the string ``"1"``, the number ``1`` and ``true`` are three different values).

A value on one side only, or a logged value of the wrong kind (text for a numeric
feature, a number for a text feature: counted in ``wrong_type``), is a mismatch.
``mismatch_rate = mismatches / rows``.

Drift compares the two distributions over the same rows with the statistics of
``accuguard validate`` (:func:`accuguard.profile.columns.drift_between`), the store's
values as the reference: KS for numeric, chi-square for categorical features by default.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from accuguard.profile.columns import drift_between, profile_column
from accuguard.stats.drift import DriftResult

Kind = Literal["numeric", "categorical"]
BoolArray = npt.NDArray[np.bool_]
MAX_EXAMPLES = 5


@dataclass(frozen=True)
class Tolerance:
    """How close two numbers must be to match: ``absolute + relative * |store|``."""

    absolute: float = 1e-9
    relative: float = 1e-6

    def __post_init__(self) -> None:
        if not (self.absolute >= 0 and self.relative >= 0):
            raise ValueError(f"tolerances must be >= 0; got {self.absolute}, {self.relative}")


@dataclass(frozen=True)
class FeatureComparison:
    """One feature's row-by-row result and the drift of its distribution."""

    kind: Kind
    rows: int
    mismatches: int
    logged_nulls: int
    store_nulls: int
    wrong_type: int
    max_abs_difference: float | None
    drift: DriftResult
    mismatch: BoolArray
    """Per row: True where the row does not match."""

    @property
    def mismatch_rate(self) -> float:
        """``mismatches / rows`` (NaN without rows)."""
        return self.mismatches / self.rows if self.rows else math.nan

    def examples(
        self, request_ids: Sequence[str], logged: Sequence[Any], store: pa.Array
    ) -> list[dict[str, Any]]:
        """The first few mismatching rows: request id, logged value, store value."""
        values = store.to_pylist()
        picked = np.flatnonzero(self.mismatch)[:MAX_EXAMPLES]
        return [
            {"request_id": request_ids[i], "logged": logged[i], "store": values[i]} for i in picked
        ]


def kind_of_store(dtype: pa.DataType) -> Kind:
    """``numeric`` for the store's integer and float columns, else ``categorical``."""
    if pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return "numeric"
    return "categorical"


def compare_feature(
    logged: Sequence[Any],
    store: pa.Array,
    tolerance: Tolerance = Tolerance(),
    method: str | None = None,
    alpha: float | None = None,
    threshold: float | None = None,
) -> FeatureComparison:
    """Compare ``logged`` (JSON values, one per row) with ``store`` (the same rows).

    >>> c = compare_feature([1.0, 2.0, None, 4.0], pa.array([1.0, 2.5, None, None]))
    >>> (c.kind, c.mismatches, c.mismatch_rate, c.store_nulls)
    ('numeric', 2, 0.5, 2)
    >>> compare_feature(["a", "1", True], pa.array(["a", "1", "True"])).mismatches
    1
    """
    if len(logged) != len(store):
        raise ValueError(f"{len(logged)} logged values but {len(store)} store values")
    kind = kind_of_store(store.type)
    if kind == "numeric":
        return _numeric(logged, store, tolerance, method, alpha, threshold)
    return _categorical(logged, store, method, alpha, threshold)


def _as_float(value: Any) -> tuple[float, bool]:
    """``(number, wrong_type)``; a missing value is NaN."""
    if value is None:
        return math.nan, False
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan, True
    return float(value), False


def _numeric(
    logged: Sequence[Any],
    store: pa.Array,
    tolerance: Tolerance,
    method: str | None,
    alpha: float | None,
    threshold: float | None,
) -> FeatureComparison:
    pairs = [_as_float(v) for v in logged]
    a = np.fromiter((p[0] for p in pairs), dtype=np.float64, count=len(pairs))
    wrong = np.fromiter((p[1] for p in pairs), dtype=np.bool_, count=len(pairs))
    b = np.asarray(store.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    a_null, b_null = np.isnan(a) & ~wrong, np.isnan(b)
    both = ~np.isnan(a) & ~b_null
    diff = np.abs(a - b, where=both, out=np.zeros_like(a))
    close = both & (diff <= tolerance.absolute + tolerance.relative * np.abs(b))
    mismatch = ~(close | (a_null & b_null))
    drift = drift_between(
        profile_column(pa.array(b, mask=b_null), "numeric"),
        profile_column(pa.array(a, mask=np.isnan(a)), "numeric"),
        method,
        alpha=alpha,
        threshold=threshold,
    )
    return FeatureComparison(
        kind="numeric",
        rows=len(a),
        mismatches=int(mismatch.sum()),
        logged_nulls=int(a_null.sum()),
        store_nulls=int(b_null.sum()),
        wrong_type=int(wrong.sum()),
        max_abs_difference=float(diff[both].max()) if both.any() else None,
        drift=drift,
        mismatch=mismatch,
    )


def _category(value: Any) -> tuple[str, Any] | None:
    """A comparable key that keeps the kind: ``"1"``, ``1`` and ``True`` differ."""
    if value is None:
        return None
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", float(value))
    if isinstance(value, bytes):
        return ("text", value.decode("utf-8", errors="backslashreplace"))
    if isinstance(value, str):
        return ("text", value)
    return ("json", json.dumps(value, sort_keys=True, default=str))


def _label(key: tuple[str, Any] | None) -> str | None:
    return None if key is None else str(key[1])


def _categorical(
    logged: Sequence[Any],
    store: pa.Array,
    method: str | None,
    alpha: float | None,
    threshold: float | None,
) -> FeatureComparison:
    a = [_category(v) for v in logged]
    b = [_category(v) for v in store.to_pylist()]
    mismatch = np.fromiter((x != y for x, y in zip(a, b, strict=True)), np.bool_, len(a))
    drift = drift_between(
        profile_column(pa.array([_label(k) for k in b], pa.string()), "categorical"),
        profile_column(pa.array([_label(k) for k in a], pa.string()), "categorical"),
        method,
        alpha=alpha,
        threshold=threshold,
    )
    return FeatureComparison(
        kind="categorical",
        rows=len(a),
        mismatches=int(mismatch.sum()),
        logged_nulls=sum(k is None for k in a),
        store_nulls=sum(k is None for k in b),
        wrong_type=sum(
            x is not None and y is not None and x[0] != y[0] for x, y in zip(a, b, strict=True)
        ),
        max_abs_difference=None,
        drift=drift,
        mismatch=mismatch,
    )
