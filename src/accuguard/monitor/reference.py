"""The reference a monitor compares the champion's recent traffic with.

A :class:`Reference` is one mergeable profile per feature column (the same profiles
``accuguard validate`` builds: :mod:`accuguard.profile.columns`) and, optionally, a
profile of the champion's scores on the reference data for prediction drift. It is
built from a Parquet file (streamed in batches, constant memory), from rows (dicts,
e.g. a window of the event log), or from columns.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from accuguard.errors import DataError
from accuguard.profile.columns import (
    CategoricalColumnProfile,
    ColumnProfile,
    NumericColumnProfile,
    profile_column,
)
from accuguard.validate.schema import kind_of

Kind = Literal["numeric", "categorical"]

__all__ = ["Reference", "profile_values"]


def _numbers(values: Sequence[Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
    out = np.full(len(values), np.nan, dtype=np.float64)
    for i, v in enumerate(values):
        if isinstance(v, int | float):  # bool is an int
            out[i] = float(v)
        elif isinstance(v, str):
            try:
                out[i] = float(v)
            except ValueError:
                out[i] = math.nan
    return out


def profile_values(values: Sequence[Any], kind: Kind) -> ColumnProfile:
    """Profile plain Python values (JSON features) as ``kind``.

    Numeric: numbers (and numeric strings) are kept, anything else counts as missing.
    Categorical: every non-null value becomes ``str(value)``, as the Parquet side does.

    >>> profile_values([1, 2.5, None, "x"], "numeric").count
    2
    >>> sorted(profile_values(["a", True, None], "categorical").counts.items())
    [('True', 1), ('a', 1)]
    """
    if kind == "numeric":
        nulls = sum(1 for v in values if v is None)
        numbers = _numbers([v for v in values if v is not None])
        return NumericColumnProfile.from_array(numbers, nulls=nulls)
    texts = [None if v is None else str(v) for v in values]
    return CategoricalColumnProfile.from_arrow(pa.array(texts, type=pa.string()))


@dataclass
class Reference:
    """Per-column profiles of the reference data, their kinds and an optional score profile."""

    columns: dict[str, ColumnProfile] = field(default_factory=dict)
    kinds: dict[str, Kind] = field(default_factory=dict)
    scores: NumericColumnProfile | None = None
    source: str = "in-memory"

    @classmethod
    def from_parquet(
        cls,
        path: str | Path,
        *,
        columns: Sequence[str] | None = None,
        score_column: str | None = None,
        exclude: Iterable[str] = (),
    ) -> Reference:
        """Profile a Parquet file batch by batch.

        ``columns`` defaults to every numeric or categorical column except ``exclude``
        and ``score_column``. Raises :class:`~accuguard.errors.DataError` naming the file
        when it is missing, unreadable or lacks a named column.
        """
        path = Path(path)
        try:
            pf = pq.ParquetFile(path)
        except FileNotFoundError:
            raise DataError(f"{path}: reference file not found") from None
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"{path}: cannot read the reference as Parquet ({exc})") from None
        schema = pf.schema_arrow
        skip = set(exclude) | ({score_column} if score_column else set())
        wanted = (
            list(columns)
            if columns is not None
            else [f.name for f in schema if f.name not in skip and kind_of(f.type) is not None]
        )
        needed = wanted + ([score_column] if score_column else [])
        missing = [c for c in needed if c not in schema.names]
        if missing:
            raise DataError(f"{path}: reference has no column(s) {missing}; it has {schema.names}")
        kinds: dict[str, Kind] = {}
        for name in wanted:
            kind = kind_of(schema.field(name).type)
            if kind is None:
                raise DataError(
                    f"{path}: column {name!r} has type {schema.field(name).type}, "
                    "neither numeric nor categorical"
                )
            kinds[name] = kind
        profiles: dict[str, ColumnProfile] = {}
        scores: NumericColumnProfile | None = None
        for batch in pf.iter_batches(columns=needed, batch_size=65_536):
            for name in wanted:
                part = profile_column(batch.column(name), kinds[name])
                profiles[name] = part if name not in profiles else _merge(profiles[name], part)
            if score_column:
                part_s = NumericColumnProfile.from_arrow(batch.column(score_column))
                scores = part_s if scores is None else scores + part_s
        return cls(profiles, kinds, scores, str(path))

    @classmethod
    def from_rows(
        cls,
        rows: Sequence[Mapping[str, Any]],
        kinds: Mapping[str, Kind],
        *,
        scores: Sequence[float] | None = None,
        source: str = "rows",
    ) -> Reference:
        """Profile feature dicts (e.g. the event log's ``features``) with the given kinds."""
        profiles = {
            name: profile_values([row.get(name) for row in rows], kind)
            for name, kind in kinds.items()
        }
        score_profile = None
        if scores is not None:
            score_profile = NumericColumnProfile.from_array(np.asarray(scores, dtype=np.float64))
        return cls(profiles, dict(kinds), score_profile, source)

    def describe(self) -> dict[str, Any]:
        """Source, columns with their kinds and row counts, and whether scores are known."""
        return {
            "source": self.source,
            "columns": {
                n: {"kind": self.kinds[n], "rows": self.columns[n].rows} for n in self.columns
            },
            "scores": None if self.scores is None else self.scores.count,
        }


def _merge(a: ColumnProfile, b: ColumnProfile) -> ColumnProfile:
    if isinstance(a, NumericColumnProfile) and isinstance(b, NumericColumnProfile):
        return a + b
    if isinstance(a, CategoricalColumnProfile) and isinstance(b, CategoricalColumnProfile):
        return a + b
    raise TypeError("cannot merge profiles of different kinds")  # pragma: no cover
