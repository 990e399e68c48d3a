"""The one-merge ECDF comparison against scipy's KS statistic and Wasserstein distance."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from accuguard.stats.ecdf import check_sorted_sample, ecdf_distances

samples = st.lists(st.integers(-20, 20), min_size=1, max_size=80)


@settings(max_examples=100, deadline=None)
@given(ref=samples, cur=samples, block=st.sampled_from([1, 2, 3, 7, 1 << 18]))
def test_ecdf_distances_equal_scipy_with_ties_for_any_block_size(ref, cur, block):
    r = np.sort(np.array(ref, dtype=float) / 4)
    c = np.sort(np.array(cur, dtype=float) / 4)
    d, w = ecdf_distances(r, c, block)
    with np.errstate(all="ignore"):  # scipy's asymptotic p-value of n = m = 1 divides by 0
        expected = stats.ks_2samp(r, c, method="asymp").statistic
    assert d == expected  # bit for bit
    assert w == pytest.approx(stats.wasserstein_distance(r, c), rel=1e-12, abs=1e-14)


def test_ecdf_distances_on_large_continuous_samples_equal_scipy():
    rng = np.random.default_rng(3)
    r = np.sort(rng.normal(size=200_000))
    c = np.sort(rng.normal(0.02, 1.1, size=150_000))
    d, w = ecdf_distances(r, c, block=10_000)
    assert d == stats.ks_2samp(r, c).statistic
    assert w == pytest.approx(stats.wasserstein_distance(r, c), rel=1e-9)


def test_ecdf_distances_handle_infinities_in_ks():
    r = np.array([-np.inf, 0.0, 1.0, np.inf])
    c = np.array([0.5, np.inf, np.inf])
    d, w = ecdf_distances(r, c, block=1)
    assert d == stats.ks_2samp(r, c, method="asymp").statistic
    assert np.isnan(w)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (np.array([2.0, 1.0]), "must be sorted ascending"),
        (np.array([1.0, np.nan]), "must not contain NaN"),
        (np.zeros((2, 2)), "must be a 1-D array"),
    ],
)
def test_check_sorted_sample_names_the_argument(values, message):
    with pytest.raises(ValueError, match=f"ref_sorted {message}"):
        check_sorted_sample(values, "ref_sorted")
