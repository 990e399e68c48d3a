"""Mergeable performance profiles, built per chunk and merged with ``+``.

- :class:`BinaryProfile`: confusion counts, log-loss and Brier sums, and the exact
  (label, score) arrays that ROC AUC and average precision need;
- :class:`MulticlassProfile`: a confusion matrix over the labels seen so far;
- :class:`RegressionProfile`: :class:`~accuguard.stats.regression.RegressionMoments`;
- :class:`PairedBinaryProfile`: champion and challenger on the same rows;
- :func:`segment_table` and :func:`fairness_gaps` over per-segment binary profiles.

Counts and sums merge by addition. Score arrays are kept as a tuple of the chunks'
arrays and concatenated only when a metric needs them, so merging ``k`` chunks costs
``O(k)``, not ``O(k n)``. The zero-row profile (``BinaryProfile()`` ...) is the
identity of ``+``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import ArrayLike, NDArray

from accuguard.stats.classification import binary_metrics, binary_values, multiclass_metrics
from accuguard.stats.fairness import (
    SegmentGap,
    demographic_parity_difference,
    equal_opportunity_difference,
    largest_gap,
)
from accuguard.stats.intervals import Estimate, mean_interval
from accuguard.stats.paired import PairedResult, delong_paired_auc, mcnemar_accuracy, paired_f1
from accuguard.stats.ranking import average_precision, binary_labels, finite_scores, roc_auc
from accuguard.stats.regression import RegressionMoments, regression_metrics

_F64 = NDArray[np.float64]
_BOOL = NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class BinaryProfile:
    """Binary classification at a decision, plus score statistics when a score is given.

    ``tp``, ``fp``, ``fn``, ``tn``: confusion counts of ``y_pred`` against ``y_true``.
    With a score (``scored``): ``log_loss_sum``/``log_loss_sum_sq`` and
    ``brier_sum``/``brier_sum_sq`` over the rows, ``not_probability`` (rows whose score
    is outside [0, 1]: log loss and Brier are then ``nan``), and the label and score
    chunks for ROC AUC and average precision.

    >>> p = BinaryProfile.from_arrays([0, 1, 1, 0], [0, 1, 0, 0], [0.2, 0.9, 0.4, 0.1])
    >>> q = BinaryProfile.from_arrays([1, 0], [1, 1], [0.7, 0.6])
    >>> merged = p + q
    >>> merged.n, merged.confusion_matrix.tolist()
    (6, [[2, 1], [1, 2]])
    >>> round(merged.metrics()["roc_auc"].value, 4)
    0.8889
    """

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    scored: bool = False
    log_loss_sum: float = 0.0
    log_loss_sum_sq: float = 0.0
    brier_sum: float = 0.0
    brier_sum_sq: float = 0.0
    not_probability: int = 0
    label_chunks: tuple[_BOOL, ...] = field(default=(), repr=False)
    score_chunks: tuple[_F64, ...] = field(default=(), repr=False)

    @classmethod
    def from_arrays(
        cls,
        y_true: ArrayLike,
        y_pred: ArrayLike,
        y_score: ArrayLike | None = None,
        positive_label: Any = 1,
    ) -> BinaryProfile:
        """Profile of one chunk.

        Rows equal to ``positive_label`` are positive, the others negative. With the
        default ``positive_label=1`` the labels must be 0/1 (or booleans); otherwise at
        most one other label may occur in ``y_true`` and ``y_pred`` together (checked
        per chunk). Raises ``ValueError`` naming the argument for NaN/missing values
        (``"y_pred contains 3 NaN values"``), a third label, a length mismatch or NaN
        scores. Per-row log loss clips the probability of the true class to
        ``[eps, 1 - eps]`` with ``eps`` of float64, as ``sklearn.metrics.log_loss``.

        >>> BinaryProfile.from_arrays(["no", "yes"], ["yes", "yes"], positive_label="yes").fp
        1
        """
        y = _indicator(y_true, "y_true", positive_label)
        p = _indicator(y_pred, "y_pred", positive_label, size=y.size)
        _check_two_labels(y_true, y_pred, positive_label)
        tp = int(np.count_nonzero(y & p))
        fp = int(np.count_nonzero(p)) - tp
        fn = int(np.count_nonzero(y)) - tp
        tn = int(y.size) - tp - fp - fn
        if y_score is None:
            return cls(tp, fp, fn, tn)
        s = finite_scores(y_score, y.size, "y_score")
        eps = float(np.finfo(np.float64).eps)
        p_true = np.clip(np.where(y, s, 1.0 - s), eps, 1.0 - eps)
        loss = -np.log(p_true)
        sq = (s - y) ** 2
        return cls(
            tp,
            fp,
            fn,
            tn,
            scored=True,
            log_loss_sum=float(loss.sum()),
            log_loss_sum_sq=float(np.dot(loss, loss)),
            brier_sum=float(sq.sum()),
            brier_sum_sq=float(np.dot(sq, sq)),
            not_probability=int(np.count_nonzero((s < 0) | (s > 1))),
            label_chunks=(y.copy(),),
            score_chunks=(s.copy(),),
        )  # own the data

    def __add__(self, other: BinaryProfile) -> BinaryProfile:
        if not isinstance(other, BinaryProfile):
            return NotImplemented
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        if self.scored != other.scored:
            raise ValueError("cannot merge a BinaryProfile with scores and one without")
        return BinaryProfile(
            self.tp + other.tp,
            self.fp + other.fp,
            self.fn + other.fn,
            self.tn + other.tn,
            self.scored,
            self.log_loss_sum + other.log_loss_sum,
            self.log_loss_sum_sq + other.log_loss_sum_sq,
            self.brier_sum + other.brier_sum,
            self.brier_sum_sq + other.brier_sum_sq,
            self.not_probability + other.not_probability,
            self.label_chunks + other.label_chunks,
            self.score_chunks + other.score_chunks,
        )

    @property
    def n(self) -> int:
        """Number of rows."""
        return self.tp + self.fp + self.fn + self.tn

    @property
    def confusion_matrix(self) -> NDArray[np.int64]:
        """``[[tn, fp], [fn, tp]]``: rows true 0/1, columns predicted 0/1 (scikit-learn)."""
        return np.array([[self.tn, self.fp], [self.fn, self.tp]], dtype=np.int64)

    @property
    def y_true(self) -> _BOOL:
        """All labels with a score, in row order (empty without a score)."""
        return np.concatenate(self.label_chunks) if self.label_chunks else np.zeros(0, bool)

    @property
    def y_score(self) -> _F64:
        """All scores, in row order (empty without a score)."""
        return np.concatenate(self.score_chunks) if self.score_chunks else np.zeros(0)

    def values(self) -> dict[str, float]:
        """Point values of the decision metrics (no intervals); see :func:`binary_values`."""
        return binary_values(self.tp, self.fp, self.fn, self.tn)

    def metrics(
        self, confidence: float = 0.95, n_boot: int = 2000, seed: int = 0
    ) -> dict[str, Estimate]:
        """Every metric with its interval.

        Keys of :func:`~accuguard.stats.classification.binary_metrics` (accuracy,
        precision, recall, f1, specificity, false_positive_rate, positive_rate,
        prevalence), and with a score: ``roc_auc`` (DeLong), ``average_precision``
        (logit), ``log_loss`` and ``brier`` (mean per-row loss, normal interval; ``nan``
        when a score is outside [0, 1]). Equal to scikit-learn's ``log_loss`` and
        ``brier_score_loss``. A profile without rows gives ``nan`` everywhere.
        """
        out = binary_metrics(self.tp, self.fp, self.fn, self.tn, confidence, n_boot, seed)
        if not self.scored:
            return out
        if self.n == 0:
            out["roc_auc"] = Estimate.undefined("delong")
            out["average_precision"] = Estimate.undefined("logit")
        else:
            y, s = self.y_true, self.y_score
            out["roc_auc"] = roc_auc(y, s, confidence)
            out["average_precision"] = average_precision(y, s, confidence)
        for key, total, total_sq in (
            ("log_loss", self.log_loss_sum, self.log_loss_sum_sq),
            ("brier", self.brier_sum, self.brier_sum_sq),
        ):
            if self.not_probability:
                out[key] = Estimate.undefined("normal")
            else:
                out[key] = mean_interval(self.n, total, total_sq, confidence)
        return out


@dataclass(frozen=True, eq=False)
class MulticlassProfile:
    """Confusion matrix over the sorted labels seen so far.

    ``confusion[i, j]`` counts rows with true label ``labels[i]`` predicted
    ``labels[j]``. Merging profiles with different label sets re-indexes both onto the
    sorted union.

    >>> a = MulticlassProfile.from_arrays(["cat", "dog"], ["cat", "cat"])
    >>> b = MulticlassProfile.from_arrays(["eel"], ["dog"])
    >>> m = a + b
    >>> m.labels, m.confusion.tolist()
    (('cat', 'dog', 'eel'), [[1, 0, 0], [1, 0, 0], [0, 1, 0]])
    """

    labels: tuple[Any, ...] = ()
    confusion: NDArray[np.int64] = field(default_factory=lambda: np.zeros((0, 0), np.int64))

    @classmethod
    def from_arrays(cls, y_true: ArrayLike, y_pred: ArrayLike) -> MulticlassProfile:
        """Profile of one chunk; labels are strings or numbers, one type for both arrays.

        Labels are hashed (Arrow ``dictionary_encode``) rather than sorted row by row,
        so millions of string labels take seconds. Raises ``ValueError`` naming the
        argument for missing values (None or NaN), mixed label types or a length
        mismatch.
        """
        y = _arrow_labels(y_true, "y_true", None)
        p = _arrow_labels(y_pred, "y_pred", len(y))
        if len(y) == 0:
            return cls()
        if y.type != p.type:
            raise ValueError(
                f"y_true and y_pred must hold labels of the same type, got {y.type} and {p.type}"
            )
        # a chunked encode shares one dictionary across chunks (Arrow's hash kernel)
        encoded = pc.dictionary_encode(pa.chunked_array(y.chunks + p.chunks, type=y.type))
        found = encoded.chunk(0).dictionary.to_numpy(zero_copy_only=False)
        order = np.argsort(found, kind="stable")
        rank = np.empty(order.size, dtype=np.int64)
        rank[order] = np.arange(order.size)
        codes = rank[np.concatenate([c.indices.to_numpy() for c in encoded.chunks])]
        k = order.size
        flat = codes[: len(y)] * k + codes[len(y) :]
        confusion = np.bincount(flat, minlength=k * k).reshape(k, k).astype(np.int64)
        return cls(tuple(found[order].tolist()), confusion)

    def __add__(self, other: MulticlassProfile) -> MulticlassProfile:
        if not isinstance(other, MulticlassProfile):
            return NotImplemented
        if not other.labels:
            return self
        if not self.labels:
            return other
        try:
            labels = tuple(sorted(set(self.labels) | set(other.labels)))
        except TypeError as exc:
            raise ValueError(f"labels cannot be sorted together: {exc}") from exc
        out = np.zeros((len(labels), len(labels)), dtype=np.int64)
        for part in (self, other):
            idx = np.array([labels.index(v) for v in part.labels])
            out[np.ix_(idx, idx)] += part.confusion
        return MulticlassProfile(labels, out)

    @property
    def n(self) -> int:
        """Number of rows."""
        return int(self.confusion.sum())

    def metrics(
        self, confidence: float = 0.95, n_boot: int = 2000, seed: int = 0
    ) -> dict[str, Estimate]:
        """:func:`~accuguard.stats.classification.multiclass_metrics` of the matrix."""
        if not self.labels:
            return multiclass_metrics(np.zeros((1, 1), np.int64), confidence, n_boot, seed)
        return multiclass_metrics(self.confusion, confidence, n_boot, seed)


@dataclass(frozen=True)
class RegressionProfile:
    """Mergeable regression moments (:class:`~accuguard.stats.regression.RegressionMoments`).

    >>> p = RegressionProfile.from_arrays([3.0, -0.5], [2.5, 0.0])
    >>> q = RegressionProfile.from_arrays([2.0, 7.0], [2.0, 8.0])
    >>> round((p + q).metrics()["r2"].value, 4)
    0.9486
    """

    moments: RegressionMoments = field(default_factory=RegressionMoments)

    @classmethod
    def from_arrays(cls, y_true: ArrayLike, y_pred: ArrayLike) -> RegressionProfile:
        """Profile of one chunk; see :meth:`RegressionMoments.from_arrays`."""
        return cls(RegressionMoments.from_arrays(y_true, y_pred))

    def __add__(self, other: RegressionProfile) -> RegressionProfile:
        if not isinstance(other, RegressionProfile):
            return NotImplemented
        return RegressionProfile(self.moments + other.moments)

    @property
    def n(self) -> int:
        """Number of rows."""
        return self.moments.n

    def metrics(self, confidence: float = 0.95) -> dict[str, Estimate]:
        """:func:`~accuguard.stats.regression.regression_metrics` of the moments."""
        return regression_metrics(self.moments, confidence)


@dataclass(frozen=True, eq=False)
class PairedBinaryProfile:
    """Champion and challenger decisions (and scores) on the same rows.

    ``cells[y, a, b]`` counts rows with true label ``y``, champion prediction ``a`` and
    challenger prediction ``b``; from it come McNemar's ``b`` and ``c`` and both F1s.
    With both scores, the label and score chunks feed the paired DeLong test.

    >>> p = PairedBinaryProfile.from_arrays([1, 0, 1, 1], [1, 1, 0, 1], [1, 0, 1, 1])
    >>> p.b, p.c, p.champion_correct, p.challenger_correct
    (0, 2, 2, 4)
    """

    cells: NDArray[np.int64] = field(default_factory=lambda: np.zeros((2, 2, 2), np.int64))
    scored: bool = False
    label_chunks: tuple[_BOOL, ...] = field(default=(), repr=False)
    champion_score_chunks: tuple[_F64, ...] = field(default=(), repr=False)
    challenger_score_chunks: tuple[_F64, ...] = field(default=(), repr=False)

    @classmethod
    def from_arrays(
        cls,
        y_true: ArrayLike,
        champion_pred: ArrayLike | None,
        challenger_pred: ArrayLike | None,
        champion_score: ArrayLike | None = None,
        challenger_score: ArrayLike | None = None,
        positive_label: Any = 1,
        threshold: float = 0.5,
    ) -> PairedBinaryProfile:
        """Paired profile of one chunk.

        A missing prediction is derived from its score as ``score >= threshold``
        (default 0.5). The DeLong arrays are kept only when both scores are given.
        Label checks as :meth:`BinaryProfile.from_arrays`; errors name the argument.
        """
        y = _indicator(y_true, "y_true", positive_label)
        preds = []
        for name, pred, score in (
            ("champion", champion_pred, champion_score),
            ("challenger", challenger_pred, challenger_score),
        ):
            if pred is not None:
                preds.append(_indicator(pred, f"{name}_pred", positive_label, size=y.size))
                _check_two_labels(y_true, pred, positive_label)
            elif score is not None:
                preds.append(finite_scores(score, y.size, f"{name}_score") >= threshold)
            else:
                raise ValueError(f"{name}_pred or {name}_score is needed")
        codes = y.astype(np.int64) * 4 + preds[0] * 2 + preds[1]
        cells = np.bincount(codes, minlength=8).reshape(2, 2, 2).astype(np.int64)
        if champion_score is None or challenger_score is None:
            return cls(cells)
        s1 = finite_scores(champion_score, y.size, "champion_score")
        s2 = finite_scores(challenger_score, y.size, "challenger_score")
        return cls(cells, True, (y.copy(),), (s1.copy(),), (s2.copy(),))  # own the data

    def __add__(self, other: PairedBinaryProfile) -> PairedBinaryProfile:
        if not isinstance(other, PairedBinaryProfile):
            return NotImplemented
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        if self.scored != other.scored:
            raise ValueError("cannot merge a PairedBinaryProfile with scores and one without")
        return PairedBinaryProfile(
            self.cells + other.cells,
            self.scored,
            self.label_chunks + other.label_chunks,
            self.champion_score_chunks + other.champion_score_chunks,
            self.challenger_score_chunks + other.challenger_score_chunks,
        )

    @property
    def n(self) -> int:
        """Number of rows."""
        return int(self.cells.sum())

    @property
    def b(self) -> int:
        """Rows the champion gets right and the challenger wrong."""
        return int(self.cells[1, 1, 0] + self.cells[0, 0, 1])

    @property
    def c(self) -> int:
        """Rows the champion gets wrong and the challenger right."""
        return int(self.cells[1, 0, 1] + self.cells[0, 1, 0])

    @property
    def champion_correct(self) -> int:
        """Rows the champion gets right."""
        return int(self.cells[1, 1, :].sum() + self.cells[0, 0, :].sum())

    @property
    def challenger_correct(self) -> int:
        """Rows the challenger gets right."""
        return int(self.cells[1, :, 1].sum() + self.cells[0, :, 0].sum())

    def compare(
        self, margin: float = 0.0, confidence: float = 0.95, n_boot: int = 2000, seed: int = 0
    ) -> list[PairedResult]:
        """Paired tests, accuracy first: accuracy (McNemar, Agresti-Min interval), f1
        (exact paired multinomial bootstrap of the 8 joint cells, :func:`paired_f1`, so
        no row sample is needed at any size) and, with both scores, roc_auc (DeLong).
        """
        results = [
            mcnemar_accuracy(
                self.b,
                self.c,
                self.n,
                self.champion_correct,
                self.challenger_correct,
                margin,
                confidence,
            ),
            paired_f1(self.cells, n_boot, seed, margin, confidence),
        ]
        if self.scored:
            results.append(
                delong_paired_auc(
                    np.concatenate(self.label_chunks),
                    np.concatenate(self.champion_score_chunks),
                    np.concatenate(self.challenger_score_chunks),
                    margin,
                    confidence,
                )
            )
        return results


def segment_table(profiles: Mapping[str, BinaryProfile]) -> dict[str, dict[str, float]]:
    """Per segment: ``n``, accuracy, precision, recall, f1, positive_rate (point values).

    Undefined values are ``nan`` (e.g. recall in a segment without positives).

    >>> t = segment_table({"a": BinaryProfile.from_arrays([1, 0], [1, 1])})
    >>> t["a"]["n"], t["a"]["precision"]
    (2.0, 0.5)
    """
    keys = ("accuracy", "precision", "recall", "f1", "positive_rate")
    table = {}
    for segment, profile in profiles.items():
        values = profile.values()
        table[segment] = {"n": float(profile.n), **{k: values[k] for k in keys}}
    return table


def fairness_gaps(profiles: Mapping[str, BinaryProfile]) -> dict[str, SegmentGap]:
    """Largest between-segment gaps: ``recall_gap``, ``demographic_parity_difference``
    (positive rate), ``equal_opportunity_difference`` (recall, so equal to
    ``recall_gap`` under its fairness name) and ``accuracy_gap``. Segments where a
    value is undefined are ignored (:func:`~accuguard.stats.fairness.largest_gap`).

    >>> g = fairness_gaps({"a": BinaryProfile.from_arrays([1, 1, 0], [1, 1, 0]),
    ...                    "b": BinaryProfile.from_arrays([1, 1, 0], [1, 0, 0])})
    >>> g["recall_gap"].gap, g["recall_gap"].min_segment
    (0.5, 'b')
    """
    table = segment_table(profiles)

    def column(key: str) -> dict[str, float]:
        return {segment: row[key] for segment, row in table.items()}

    return {
        "recall_gap": largest_gap(column("recall"), "recall"),
        "demographic_parity_difference": demographic_parity_difference(column("positive_rate")),
        "equal_opportunity_difference": equal_opportunity_difference(column("recall")),
        "accuracy_gap": largest_gap(column("accuracy"), "accuracy"),
    }


def _is_numeric(values: ArrayLike) -> bool:
    dtype = np.asarray(values).dtype
    return bool(np.issubdtype(dtype, np.number) or dtype == np.bool_)


def _indicator(values: ArrayLike, name: str, positive: Any, size: int | None = None) -> _BOOL:
    """Boolean "is positive" of a label array; 0/1 checked when ``positive == 1``."""
    arr = _labels(values, name, size)
    if positive == 1 and _is_numeric(arr):
        if arr.size == 0:
            return np.zeros(0, dtype=bool)
        return binary_labels(arr, name)
    return np.asarray(arr == positive, dtype=bool)


def _labels(values: ArrayLike, name: str, size: int | None) -> NDArray[Any]:
    """1-D label array without NaN/None, of length ``size`` when given."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if size is not None and arr.size != size:
        raise ValueError(f"{name} has {arr.size} values but y_true has {size}")
    if np.issubdtype(arr.dtype, np.floating):
        nans = int(np.isnan(arr).sum())
        if nans:
            raise ValueError(f"{name} contains {nans} NaN values")
    elif arr.dtype == object:
        none = np.array(None, dtype=object)
        missing = int(np.count_nonzero(np.equal(arr, none) | np.not_equal(arr, arr)))
        if missing:
            raise ValueError(f"{name} contains {missing} missing (None or NaN) values")
    return arr


