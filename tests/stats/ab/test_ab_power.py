"""Sample sizes equal statsmodels' power solvers."""

import pytest
from statsmodels.stats.power import NormalIndPower, TTestIndPower
from statsmodels.stats.proportion import proportion_effectsize

from accuguard.stats.ab import (
    cohens_h,
    duration_days,
    normal_power,
    sample_size_means,
    sample_size_proportions,
    t_power,
)

SM_ALT = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}


@pytest.mark.parametrize(
    ("baseline", "mde", "relative"),
    [
        (0.032, 0.05, True),
        (0.1, 0.01, False),
        (0.5, -0.1, True),
        (0.9, 0.02, False),
        (0.01, 0.3, True),
    ],
)
@pytest.mark.parametrize(
    ("alpha", "power", "ratio"), [(0.05, 0.8, 1.0), (0.01, 0.9, 2.0), (0.1, 0.5, 0.5)]
)
def test_proportion_sample_size_equals_normal_ind_power(
    baseline, mde, relative, alpha, power, ratio
):
    p1 = baseline * (1 + mde) if relative else baseline + mde
    ref = NormalIndPower().solve_power(
        proportion_effectsize(p1, baseline), alpha=alpha, power=power, ratio=ratio
    )
    n = sample_size_proportions(
        baseline, mde, relative=relative, alpha=alpha, power=power, ratio=ratio
    )
    assert n == pytest.approx(ref, rel=1e-6)


@pytest.mark.parametrize("alternative", ["greater", "less"])
def test_one_sided_proportion_sample_size(alternative):
    mde = 0.1 if alternative == "greater" else -0.1
    h = proportion_effectsize(0.2 * (1 + mde), 0.2)
    ref = NormalIndPower().solve_power(h, alpha=0.05, power=0.8, alternative=SM_ALT[alternative])
    n = sample_size_proportions(0.2, mde, relative=True, alternative=alternative)
    assert n == pytest.approx(ref, rel=1e-6)


@pytest.mark.parametrize(
    ("mde", "std", "alpha", "power", "ratio", "alternative"),
    [
        (0.5, 10.0, 0.05, 0.8, 1.0, "two-sided"),
        (2.0, 3.0, 0.01, 0.9, 1.5, "two-sided"),
        (0.3, 1.0, 0.05, 0.8, 1.0, "greater"),
        (-0.3, 1.0, 0.05, 0.8, 3.0, "less"),
        (5.0, 2.0, 0.05, 0.95, 1.0, "two-sided"),
    ],
)
def test_mean_sample_size_equals_ttest_ind_power(mde, std, alpha, power, ratio, alternative):
    ref = TTestIndPower().solve_power(
        mde / std, alpha=alpha, power=power, ratio=ratio, alternative=SM_ALT[alternative]
    )
    n = sample_size_means(mde, std, alpha=alpha, power=power, ratio=ratio, alternative=alternative)
    assert n == pytest.approx(ref, rel=1e-6)


@pytest.mark.parametrize(
    ("effect", "n", "ratio"), [(0.2, 393, 1.0), (0.05, 5000, 2.0), (0.5, 20, 0.5)]
)
def test_power_functions_equal_statsmodels(effect, n, ratio):
    assert normal_power(effect, n, ratio=ratio) == pytest.approx(
        NormalIndPower().power(effect, n, 0.05, ratio=ratio), rel=1e-10
    )
    assert t_power(effect, n, ratio=ratio) == pytest.approx(
        TTestIndPower().power(effect, n, 0.05, ratio=ratio), rel=1e-8
    )


def test_cohens_h_equals_proportion_effectsize():
    assert cohens_h(0.0336, 0.032) == pytest.approx(proportion_effectsize(0.0336, 0.032), rel=1e-12)


def test_duration_rounds_up():
    assert duration_days(387_702, 40_000) == 10
    assert duration_days(80_000, 40_000) == 2


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: sample_size_proportions(1.2, 0.05), "baseline must be a rate strictly between"),
        (
            lambda: sample_size_proportions(0.5, 0.0),
            "mde must be a non-zero finite number, got 0.0",
        ),
        (
            lambda: sample_size_proportions(0.9, 0.2, relative=True),
            r"gives a treatment rate 1.08 outside \(0, 1\)",
        ),
        (lambda: sample_size_proportions(0.1, 0.01, power=1.0), "power must be a number strictly"),
        (lambda: sample_size_proportions(0.1, 0.01, ratio=-1), "ratio must be a positive finite"),
        (
            lambda: sample_size_proportions(0.1, -0.01, alternative="greater"),
            "points the other way",
        ),
        (
            lambda: sample_size_proportions(0.1, 0.01, alpha=0.3, power=0.2),
            "power must exceed alpha",
        ),
        (lambda: sample_size_means(1.0, 0.0), "std must be a positive finite number, got 0.0"),
        (lambda: duration_days(100, 0), "daily_units must be a positive finite number"),
    ],
)
def test_bad_inputs_raise_precise_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
