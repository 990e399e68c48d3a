"""The KLL quantile sketch: merging, ranks, quantiles and the KS error bound."""

import numpy as np
import pytest

pytest.importorskip("datasketches", reason="the KLL sketch needs the datasketches package")

from accuguard.profile.numeric import NumericColumnProfile
from accuguard.profile.sketch import QuantileSketch
from accuguard.stats.drift import ks_from_sketches, ks_sketch_error_bound
from accuguard.stats.ecdf import ecdf_distances

CHUNK = 262_144


def _streamed(values, exact_limit):
    total = NumericColumnProfile(exact_limit=exact_limit)
    for start in range(0, values.size, CHUNK):
        total = total + NumericColumnProfile.from_array(values[start : start + CHUNK], exact_limit)
    return total


def test_small_sketch_keeps_every_value_and_is_exact():
    values = np.arange(500.0)
    sketch = QuantileSketch.from_array(values[:200]) + QuantileSketch.from_array(values[200:])
    kept, weights = sketch.items()
    assert sketch.n == 500 and sketch.rank_error == 0.0
    assert kept.tolist() == values.tolist() and weights.sum() == 500
    assert sketch.rank(np.array([99.0, 99.5]), inclusive=True).tolist() == [100.0, 100.0]
    assert sketch.rank(np.array([99.0]), inclusive=False).tolist() == [99.0]


def test_merging_leaves_the_operands_unchanged():
    a = QuantileSketch.from_array(np.ones(10))
    b = a.updated(np.zeros(5))
    c = a + b
    assert (a.n, b.n, c.n) == (10, 15, 25)


def test_sketch_quantiles_are_within_the_rank_error():
    rng = np.random.default_rng(5)
    values = rng.exponential(size=300_000)
    sketch = QuantileSketch.from_array(values)
    qs = np.array([0.01, 0.1, 0.5, 0.9, 0.99])
    ranks = np.searchsorted(np.sort(values), sketch.quantiles(qs), side="right") / values.size
    assert sketch.rank_error > 0
    assert np.all(np.abs(ranks - qs) <= sketch.rank_error)


def test_sketch_rejects_an_invalid_k():
    with pytest.raises(ValueError, match=r"k must be in \[8, 65535\]; got 4"):
        QuantileSketch.from_array(np.ones(3), k=4)


@pytest.fixture(scope="module")
def two_million_reference():
    values = np.random.default_rng(11).normal(size=2_000_000)
    return _streamed(values, 100_000), np.sort(values)


@pytest.mark.parametrize("shift", [0.0, 0.05])
def test_ks_from_sketches_of_two_million_values_is_within_the_documented_bound(
    two_million_reference, shift
):
    ref_profile, ref_sorted = two_million_reference
    cur = np.random.default_rng(12).normal(shift, 1.0, size=2_000_000)
    cur_profile = NumericColumnProfile.from_array(cur, exact_limit=100_000)
    assert not ref_profile.is_exact and ref_profile.sketch.n == ref_sorted.size
    approx, _ = ks_from_sketches(ref_profile.sketch, cur_profile.sketch)
    exact, _ = ecdf_distances(ref_sorted, np.sort(cur))
    bound = ks_sketch_error_bound(ref_profile.sketch, cur_profile.sketch)
    assert 0 < bound < 0.002
    assert abs(approx - exact) <= bound
