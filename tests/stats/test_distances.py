"""PSI, normed Wasserstein and Jensen-Shannon against scipy, numpy and direct formulas."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial.distance import jensenshannon

from accuguard.stats.distances import (
    counts_to_fractions,
    histogram_sorted,
    jensen_shannon,
    jensen_shannon_categorical,
    jensen_shannon_numeric,
    psi,
    psi_categorical,
    psi_numeric,
    quantiles_sorted,
    sturges_edges,
    wasserstein_normed,
)

floats = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
fraction_lists = st.lists(st.integers(0, 50), min_size=1, max_size=12)


def _evidently_binned(ref, cur):
    """Evidently's ``get_binned_data`` (numeric branch), written with numpy only."""
    if np.unique(ref).size > 20:
        edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
        return np.histogram(ref, edges)[0] / ref.size, np.histogram(cur, edges)[0] / cur.size
    keys = np.union1d(ref, cur)
    return (
        np.array([np.sum(ref == k) for k in keys]) / ref.size,
        np.array([np.sum(cur == k) for k in keys]) / cur.size,
    )


def test_psi_is_the_sum_of_weighted_log_ratios():
    r, c = np.array([0.2, 0.3, 0.5]), np.array([0.25, 0.25, 0.5])
    expected = sum((ci - ri) * math.log(ci / ri) for ri, ci in zip(r, c, strict=True))
    assert psi(r, c) == pytest.approx(expected, rel=1e-14)


def test_psi_floors_empty_bins_at_eps():
    assert psi([0.5, 0.5, 0.0], [0.5, 0.4, 0.1], eps=1e-4) == pytest.approx(
        (0.4 - 0.5) * math.log(0.4 / 0.5) + (0.1 - 1e-4) * math.log(0.1 / 1e-4), rel=1e-14
    )


@pytest.mark.parametrize(
    ("ref", "cur", "message"),
    [([0.5, 0.5], [1.0], "equal length"), ([-0.1, 1.1], [0.5, 0.5], "non-negative")],
)
def test_psi_rejects_bad_fractions(ref, cur, message):
    with pytest.raises(ValueError, match=message):
        psi(ref, cur)


def test_psi_rejects_non_positive_eps():
    with pytest.raises(ValueError, match="eps must be > 0; got 0"):
        psi([1.0], [1.0], eps=0)


@settings(max_examples=60, deadline=None)
@given(
    ref=st.lists(st.integers(0, 30), min_size=1, max_size=300),
    cur=st.lists(st.integers(-5, 35), min_size=1, max_size=300),
)
def test_psi_numeric_uses_reference_decile_bins(ref, cur):
    r = np.sort(np.array(ref, dtype=float))
    c = np.sort(np.array(cur, dtype=float))
    edges = np.unique(np.quantile(r, np.arange(1, 10) / 10))
    rb = np.bincount(np.digitize(r, edges, right=True), minlength=edges.size + 1) / r.size
    cb = np.bincount(np.digitize(c, edges, right=True), minlength=edges.size + 1) / c.size
    rb, cb = np.maximum(rb, 1e-4), np.maximum(cb, 1e-4)
    assert psi_numeric(r, c) == pytest.approx(
        float(np.sum((cb - rb) * np.log(cb / rb))), rel=1e-12, abs=1e-15
    )


def test_psi_numeric_of_a_location_shift_grows_with_the_shift():
    rng = np.random.default_rng(0)
    r = np.sort(rng.normal(size=50_000))
    small, large = (psi_numeric(r, np.sort(rng.normal(s, 1, 50_000))) for s in (0.1, 0.5))
    assert 0 < small < 0.05 < 0.2 < large


def test_psi_categorical_uses_the_union_of_categories():
    expected = psi([0.5, 0.5, 0.0], [0.4, 0.4, 0.2])
    assert psi_categorical({"a": 5, "b": 5}, {"a": 2, "b": 2, "new": 1}) == pytest.approx(expected)
    assert math.isnan(psi_categorical({}, {"a": 1}))


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(floats, min_size=1, max_size=50),
    qs=st.lists(st.floats(0, 1), min_size=1, max_size=5),
)
def test_quantiles_sorted_equal_numpy_quantile_bit_for_bit(values, qs):
    v = np.sort(np.array(values))
    assert quantiles_sorted(v, qs).tolist() == np.quantile(v, qs).tolist()


