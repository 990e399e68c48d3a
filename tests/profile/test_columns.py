"""Column profiles: chunked merge equals one pass; drift and quality against scipy and numpy."""

import importlib.util
import math

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from accuguard.profile.columns import (
    CategoricalColumnProfile,
    NumericColumnProfile,
    drift_between,
    profile_column,
    quality_between,
)
from accuguard.stats.distances import jensen_shannon_numeric, psi_categorical, psi_numeric

needs_sketch = pytest.mark.skipif(
    importlib.util.find_spec("datasketches") is None,
    reason="the KLL sketch needs the datasketches package",
)


def _chunks(array: pa.Array, size: int):
    return [array.slice(i, size) for i in range(0, len(array), size)]


def _profile_streamed(array: pa.Array, kind: str, size: int = 997, exact_limit: int = 10**7):
    parts = [profile_column(chunk, kind, exact_limit) for chunk in _chunks(array, size)]
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def test_profile_column_rejects_an_unknown_kind():
    with pytest.raises(ValueError, match="kind must be 'numeric' or 'categorical'; got 'text'"):
        profile_column(pa.array([1.0]), "text")


def test_categorical_profile_counts_strings_dictionaries_and_booleans():
    chunked = pa.chunked_array(
        [pa.array(["a", "b", None]).dictionary_encode(), pa.array(["b", "c"]).dictionary_encode()]
    )
    p = CategoricalColumnProfile.from_arrow(chunked)
    assert (p.counts, p.nulls, p.rows, p.distinct) == ({"a": 1, "b": 2, "c": 1}, 1, 5, 3)
    merged = _profile_streamed(
        pa.array(["x", None, "y", "x"] * 50, pa.large_string()), "categorical", 7
    )
    assert (merged.counts, merged.nulls) == ({"x": 100, "y": 50}, 50)
    assert CategoricalColumnProfile.from_arrow(pa.array([1, 2, 2])).counts == {"1": 1, "2": 2}
    assert CategoricalColumnProfile.from_arrow(pa.array([b"\xff"])).counts == {"\\xff": 1}


def test_numeric_drift_equals_scipy_and_the_distance_functions():
    rng = np.random.default_rng(4)
    ref_x, cur_x = rng.normal(size=30_000), rng.normal(0.1, 1.2, size=20_000)
    ref = _profile_streamed(pa.array(ref_x), "numeric", 4096)
    cur = _profile_streamed(pa.array(cur_x), "numeric", 4096)
    result = drift_between(ref, cur)
    expected = stats.ks_2samp(ref_x, cur_x)
    assert (result.method, result.statistic, result.effect) == (
        "ks",
        expected.statistic,
        expected.statistic,
    )
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-12, abs=1e-300)
    r, c = np.sort(ref_x), np.sort(cur_x)
    detail = result.detail
    assert detail["approximate"] == 0.0
    assert detail["wasserstein_normed"] == pytest.approx(
        stats.wasserstein_distance(ref_x, cur_x) / np.std(ref_x), rel=1e-9
    )
    assert detail["psi"] == pytest.approx(psi_numeric(r, c), rel=1e-12)
    assert detail["jensenshannon"] == pytest.approx(jensen_shannon_numeric(r, c), rel=1e-12)
    w = drift_between(ref, cur, "wasserstein", threshold=0.5)
    assert (w.statistic, w.p_value, w.threshold) == (detail["wasserstein_normed"], None, 0.5)


def test_categorical_drift_equals_scipy_chi2_contingency():
    ref = CategoricalColumnProfile({"a": 500, "b": 300, "c": 200})
    cur = CategoricalColumnProfile({"a": 350, "b": 350, "c": 250, "d": 50})
    result = drift_between(ref, cur)
    table = np.array([[500, 300, 200, 0], [350, 350, 250, 50]])
    expected = stats.chi2_contingency(table, correction=False)
    assert result.method == "chi_square" and result.drifted
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    assert result.effect == pytest.approx(stats.contingency.association(table), rel=1e-12)
    assert result.detail["jensenshannon"] == pytest.approx(jensenshannon(*table), rel=1e-12)
    assert result.detail["psi"] == pytest.approx(psi_categorical(ref.counts, cur.counts))
    js = drift_between(ref, cur, "jensenshannon")
    assert js.statistic == result.detail["jensenshannon"] and js.p_value is None


@pytest.mark.parametrize(
    ("ref", "cur", "method", "message"),
    [
        (
            NumericColumnProfile(),
            NumericColumnProfile(),
            "chi_square",
            "method for a numeric column must be one of .*got 'chi_square'",
        ),
        (
            CategoricalColumnProfile(),
            CategoricalColumnProfile(),
            "ks",
            "method for a categorical column must be one of .*got 'ks'",
        ),
        (
            NumericColumnProfile(),
            CategoricalColumnProfile(),
            None,
            "same kind; got NumericColumnProfile and CategoricalColumnProfile",
        ),
    ],
)
def test_drift_between_rejects_unsuitable_methods(ref, cur, method, message):
    with pytest.raises(ValueError, match=message):
        drift_between(ref, cur, method)


def test_drift_with_an_empty_side_is_nan_and_not_drifted():
    ref = profile_column(pa.array([None, None], pa.float64()), "numeric")
    cur = profile_column(pa.array([1.0, 2.0]), "numeric")
    result = drift_between(ref, cur)
    assert math.isnan(result.statistic) and not result.drifted
    assert all(math.isnan(v) for v in result.detail.values())


