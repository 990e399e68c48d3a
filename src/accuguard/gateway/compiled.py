"""Gradient-boosted trees scored in a few numpy operations per batch.

scikit-learn's ``HistGradientBoosting*`` scores a batch tree by tree: one Python call
per tree (100 trees: 100 calls) after a round of input checks, about 1 ms for a
handful of rows, most of it holding the GIL the gateway's event loop needs. For
numeric features the walk down the trees is simple enough to do for all trees and
rows at once: the nodes of every tree go into flat arrays, and each step moves every
``(tree, row)`` pair one level down (``x <= threshold`` goes left, NaN follows
``missing_go_to_left``, a leaf stays where it is), exactly the rule of scikit-learn's
``_predict_from_raw_data``. The leaf values are then added in the same order as
scikit-learn does (baseline first, then tree by tree), so the raw scores, and the
probabilities from the estimator's own loss, are bit-for-bit the same.

:func:`compile_trees` returns None for anything else (categorical features, other
estimators, a scikit-learn whose internals differ), and the caller keeps the
estimator; :func:`same_output` checks the compiled scorer against the estimator
before it is used (``ModelHandle.warm_up``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

Scorer = Callable[[np.ndarray], np.ndarray]


class _Forest:
    """The trees of one output (one class of a multiclass model, or the only one)."""

    def __init__(self, trees: list[Any]) -> None:
        sizes = [len(t.nodes) for t in trees]
        offsets = np.cumsum([0, *sizes[:-1]]).astype(np.intp)
        nodes = np.concatenate([t.nodes for t in trees])
        leaf = nodes["is_leaf"].astype(bool)
        own = np.arange(len(nodes), dtype=np.intp)
        shift = np.repeat(offsets, sizes)
        self.feature = np.where(leaf, 0, nodes["feature_idx"]).astype(np.intp)
        # NaN goes left at these nodes: read the copy of x where NaN is -inf (always
        # <= threshold), else x itself (NaN <= threshold is false: right)
        self.nan_left = nodes["missing_go_to_left"].astype(bool) & ~leaf
        self.threshold = nodes["num_threshold"].astype(np.float64)
        # children[2 * node] = right, children[2 * node + 1] = left; a leaf points to
        # itself, so extra steps leave it where it is
        children = np.empty(2 * len(nodes), dtype=np.intp)
        children[0::2] = np.where(leaf, own, nodes["right"].astype(np.intp) + shift)
        children[1::2] = np.where(leaf, own, nodes["left"].astype(np.intp) + shift)
        self.children = children
        self.value = nodes["value"].astype(np.float64)
        self.roots = offsets
        self.depth = int(nodes["depth"].max()) if len(nodes) else 0

    def leaf_values(self, x: np.ndarray) -> np.ndarray:
        """``(trees, rows)`` leaf values of ``x`` (rows, features), float64."""
        n, width = x.shape
        both = np.empty((2, n, width), dtype=np.float64)
        both[0] = x
        both[1] = np.where(np.isnan(x), -np.inf, x)
        flat = both.reshape(-1)
        column = self.feature + self.nan_left * (n * width)  # per node: where to read
        base = np.tile(np.arange(n, dtype=np.intp) * width, len(self.roots))
        at = np.repeat(self.roots, n)  # (trees * rows) node ids, tree-major
        threshold, children = self.threshold, self.children
        for _ in range(self.depth):
            left = flat[base + column[at]] <= threshold[at]  # the rule of scikit-learn
            at = children[2 * at + left]
        return self.value[at].reshape(len(self.roots), n)


def compile_trees(estimator: Any) -> Scorer | None:
    """A scorer ``x -> predict_proba(x)`` (classifier) or ``predict(x)`` (regressor) for a
    fitted ``HistGradientBoosting*`` on numeric features, or None when not supported.

    ``x`` is a float64 array with the estimator's columns in their fitted order.
    """
    name = type(estimator).__name__
    if name not in ("HistGradientBoostingClassifier", "HistGradientBoostingRegressor"):
        return None
    try:
        categorical = getattr(estimator, "is_categorical_", None)
        if categorical is not None and bool(np.any(categorical)):
            return None
        per_iteration = int(estimator.n_trees_per_iteration_)
        predictors = estimator._predictors
        baseline = np.asarray(estimator._baseline_prediction, dtype=np.float64).reshape(-1)
        loss = estimator._loss
        forests = [_Forest([it[k] for it in predictors]) for k in range(per_iteration)]
    except Exception:  # another scikit-learn: keep the estimator
        return None
    if len(baseline) != per_iteration or not predictors:
        return None
    classifier = name == "HistGradientBoostingClassifier"

    def score(x: np.ndarray) -> np.ndarray:
        n = x.shape[0]
        raw = np.empty((n, per_iteration), dtype=np.float64, order="F")
        for k, forest in enumerate(forests):
            values = forest.leaf_values(x)
            stacked = np.empty((values.shape[0] + 1, n), dtype=np.float64)
            stacked[0] = baseline[k]
            stacked[1:] = values
            # a running sum (never pairwise, whatever the shape): baseline, then tree by
            # tree, the order scikit-learn adds them in
            raw[:, k] = np.add.accumulate(stacked, axis=0)[-1]
        if classifier:
            return np.asarray(loss.predict_proba(raw))
        return np.asarray(loss.link.inverse(raw.ravel()))

    return score


def probe_rows(estimator: Any, example: np.ndarray, n: int = 512, seed: int = 0) -> np.ndarray:
    """Rows to compare a compiled scorer with its estimator: the example rows, and rows
    whose values sit on, just below and just above the trees' thresholds, or are NaN."""
    rng = np.random.default_rng(seed)
    width = example.shape[1]
    thresholds: list[list[float]] = [[] for _ in range(width)]
    for iteration in estimator._predictors:
        for tree in iteration:
            for node in tree.nodes[tree.nodes["is_leaf"] == 0]:
                thresholds[int(node["feature_idx"])].append(float(node["num_threshold"]))
    x = np.empty((n, width), dtype=np.float64)
    for j in range(width):
        cuts = np.asarray(thresholds[j] or [0.0])
        picked = rng.choice(cuts, size=n)
        nudged = np.where(
            rng.random(n) < 0.5, np.nextafter(picked, -np.inf), np.nextafter(picked, np.inf)
        )
        x[:, j] = np.where(rng.random(n) < 0.5, picked, nudged)
        x[rng.random(n) < 0.05, j] = np.nan
    return np.vstack([example.astype(np.float64), x])


def same_output(scorer: Scorer, estimator: Any, x: np.ndarray, data: Any = None) -> bool:
    """True when ``scorer`` equals the estimator's output bit for bit on ``x``, as one
    batch and in small batches of 1 to 8 rows (numpy may sum differently by shape).

    The estimator gets ``data`` if given (``x`` as a DataFrame with its column names).
    """
    data = x if data is None else data
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if hasattr(estimator, "predict_proba"):
                expected = np.asarray(estimator.predict_proba(data))
            else:
                expected = np.asarray(estimator.predict(data))
        if not _equal(scorer(x), expected):
            return False
        start = 0
        for size in (1, 1, 2, 3, 5, 8):
            stop = min(start + size, len(x))
            if start < stop and not _equal(scorer(x[start:stop]), expected[start:stop]):
                return False
            start = stop
    except Exception:
        return False
    return True


def _equal(got: np.ndarray, expected: np.ndarray) -> bool:
    return bool(got.shape == expected.shape and np.array_equal(got, expected, equal_nan=True))
