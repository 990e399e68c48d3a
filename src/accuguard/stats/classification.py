"""Classification metrics from confusion counts, so they merge by adding counts.

Proportions (accuracy, precision, recall, ...) get Wilson intervals. F1 and the
multiclass averages are not proportions: they get a *parametric multinomial
bootstrap* — the observed cell shares are taken as the true cell probabilities,
``n_boot`` confusion matrices of the same total are drawn from that multinomial in one
vectorised call, the metric is computed on each, and the interval is the
``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` percentiles of the draws
(Efron & Tibshirani (1993), *An Introduction to the Bootstrap*, ch. 6 and 13). The
draws are seeded, so results are reproducible. Because it resamples cells, the
bootstrap collapses to a point when a cell that matters is 0 (e.g. F1 = 1 with no
errors gives ``[1, 1]``).

Undefined metrics are ``nan`` (value and interval), e.g. precision with no predicted
positive. scikit-learn returns 0 there by default (``zero_division="warn"``); with
``zero_division=np.nan`` it returns nan and drops such classes from macro averages,
which is what this module does.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from accuguard.stats.intervals import (
    Estimate,
    check_count,
    percentile_interval,
    wilson_interval,
    z_value,
)

_BOOT = "multinomial-bootstrap"
_MAX_CELLS_PER_BATCH = 2_000_000  # bounds the memory of one vectorised bootstrap batch


def binary_metrics(
    tp: int,
    fp: int,
    fn: int,
    tn: int,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict[str, Estimate]:
    """Binary metrics with intervals from the four confusion counts.

    With ``n = tp + fp + fn + tn``:

    - ``accuracy = (tp + tn) / n``; ``precision = tp / (tp + fp)``;
      ``recall = tp / (tp + fn)``; ``specificity = tn / (tn + fp)``;
      ``false_positive_rate = fp / (fp + tn)``; ``positive_rate = (tp + fp) / n``
      (share predicted positive); ``prevalence = (tp + fn) / n``. Wilson intervals.
    - ``f1 = 2 tp / (2 tp + fp + fn)``; percentile interval of a seeded parametric
      multinomial bootstrap of the four counts (see the module docstring).

    A metric whose denominator is 0 is ``nan`` with a ``nan`` interval (scikit-learn's
    default would give 0). Values equal ``sklearn.metrics`` ``accuracy_score``,
    ``precision_score``, ``recall_score`` and ``f1_score``.

    Reference: Wilson (1927); Efron & Tibshirani (1993).

    >>> m = binary_metrics(tp=40, fp=10, fn=20, tn=30)
    >>> round(m["precision"].value, 3), round(m["recall"].value, 3), round(m["f1"].value, 3)
    (0.8, 0.667, 0.727)
    >>> m["f1"].method
    'multinomial-bootstrap'
    """
    tp, fp, fn, tn = _check_counts(tp, fp, fn, tn)
    z_value(confidence)
    n_boot = check_count("n_boot", n_boot, minimum=1)
    out = {}
    for name, (num, den) in _binary_ratios(tp, fp, fn, tn).items():
        if name == "f1":
            out[name] = _binary_f1(tp, fp, fn, tn, confidence, n_boot, seed)
        elif den == 0:
            out[name] = Estimate.undefined("wilson")
        else:
            out[name] = Estimate(num / den, *wilson_interval(num, den, confidence), "wilson")
    return out


def binary_values(tp: int, fp: int, fn: int, tn: int) -> dict[str, float]:
    """Point values of :func:`binary_metrics` (same keys, no intervals, no bootstrap).

    ``nan`` where the denominator is 0.

    >>> binary_values(tp=40, fp=10, fn=20, tn=30)["precision"]
    0.8
    """
    ratios = _binary_ratios(*_check_counts(tp, fp, fn, tn))
    return {name: num / den if den else math.nan for name, (num, den) in ratios.items()}


def _check_counts(tp: int, fp: int, fn: int, tn: int) -> tuple[int, int, int, int]:
    return (
        check_count("tp", tp),
        check_count("fp", fp),
        check_count("fn", fn),
        check_count("tn", tn),
    )


def _binary_ratios(tp: int, fp: int, fn: int, tn: int) -> dict[str, tuple[int, int]]:
    """(numerator, denominator) of every binary metric, in report order."""
    n = tp + fp + fn + tn
    return {
        "accuracy": (tp + tn, n),
        "precision": (tp, tp + fp),
        "recall": (tp, tp + fn),
        "f1": (2 * tp, 2 * tp + fp + fn),
        "specificity": (tn, tn + fp),
        "false_positive_rate": (fp, fp + tn),
        "positive_rate": (tp + fp, n),
        "prevalence": (tp + fn, n),
    }


def _binary_f1(
    tp: int, fp: int, fn: int, tn: int, confidence: float, n_boot: int, seed: int
) -> Estimate:
    denom = 2 * tp + fp + fn
    if denom == 0:
        return Estimate.undefined(_BOOT)
    n = tp + fp + fn + tn
    counts = np.array([tp, fp, fn, tn], dtype=np.float64)
    draws = np.random.default_rng(seed).multinomial(n, counts / n, size=n_boot)
    d = 2 * draws[:, 0] + draws[:, 1] + draws[:, 2]
    f1 = np.divide(2.0 * draws[:, 0], d, out=np.full(n_boot, np.nan), where=d > 0)
    lo, hi = percentile_interval(f1, confidence)
    return Estimate(2 * tp / denom, lo, hi, _BOOT)


def multiclass_metrics(
    confusion: NDArray[np.integer] | NDArray[np.floating],
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict[str, Estimate]:
    """Multiclass metrics with intervals from a k x k confusion matrix.

    ``confusion[i, j]`` counts rows of true class ``i`` predicted as ``j``. With per-class
    ``tp_i = C[i, i]``, ``support_i = sum_j C[i, j]``, ``predicted_i = sum_j C[j, i]``:

    - ``accuracy = f1_micro = trace(C) / n`` (Wilson interval; for single-label data
      micro-F1 equals accuracy);
    - ``precision_i = tp_i / predicted_i``, ``recall_i = tp_i / support_i``,
      ``f1_i = 2 tp_i / (support_i + predicted_i)``;
    - ``*_macro`` = unweighted mean over the classes where the per-class value is
      defined; classes absent from both truth and predictions are ignored;
    - ``f1_weighted`` = mean of ``f1_i`` weighted by ``support_i``.

    Intervals of the averages: percentile interval of a seeded parametric multinomial
    bootstrap of the k^2 cells (module docstring), vectorised in batches. Values equal
    scikit-learn's with ``zero_division=np.nan``; everything is ``nan`` when ``n == 0``.

    Reference: Sokolova & Lapalme (2009), "A systematic analysis of performance
    measures for classification tasks", IPM 45(4); Efron & Tibshirani (1993).

    >>> m = multiclass_metrics(np.array([[5, 1, 0], [2, 6, 2], [0, 1, 3]]))
    >>> round(m["accuracy"].value, 3), round(m["f1_macro"].value, 3)
    (0.7, 0.701)
    """
    c = _check_confusion(confusion)
    z_value(confidence)
    n_boot = check_count("n_boot", n_boot, minimum=1)
    n = int(c.sum())
    keys = ("f1_macro", "f1_weighted", "precision_macro", "recall_macro")
    if n == 0:
        out = {k: Estimate.undefined(_BOOT) for k in keys}
        return {
            "accuracy": Estimate.undefined("wilson"),
            "f1_micro": Estimate.undefined("wilson"),
            **out,
        }
    correct = int(np.trace(c))
    lo, hi = wilson_interval(correct, n, confidence)
    acc = Estimate(correct / n, lo, hi, "wilson")
    point = _class_averages(c[np.newaxis].astype(np.float64))
    boot = _bootstrap_averages(c, n_boot, seed)
    result = {"accuracy": acc, "f1_micro": acc}
    for i, key in enumerate(keys):
        value = float(point[i, 0])
        if math.isnan(value):
            result[key] = Estimate.undefined(_BOOT)
        else:
            b_lo, b_hi = percentile_interval(boot[i], confidence)
            result[key] = Estimate(value, b_lo, b_hi, _BOOT)
    return result


def _check_confusion(confusion: object) -> NDArray[np.int64]:
    c = np.asarray(confusion)
    if c.ndim != 2 or c.shape[0] != c.shape[1] or c.shape[0] == 0:
        raise ValueError(f"confusion must be a non-empty square 2-D matrix, got shape {c.shape}")
    if not (np.issubdtype(c.dtype, np.integer) or np.issubdtype(c.dtype, np.floating)):
        raise ValueError(f"confusion must hold counts, got dtype {c.dtype}")
    if not np.all(np.isfinite(c)) or np.any(c < 0) or np.any(c != np.round(c)):
        raise ValueError("confusion must hold non-negative integer counts")
    return c.astype(np.int64)


def _class_averages(c: NDArray[np.float64]) -> NDArray[np.float64]:
    """Rows f1_macro, f1_weighted, precision_macro, recall_macro for a batch (b, k, k)."""
    tp = np.diagonal(c, axis1=1, axis2=2)
    support = c.sum(axis=2)
    predicted = c.sum(axis=1)
    present = (support + predicted) > 0
    f1 = _safe_div(2.0 * tp, support + predicted)
    precision = _safe_div(tp, predicted)
    recall = _safe_div(tp, support)
    weighted = _safe_div(np.sum(np.where(present, f1, 0.0) * support, axis=1), support.sum(axis=1))
    return np.stack([_nanmean(f1), weighted, _nanmean(precision), _nanmean(recall)])


def _bootstrap_averages(c: NDArray[np.int64], n_boot: int, seed: int) -> NDArray[np.float64]:
    k = c.shape[0]
    n = int(c.sum())
    pvals = c.ravel() / n
    rng = np.random.default_rng(seed)
    batch = max(1, _MAX_CELLS_PER_BATCH // (k * k))
    parts = []
    for start in range(0, n_boot, batch):
        size = min(batch, n_boot - start)
        draws = rng.multinomial(n, pvals, size=size).reshape(size, k, k)
        parts.append(_class_averages(draws.astype(np.float64)))
    return np.concatenate(parts, axis=1)


def _safe_div(num: NDArray[np.float64], den: NDArray[np.float64]) -> NDArray[np.float64]:
    num, den = np.broadcast_arrays(np.asarray(num, np.float64), np.asarray(den, np.float64))
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _nanmean(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Mean over the last axis ignoring nan; nan (without a warning) when all are nan."""
    ok = ~np.isnan(x)
    return _safe_div(np.where(ok, x, 0.0).sum(axis=-1), ok.sum(axis=-1).astype(np.float64))
