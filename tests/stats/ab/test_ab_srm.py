"""Sample ratio mismatch: flags a 50.5/49.5 split of 200,000 units, not a true 50/50."""

import numpy as np
import pytest
from scipy import stats

from accuguard.stats.ab import SRM_THRESHOLD, srm_test


def test_threshold_is_the_customary_0_001():
    assert SRM_THRESHOLD == 0.001


def test_flags_a_50_5_to_49_5_split_of_200000_units():
    r = srm_test([101_000, 99_000], [0.5, 0.5])
    assert bool(r.flagged), f"p = {float(r.p_value):.3g}"
    assert float(r.p_value) == pytest.approx(stats.chisquare([101_000, 99_000]).pvalue, rel=1e-9)


def test_does_not_flag_a_seeded_true_50_50_draw():
    counts = np.random.default_rng(2024).multinomial(200_000, [0.5, 0.5])
    r = srm_test(counts, [1, 1])
    assert not bool(r.flagged), f"counts {counts.tolist()}, p = {float(r.p_value):.3g}"


def test_false_alarm_rate_on_true_splits_is_near_the_threshold():
    rng = np.random.default_rng(1)
    counts = rng.multinomial(200_000, [0.2, 0.3, 0.5], size=20_000)
    r = srm_test(counts, [2, 3, 5])
    rate = float(r.flagged.mean())
    mc = np.sqrt(0.001 * 0.999 / 20_000)
    assert rate < 0.001 + 4 * mc, f"false alarms {rate:.4f} ± {mc:.4f}"


def test_equals_scipy_chisquare_with_unequal_weights():
    counts, weights = np.array([1010, 2950, 6040]), np.array([0.1, 0.3, 0.6])
    ref = stats.chisquare(counts, counts.sum() * weights)
    r = srm_test(counts, weights)
    assert float(r.statistic) == pytest.approx(ref.statistic, rel=1e-12)
    assert float(r.p_value) == pytest.approx(ref.pvalue, rel=1e-9)
    assert r.dof == 2


def test_zero_weight_arm_is_left_out_and_must_be_empty():
    r = srm_test([500, 480, 0], [1, 1, 0])
    assert r.dof == 1
    with pytest.raises(ValueError, match="an arm with weight 0 received units"):
        srm_test([500, 480, 3], [1, 1, 0])


@pytest.mark.parametrize(
    ("counts", "weights", "message"),
    [
        ([5], [1], "counts must list at least 2 arms"),
        ([5, -1], [1, 1], "counts must be finite and >= 0"),
        ([5, 5], [1, -1], "weights must be finite and >= 0"),
    ],
)
def test_bad_inputs_raise(counts, weights, message):
    with pytest.raises(ValueError, match=message):
        srm_test(counts, weights)


def test_no_units_gives_nan_not_a_flag():
    r = srm_test([0, 0], [1, 1])
    assert np.isnan(r.p_value) and not bool(r.flagged)