def test_quantiles_sorted_rejects_out_of_range_levels():
    with pytest.raises(ValueError, match=r"qs must be in \[0, 1\]"):
        quantiles_sorted(np.array([1.0]), [1.5])


@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.integers(-50, 50), min_size=1, max_size=200), extra=st.integers(0, 3000))
def test_sturges_edges_and_histogram_sorted_equal_numpy(values, extra):
    v = np.sort(np.array(values, dtype=float) / 3)
    n = v.size + extra
    edges = sturges_edges(float(v[0]), float(v[-1]), n)
    padded = np.concatenate([v, np.full(extra, v[0])])
    assert edges.tolist() == np.histogram_bin_edges(padded, bins="sturges").tolist()
    assert histogram_sorted(v, edges).tolist() == np.histogram(v, edges)[0].tolist()


def test_sturges_edges_rejects_an_inverted_range():
    with pytest.raises(ValueError, match=r"finite lo <= hi; got lo=2\.0, hi=1\.0"):
        sturges_edges(2.0, 1.0, 10)


@settings(max_examples=100, deadline=None)
@given(
    ref=st.lists(st.integers(-30, 30), min_size=1, max_size=120),
    cur=st.lists(st.integers(-30, 40), min_size=1, max_size=120),
    scale=st.sampled_from([0.01, 1.0, 1000.0]),
)
def test_wasserstein_normed_equals_scipy_over_std(ref, cur, scale):
    r = np.sort(np.array(ref, dtype=float) * scale)
    c = np.sort(np.array(cur, dtype=float) * scale)
    expected = stats.wasserstein_distance(r, c) / max(np.std(r), 0.001)
    assert wasserstein_normed(r, c) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_wasserstein_normed_divides_a_constant_reference_by_the_floor():
    r, c = np.full(10, 5.0), np.full(10, 5.5)
    assert wasserstein_normed(r, c) == pytest.approx(0.5 / 0.001)


def test_wasserstein_normed_accepts_a_streamed_std_and_empty_is_nan():
    r, c = np.array([0.0, 2.0]), np.array([1.0, 3.0])
    assert wasserstein_normed(r, c, ref_std=2.0) == pytest.approx(0.5)
    assert math.isnan(wasserstein_normed(r, np.array([])))


@settings(max_examples=100, deadline=None)
@given(ref=fraction_lists, data=st.data())
def test_jensen_shannon_equals_scipy_natural_log(ref, data):
    cur = data.draw(st.lists(st.integers(0, 50), min_size=len(ref), max_size=len(ref)))
    if sum(ref) == 0 or sum(cur) == 0:
        assert math.isnan(jensen_shannon(ref, cur))
        return
    assert jensen_shannon(ref, cur) == pytest.approx(jensenshannon(ref, cur), rel=1e-12, abs=1e-12)


def test_jensen_shannon_of_disjoint_distributions_is_sqrt_ln2():
    assert jensen_shannon([1, 0], [0, 1]) == pytest.approx(math.sqrt(math.log(2)))


def test_jensen_shannon_categorical_counts_unseen_categories():
    got = jensen_shannon_categorical({"a": 3, "b": 1}, {"a": 1, "c": 1})
    assert got == pytest.approx(jensenshannon([3, 1, 0], [1, 0, 1]))


@pytest.mark.parametrize("distinct", [5, 20, 21, 400])
def test_jensen_shannon_numeric_bins_like_evidently(distinct):
    rng = np.random.default_rng(distinct)
    r = np.sort(rng.integers(0, distinct, 3000).astype(float))
    c = np.sort(rng.integers(0, distinct + 3, 2000).astype(float) + 0.5 * (distinct > 20))
    ref_p, cur_p = _evidently_binned(r, c)
    assert jensen_shannon_numeric(r, c) == pytest.approx(jensenshannon(ref_p, cur_p), rel=1e-12)


def test_counts_to_fractions_of_nothing_is_nan():
    assert np.isnan(counts_to_fractions([0, 0])).all()
