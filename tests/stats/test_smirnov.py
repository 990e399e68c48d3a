import pytest
from scipy.special import smirnov

from accuguard.stats._smirnov import SCIPY_ASYMPTOTIC_N, smirnov_sf


@pytest.mark.parametrize(
    ("n", "x"),
    [
        (25_000, 0.02),
        (30_000, 0.01),
        (100_000, 0.005),
        (250_000, 0.0021),
        (500_000, 0.004),
        (500_000, 0.01),
        (SCIPY_ASYMPTOTIC_N, 0.0015),
    ],
)
def test_vectorised_series_equals_scipy_smirnov(n, x):
    assert smirnov_sf(n, x) == pytest.approx(float(smirnov(n, x)), rel=2e-9)


@pytest.mark.parametrize(("n", "x"), [(10, 0.3), (2_000_000, 0.001), (50_000, 0.0), (50_000, 1.0)])
def test_outside_the_vectorised_range_scipy_is_used_as_is(n, x):
    assert smirnov_sf(n, x) == float(smirnov(n, x))


@pytest.mark.parametrize(
    ("n", "x"),
    [
        (200_000, 0.01),
        (500_000, 0.0025),
        (500_000, 0.0005),
        (300, 0.2),
        (50_000, 0.05),
        (500_000, 0.05),
    ],
)
def test_kstwo_sf_equals_scipy_in_every_branch(n, x):
    from scipy import stats

    from accuguard.stats.drift import kstwo_sf

    assert kstwo_sf(x, n) == pytest.approx(float(stats.kstwo.sf(x, n)), rel=2e-9, abs=1e-300)
