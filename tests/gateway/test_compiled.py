"""Compiled gradient-boosted trees give scikit-learn's own output, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression

from accuguard.gateway.compiled import compile_trees, probe_rows, same_output


def data(seed: int = 0, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    x[rng.random(x.shape) < 0.08] = np.nan  # missing values take their learned side
    signal = np.nan_to_num(x[:, 0]) + 0.5 * np.nan_to_num(x[:, 1]) - np.isnan(x[:, 2])
    return x, signal


def expected(model, x):
    return model.predict_proba(x) if hasattr(model, "predict_proba") else model.predict(x)


@pytest.mark.parametrize(
    "kind", ["binary", "multiclass", "regressor", "nan-free training, nan at predict"]
)
def test_compiled_scores_equal_scikit_learn_bit_for_bit(kind):
    x, signal = data()
    if kind == "binary":
        model = HistGradientBoostingClassifier(max_iter=60, random_state=0).fit(x, signal > 0)
    elif kind == "multiclass":
        y = np.digitize(signal, [-0.5, 0.5])
        model = HistGradientBoostingClassifier(max_iter=25, random_state=0).fit(x, y)
    elif kind == "regressor":
        model = HistGradientBoostingRegressor(max_iter=40, random_state=0).fit(x, signal)
    else:
        clean = np.nan_to_num(x)
        model = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(clean, signal > 0)
    scorer = compile_trees(model)
    assert scorer is not None
    fresh, _ = data(seed=1, n=500)  # rows the model never saw, NaN included
    for rows in (
        fresh,
        *(fresh[i : i + 1] for i in range(40)),
        fresh[:7],
        probe_rows(model, fresh[:3]),
    ):
        got = scorer(rows)
        assert got.shape == expected(model, rows).shape
        assert np.array_equal(got, expected(model, rows))  # not approx: the same floats
    assert same_output(scorer, model, fresh)


def test_probe_rows_sit_on_the_thresholds_and_include_missing_values():
    x, signal = data()
    model = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(x, signal > 0)
    probe = probe_rows(model, x[:2], n=400)
    assert probe.shape == (402, 6)
    assert np.array_equal(probe[:2], x[:2], equal_nan=True)
    thresholds = {
        float(t) for it in model._predictors for tree in it for t in tree.nodes["num_threshold"]
    }
    on_threshold = np.isin(probe[2:], list(thresholds))
    assert on_threshold.any() and np.isnan(probe[2:]).any()


def test_unsupported_models_are_not_compiled():
    x, signal = data()
    clean = np.nan_to_num(x)
    categorical = HistGradientBoostingClassifier(
        max_iter=5, categorical_features=[5], random_state=0
    ).fit(np.column_stack([clean[:, :5], np.abs(clean[:, 5] * 3).astype(int)]), signal > 0)
    assert compile_trees(categorical) is None
    assert compile_trees(LogisticRegression().fit(clean, signal > 0)) is None


def test_a_scorer_that_differs_is_refused():
    x, signal = data()
    model = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(x, signal > 0)
    scorer = compile_trees(model)
    assert scorer is not None

    def off_by_one_ulp(rows):
        return np.nextafter(scorer(rows), 2.0)

    assert not same_output(off_by_one_ulp, model, x[:50])