@needs_sketch
def test_sketched_drift_is_close_to_exact_drift():
    rng = np.random.default_rng(6)
    ref_x, cur_x = rng.lognormal(size=400_000), rng.lognormal(0.05, 1.0, size=300_000)
    exact = drift_between(*(NumericColumnProfile.from_array(x) for x in (ref_x, cur_x)))
    ref_s = NumericColumnProfile.from_array(ref_x, exact_limit=50_000)
    cur_s = NumericColumnProfile.from_array(cur_x, exact_limit=50_000)
    for cur in (cur_s, NumericColumnProfile.from_array(cur_x)):  # both sketched, and mixed
        approx = drift_between(ref_s, cur)
        assert approx.detail["approximate"] == 1.0
        bound = approx.detail["ks_error_bound"]
        assert abs(approx.statistic - exact.statistic) <= bound
        for key in ("psi", "wasserstein_normed", "jensenshannon"):
            assert approx.detail[key] == pytest.approx(exact.detail[key], abs=0.01)


def _generated(n: int, seed: int, drifted: bool) -> dict[str, pa.Array]:
    rng = np.random.default_rng(seed)
    shift = 0.3 if drifted else 0.0
    scale = 1.3 if drifted else 1.0
    levels = [f"level_{i}" for i in range(40)]
    mix = [0.35, 0.35, 0.3] if drifted else [0.5, 0.3, 0.2]
    return {
        "n_normal_drift": pa.array(rng.normal(shift, 1.0, n)),
        "n_lognormal": pa.array(rng.lognormal(0.0, 0.5, n)),
        "n_exponential_drift": pa.array(rng.exponential(scale, n)),
        "n_uniform": pa.array(rng.uniform(-3, 5, n)),
        "n_poisson": pa.array(rng.poisson(20, n).astype(np.int64)),
        "n_normal": pa.array(rng.normal(10, 3, n)),
        "c_mix_drift": pa.array(rng.choice(["a", "b", "c"], n, p=mix)),
        "c_levels": pa.array(rng.choice(levels, n)),
        "c_binary": pa.array(rng.random(n) < 0.3),
        "c_dictionary": pa.array(rng.choice(["x", "y", "z", "w"], n)).dictionary_encode(),
    }


def test_drift_injected_into_three_of_ten_columns_flags_exactly_those_three():
    n = 100_000
    ref, cur = _generated(n, 1, drifted=False), _generated(n, 2, drifted=True)
    flagged = []
    for name in ref:
        kind = "numeric" if name.startswith("n_") else "categorical"
        result = drift_between(
            _profile_streamed(ref[name], kind, 16_384), _profile_streamed(cur[name], kind, 16_384)
        )
        if result.drifted:
            flagged.append(name)
    assert flagged == ["n_normal_drift", "n_exponential_drift", "c_mix_drift"]


def test_numeric_quality_counts_missing_and_out_of_range_values():
    ref = profile_column(pa.array([0.0, 5.0, 10.0]), "numeric")
    cur = profile_column(pa.array([-1.0, 2.0, 11.0, np.nan, None, np.inf, 3.0, 4.0]), "numeric")
    q = quality_between(ref, cur)
    assert q["null_share"] == 2 / 8 and q["nan_share"] == 1 / 8 and q["inf_share"] == 1 / 8
    assert (q["out_of_range"], q["out_of_range_share"]) == (3.0, 3 / 6)
    assert (q["lower_bound"], q["upper_bound"]) == (0.0, 10.0)
    assert q["constant"] == 0.0 and q["rows_current"] == 8.0
    upper_only = quality_between(ref, cur, (None, 10.5))
    assert upper_only["out_of_range"] == 2.0  # 11 and +inf
    with pytest.raises(ValueError, match=r"bounds must have low <= high; got \(2.0, 1.0\)"):
        quality_between(ref, cur, (2.0, 1.0))


@needs_sketch
def test_out_of_range_is_the_same_before_and_after_sorting_and_when_sketched():
    x = np.random.default_rng(8).normal(size=20_000)
    ref = NumericColumnProfile.from_array(x[:10_000])
    fresh = NumericColumnProfile.from_array(x[10_000:] * 1.2)
    expected = int(np.sum((x[10_000:] * 1.2 < ref.min) | (x[10_000:] * 1.2 > ref.max)))
    assert quality_between(ref, fresh)["out_of_range"] == expected
    fresh.sorted_values()
    assert quality_between(ref, fresh)["out_of_range"] == expected
    sketched = NumericColumnProfile.from_array(x[10_000:] * 1.2, exact_limit=1000)
    assert abs(quality_between(ref, sketched)["out_of_range"] - expected) <= 0.01 * 10_000
    inside = NumericColumnProfile.from_array(x[10_000:] * 0.1, exact_limit=1000)
    assert quality_between(ref, inside)["out_of_range"] == 0.0


def test_categorical_quality_reports_unseen_categories_and_constants():
    ref = profile_column(pa.array(["a", "a", "b"]), "categorical")
    cur = profile_column(pa.array(["a", "new", None, "new"]), "categorical")
    q = quality_between(ref, cur)
    assert (q["unseen_categories"], q["unseen_category_share"]) == (1.0, 2 / 3)
    assert (q["null_share"], q["constant"], q["constant_reference"]) == (0.25, 0.0, 0.0)
    assert quality_between(cur, ref)["unseen_category_share"] == 1 / 3
    constant = profile_column(pa.array(["z", "z"]), "categorical")
    assert quality_between(ref, constant)["constant"] == 1.0
    with pytest.raises(ValueError, match="bounds apply to numeric columns only"):
        quality_between(ref, cur, (0.0, 1.0))