def _arrow_labels(values: ArrayLike, name: str, size: int | None) -> Any:
    """Checked labels (:func:`_labels`) as a chunked Arrow array, for hashing."""
    arr = _labels(values, name, size)
    try:
        out = pa.array(arr)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ValueError(
            f"{name} must hold labels of one type (strings or numbers): {exc}"
        ) from exc
    return out if isinstance(out, pa.ChunkedArray) else pa.chunked_array([out], type=out.type)


def _check_two_labels(y_true: ArrayLike, y_pred: ArrayLike, positive: Any) -> None:
    """At most one label other than ``positive`` across ``y_true`` and ``y_pred``.

    Numeric 0/1 labels with ``positive == 1`` were already checked by :func:`_indicator`.
    """
    if positive == 1 and _is_numeric(y_true) and _is_numeric(y_pred):
        return
    others: set[Any] = set()
    for arr in (np.asarray(y_true), np.asarray(y_pred)):
        rest = arr[arr != positive]
        others.update(np.unique(rest).tolist() if rest.dtype != object else set(rest.tolist()))
    if len(others) > 1:
        shown = sorted(map(repr, others))[:5]
        raise ValueError(
            f"binary labels: besides the positive label {positive!r} only one other label is "
            f"allowed in y_true and y_pred, found {len(others)}: {', '.join(shown)} "
            f"(is positive_label right?)"
        )
