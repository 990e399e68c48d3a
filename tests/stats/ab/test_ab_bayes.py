"""Bayesian view: probability to beat control and expected loss vs numeric integration."""

import numpy as np
import pytest
from scipy import integrate, stats

from accuguard.stats.ab import expected_loss, prob_beat_control


@pytest.mark.parametrize(("est", "se"), [(0.5, 0.25), (-0.1, 0.3), (0.0, 1.0), (2.0, 0.5)])
def test_expected_loss_equals_integral(est, se):
    ship, keep = expected_loss(est, se)
    pdf = stats.norm(est, se).pdf
    lo, hi = est - 12 * se, est + 12 * se
    ref_ship = integrate.quad(lambda d: max(0.0, -d) * pdf(d), lo, hi, points=[0.0])[0]
    ref_keep = integrate.quad(lambda d: max(0.0, d) * pdf(d), lo, hi, points=[0.0])[0]
    assert float(ship) == pytest.approx(ref_ship, abs=1e-9)
    assert float(keep) == pytest.approx(ref_keep, abs=1e-9)
    assert float(prob_beat_control(est, se)) == pytest.approx(stats.norm.sf(0, est, se))


def test_degenerate_standard_error():
    assert float(prob_beat_control(0.0, 0.0)) == 0.5
    assert float(prob_beat_control(1.0, 0.0)) == 1.0
    ship, keep = expected_loss(-1.0, 0.0)
    assert (float(ship), float(keep)) == (1.0, 0.0)
    assert np.isnan(prob_beat_control(1.0, np.nan))
