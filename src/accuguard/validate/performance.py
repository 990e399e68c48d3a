"""The performance pass: model quality on the current file, per segment, and paired.

Reads only the label, prediction, score and segment columns (plus predictions made
by an MLflow model, given as arrays) and builds mergeable performance profiles.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from accuguard.errors import DataError
from accuguard.validate.config import Task
from accuguard.validate.sources import Source

Role = Literal["feature", "target", "prediction", "score"]

NULL_SEGMENT = "(null)"


@dataclass
class Roles:
    """Which columns hold what. Predictions may come from a model instead (``arrays``)."""

    target: str
    prediction: str | None = None
    score: str | None = None
    challenger_prediction: str | None = None
    challenger_score: str | None = None
    segments: list[str] = field(default_factory=list)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def columns(self) -> list[str]:
        """File columns the pass reads (model outputs excluded)."""
        names = [
            self.target,
            self.prediction,
            self.score,
            self.challenger_prediction,
            self.challenger_score,
            *self.segments,
        ]
        return list(dict.fromkeys(n for n in names if n is not None and n not in self.arrays))

    @property
    def has_challenger(self) -> bool:
        """Whether a challenger prediction or score is given."""
        return self.challenger_prediction is not None or self.challenger_score is not None

    def role_of(self, column: str) -> Role:
        """``target``, ``prediction``, ``score`` or ``feature``."""
        if column == self.target:
            return "target"
        if column in (self.prediction, self.challenger_prediction):
            return "prediction"
        if column in (self.score, self.challenger_score):
            return "score"
        return "feature"


@dataclass
class PerformanceResult:
    """Profiles of the candidate (and champion), per segment, and their pairing."""

    task: Task
    labels: list[Any]
    positive: Any
    candidate: Any
    champion: Any | None
    segments: dict[str, dict[str, Any]]
    paired: Any | None
    rows_without_label: int


def detect_task(dtype: pa.DataType, distinct: list[Any]) -> Task:
    """Binary for two labels, multiclass for a few discrete labels, else regression."""
    if pa.types.is_floating(dtype) and any(float(v) != int(v) for v in distinct if v == v):
        return "regression"
    if len(distinct) <= 2:
        return "binary"
    if len(distinct) <= 100 and not pa.types.is_floating(dtype):
        return "multiclass"
    return "regression"


def positive_label_of(labels: list[Any], configured: Any) -> Any:
    """The positive class: the configured one, else 1 / True for 0-1 and boolean labels."""
    if configured is not None:
        return configured
    as_set = {str(v).lower() for v in labels}
    if as_set <= {"0", "1", "0.0", "1.0"}:
        return 1
    if as_set <= {"false", "true"}:
        return True
    raise DataError(
        f"target labels are {labels}: set positive_label in the config to say which is positive"
    )


def run_performance_pass(
    source: Source,
    roles: Roles,
    task: Task,
    labels: list[Any],
    positive: Any,
    progress: Callable[[str, int], None] | None = None,
    threshold: float = 0.5,
) -> PerformanceResult:
    """Stream the role columns of ``source`` and build every performance profile.

    Where only a score is given, the predicted label is ``score >= threshold``.
    """
    builder = _Builder(task, labels, positive, roles, source.path, threshold)
    offset = 0
    for batch in source.iter_batches(roles.columns()):
        n = batch.num_rows
        cols = {name: batch.column(name) for name in batch.schema.names}
        for name, values in roles.arrays.items():
            cols[name] = pa.array(values[offset : offset + n])
        builder.add(cols)
        offset += n
        if progress is not None:
            progress("performance", n)
    return builder.result()


class _Builder:
    def __init__(
        self,
        task: Task,
        labels: list[Any],
        positive: Any,
        roles: Roles,
        path: object,
        threshold: float,
    ):
        self.task, self.labels, self.positive, self.roles = task, labels, positive, roles
        self.path, self.threshold = path, threshold
        self.candidate: Any = None
        self.champion: Any = None
        self.paired: Any = None
        self.segments: dict[str, dict[str, Any]] = {s: {} for s in roles.segments}
        self.without_label = 0

    def add(self, cols: dict[str, pa.Array]) -> None:
        roles = self.roles
        keep = pc.is_valid(cols[roles.target])
        if (
            pc.any(pc.is_nan(cols[roles.target])).as_py()
            if pa.types.is_floating(cols[roles.target].type)
            else False
        ):
            keep = pc.and_(keep, pc.invert(pc.is_nan(cols[roles.target])))
        dropped = len(keep) - pc.sum(keep).as_py()
        self.without_label += dropped
        if dropped:
            cols = {k: pc.filter(v, keep) for k, v in cols.items()}
        if len(cols[roles.target]) == 0:
            return
        y = self._labels(cols[roles.target], roles.target)
        main_pred, main_score = roles.prediction, roles.score
        if roles.has_challenger:
            main_pred, main_score = roles.challenger_prediction, roles.challenger_score
        cand = self._profile(y, cols, main_pred, main_score)
        self.candidate = cand if self.candidate is None else self.candidate + cand
        if roles.has_challenger:
            champ = self._profile(y, cols, roles.prediction, roles.score)
            self.champion = champ if self.champion is None else self.champion + champ
            paired = self._paired(y, cols)
            self.paired = paired if self.paired is None else self.paired + paired
        for seg in roles.segments:
            self._add_segments(seg, y, cols, main_pred, main_score)

    def _add_segments(
        self,
        seg: str,
        y: np.ndarray,
        cols: dict[str, pa.Array],
        pred: str | None,
        score: str | None,
    ) -> None:
        values = pc.fill_null(pc.cast(cols[seg], pa.string()), NULL_SEGMENT)
        encoded = (
            pc.dictionary_encode(values).combine_chunks()
            if isinstance(values, pa.ChunkedArray)
            else pc.dictionary_encode(values)
        )
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        for code, name in enumerate(encoded.dictionary.to_pylist()):
            mask = codes == code
            sub = {k: pc.filter(v, pa.array(mask)) for k, v in cols.items()}
            part = self._profile(y[mask], sub, pred, score)
            table = self.segments[seg]
            table[name] = part if name not in table else table[name] + part

    def _labels(self, arr: pa.Array, column: str) -> np.ndarray:
        if self.task == "regression":
            return _floats(arr, column, self.path)
        if self.task == "binary":
            return _is_positive(arr, self.positive, column, self.path)
        return np.asarray(pc.cast(arr, pa.string()).to_numpy(zero_copy_only=False))

    def _predictions(self, arr: pa.Array, column: str) -> np.ndarray:
        if arr.null_count or (pa.types.is_floating(arr.type) and pc.any(pc.is_nan(arr)).as_py()):
            bad = arr.null_count + (
                pc.sum(pc.is_nan(arr)).as_py() if pa.types.is_floating(arr.type) else 0
            )
            raise DataError(
                f"{self.path}: column {column!r} has {bad} missing (null or NaN) predictions"
            )
        if self.task == "binary":
            allowed = pa.array([str(v) for v in self.labels] + [str(self.positive)])
            outside = pc.invert(pc.is_in(pc.cast(arr, pa.string()), value_set=allowed))
            if pc.any(outside).as_py():
                example = pc.filter(arr, outside)[0].as_py()
                raise DataError(
                    f"{self.path}: column {column!r} has predictions outside the target's labels "
                    f"{self.labels} (e.g. {example!r}); pass probabilities with --score"
                )
        return self._labels(arr, column)

    def _profile(
        self, y: np.ndarray, cols: dict[str, pa.Array], pred: str | None, score: str | None
    ) -> Any:
        # imported here: accuguard.profile.performance imports scipy.stats (slow), which
        # a validation without a target never needs
        from accuguard.profile.performance import (
            BinaryProfile,
            MulticlassProfile,
            RegressionProfile,
        )

        yhat = self._predictions(cols[pred], pred) if pred is not None else None
        if self.task == "binary":
            s = (
                _floats(cols[score], score, self.path, allow_nan=False)
                if score is not None
                else None
            )
            if yhat is None:
                if s is None:
                    raise DataError("binary performance needs --prediction or --score")
                yhat = (s >= self.threshold).astype(np.int64)
            return BinaryProfile.from_arrays(y, yhat, s)
        if yhat is None:
            raise DataError(f"{self.task} performance needs --prediction")
        if self.task == "multiclass":
            return MulticlassProfile.from_arrays(y, yhat)
        return RegressionProfile.from_arrays(y, yhat)

    def _paired(self, y: np.ndarray, cols: dict[str, pa.Array]) -> Any:
        from accuguard.profile.performance import PairedBinaryProfile  # see _profile

        r = self.roles
        champ = self._predictions(cols[r.prediction], r.prediction) if r.prediction else None
        chal = (
            self._predictions(cols[r.challenger_prediction], r.challenger_prediction)
            if r.challenger_prediction
            else None
        )
        if self.task == "binary":
            cs = _floats(cols[r.score], r.score, self.path) if r.score else None
            xs = (
                _floats(cols[r.challenger_score], r.challenger_score, self.path)
                if r.challenger_score
                else None
            )
            return PairedBinaryProfile.from_arrays(y, champ, chal, cs, xs, threshold=self.threshold)
        if chal is None:
            raise DataError(
                f"{self.task} champion/challenger comparison needs --challenger-prediction"
            )
        return _PairedErrors.from_arrays(self.task, y, champ, chal)

    def result(self) -> PerformanceResult:
        if self.candidate is None:
            raise DataError(f"{self.path}: no row has a label in column {self.roles.target!r}")
        return PerformanceResult(
            self.task,
            self.labels,
            self.positive,
            self.candidate,
            self.champion,
            self.segments,
            self.paired,
            self.without_label,
        )


@dataclass(frozen=True)
class _PairedErrors:
    """Per-row paired differences for multiclass (correctness) and regression (|error|)."""

    task: str
    n: int
    both_wrong_or_right: int
    champion_only: int  # b: champion right, challenger wrong (or champion's |e| smaller)
    challenger_only: int  # c
    diff_sum: float
    diff_sum_sq: float
    champion_correct: int
    challenger_correct: int

    @classmethod
    def from_arrays(cls, task: str, y: np.ndarray, champ: Any, chal: np.ndarray) -> _PairedErrors:
        if task == "multiclass":
            a, b = champ == y, chal == y
            d = b.astype(float) - a.astype(float)
        else:
            a = np.abs(champ - y)
            b = np.abs(chal - y)
            d = a - b  # positive: challenger has the smaller error
            a, b = a <= b, b <= a
        return cls(
            task,
            int(y.size),
            int(np.sum(a == b)),
            int(np.sum(a & ~b)),
            int(np.sum(b & ~a)),
            float(d.sum()),
            float((d * d).sum()),
            int(a.sum()),
            int(b.sum()),
        )

    def __add__(self, other: _PairedErrors) -> _PairedErrors:
        return _PairedErrors(
            self.task,
            *(
                getattr(self, f) + getattr(other, f)
                for f in (
                    "n",
                    "both_wrong_or_right",
                    "champion_only",
                    "challenger_only",
                    "diff_sum",
                    "diff_sum_sq",
                    "champion_correct",
                    "challenger_correct",
                )
            ),
        )


def _floats(arr: pa.Array, column: str | None, path: object, allow_nan: bool = False) -> np.ndarray:
    if not (
        pa.types.is_integer(arr.type)
        or pa.types.is_floating(arr.type)
        or pa.types.is_boolean(arr.type)
    ):
        raise DataError(f"{path}: column {column!r} must be numeric, found {arr.type}")
    values = pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
    if not allow_nan and (arr.null_count or np.isnan(values).any()):
        bad = int(np.isnan(values).sum())
        raise DataError(f"{path}: column {column!r} has {bad} missing (null or NaN) values")
    return np.asarray(values, dtype=np.float64)


def _is_positive(arr: pa.Array, positive: Any, column: str, path: object) -> np.ndarray:
    as_text = pc.cast(arr, pa.string())
    wanted = {str(positive), str(positive).lower()}
    if isinstance(positive, bool) or str(positive) in {"1", "True", "true"}:
        wanted |= {"1", "1.0", "true", "True"}
    return np.asarray(
        pc.is_in(as_text, value_set=pa.array(sorted(wanted))).to_numpy(zero_copy_only=False),
        dtype=np.int64,
    )
