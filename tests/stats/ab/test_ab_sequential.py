"""Always-valid inference: A/A simulations with 20 interim looks, coverage, gbstats numbers."""

import numpy as np
import pytest

from accuguard.stats.ab import (
    Proportion,
    SampleMean,
    analyze_summary,
    confidence_sequence,
    make_sequential,
    mixture_rho,
    msprt_p_value,
    welch_ttest,
)

ALPHA, LOOKS, RUNS = 0.05, 20, 2000


def _mc(p, runs):
    return np.sqrt(p * (1 - p) / runs)


def _bernoulli_looks(rng, p_c, p_t, batch=500):
    """Cumulative Proportion sums at each look: shape (RUNS, LOOKS)."""
    n = batch * np.arange(1, LOOKS + 1) * np.ones((RUNS, 1))
    c = np.cumsum(rng.binomial(batch, p_c, (RUNS, LOOKS)), axis=1)
    t = np.cumsum(rng.binomial(batch, p_t, (RUNS, LOOKS)), axis=1)
    return Proportion(n=n, successes=c), Proportion(n=n, successes=t)


def _normal_looks(rng, mu, sigma, batch):
    """Exact sufficient statistics of normal data, cumulated over looks."""
    s = rng.normal(batch * mu, np.sqrt(batch) * sigma, (RUNS, LOOKS))
    within = sigma**2 * rng.chisquare(batch - 1, (RUNS, LOOKS))
    sq = within + s**2 / batch
    n = batch * np.arange(1, LOOKS + 1) * np.ones((RUNS, 1))
    return SampleMean(n=n, sum=np.cumsum(s, axis=1), sum_sq=np.cumsum(sq, axis=1))


def test_aa_with_20_looks_sequential_stays_below_alpha_while_peeking_does_not():
    rng = np.random.default_rng(20240601)
    c, t = _bernoulli_looks(rng, 0.1, 0.1)
    naive = analyze_summary(c, t, alpha=ALPHA)
    seq = analyze_summary(c, t, alpha=ALPHA, sequential=True, tuning=5000)
    fpr_naive = float(np.mean((naive.p_value < ALPHA).any(axis=1)))
    fpr_seq = float(np.mean((seq.p_value < ALPHA).any(axis=1)))
    se_seq, se_naive = _mc(max(fpr_seq, 1e-3), RUNS), _mc(fpr_naive, RUNS)
    assert fpr_seq <= ALPHA, f"sequential FPR {fpr_seq:.4f} ± {se_seq:.4f} (MC) > {ALPHA}"
    assert fpr_naive > ALPHA + 5 * se_naive, (
        f"naive peeking FPR {fpr_naive:.4f} ± {se_naive:.4f} should exceed {ALPHA}"
    )
    # the always-valid interval covers 0 at every look in those runs too
    covered = ((seq.diff_lower <= 0) & (seq.diff_upper >= 0)).all(axis=1)
    assert covered.mean() >= 1 - ALPHA


def test_aa_with_20_looks_on_skewed_unequal_arms_welch_path():
    rng = np.random.default_rng(7)
    c = _normal_looks(rng, 10.0, 3.0, 300)
    t = _normal_looks(rng, 10.0, 5.0, 200)  # unequal variances and allocation
    seq = analyze_summary(c, t, alpha=ALPHA, sequential=True, tuning=5000)
    fpr = float(np.mean((seq.p_value < ALPHA).any(axis=1)))
    assert fpr <= ALPHA, f"sequential FPR {fpr:.4f} ± {_mc(max(fpr, 1e-3), RUNS):.4f} (MC)"


def test_confidence_sequence_covers_a_real_effect_at_all_looks():
    rng = np.random.default_rng(99)
    c, t = _bernoulli_looks(rng, 0.10, 0.11)
    seq = analyze_summary(c, t, alpha=ALPHA, sequential=True, tuning=10_000)
    covered = ((seq.diff_lower <= 0.01) & (seq.diff_upper >= 0.01)).all(axis=1)
    mc = _mc(0.95, RUNS)
    assert covered.mean() >= 1 - ALPHA - 2 * mc, f"simultaneous coverage {covered.mean():.4f}"


def test_fixed_horizon_95_interval_covers_in_95_percent_of_runs():
    rng = np.random.default_rng(5)
    c, t = _bernoulli_looks(rng, 0.10, 0.11)
    last = analyze_summary(c[:, -1], t[:, -1], alpha=ALPHA)
    covered = (last.diff_lower <= 0.01) & (last.diff_upper >= 0.01)
    mc = _mc(0.95, RUNS)
    assert abs(covered.mean() - 0.95) < 3.5 * mc, (
        f"coverage {covered.mean():.4f}, expected 0.95 ± {mc:.4f} (MC error)"
    )


def test_matches_gbstats_0_8_0_sequential_two_sided_ttest():
    # numbers printed by gbstats 0.8.0 SequentialTwoSidedTTest, tuning 2000
    a = SampleMean(n=5000, sum=51_000.0, sum_sq=1_030_000.0)
    b = SampleMean(n=5100, sum=54_500.0, sum_sq=1_110_000.0)
    rel = analyze_summary(a, b, relative=True, sequential=True, tuning=2000)
    assert float(rel.rel_lower) == pytest.approx(-0.016208549759525757, abs=1e-12)
    assert float(rel.rel_upper) == pytest.approx(0.11155649285833391, abs=1e-12)
    assert float(rel.p_value) == pytest.approx(0.4294304545046599, abs=1e-12)
    ab = analyze_summary(a, b, sequential=True, tuning=2000)
    assert float(ab.diff_lower) == pytest.approx(-0.14994501031252094, abs=1e-12)
    assert float(ab.p_value) == pytest.approx(0.37622030631591463, abs=1e-12)


def test_p_value_below_alpha_exactly_when_the_sequence_excludes_the_null():
    est = np.linspace(-0.1, 0.1, 401)
    p = msprt_p_value(est, 0.02, 10_000, alpha=0.05)
    lo, hi = confidence_sequence(est, 0.02, 10_000, alpha=0.05)
    excluded = (lo > 0) | (hi < 0)
    inside = np.abs(p - 0.05) > 1e-9  # skip the boundary itself
    assert np.array_equal((p < 0.05)[inside], excluded[inside])


def test_sequence_is_wider_than_the_fixed_interval_and_narrows_with_n():
    _lo1, hi1 = confidence_sequence(0.0, 0.01, 20_000)
    assert float(hi1) > 1.96 * 0.01
    _lo2, hi2 = confidence_sequence(0.0, 0.005, 80_000)
    assert float(hi2) < float(hi1)


def test_mixture_rho_matches_the_closed_form():
    a = 0.05
    assert mixture_rho(a, 5000) == pytest.approx(
        np.sqrt((-2 * np.log(a) + np.log(-2 * np.log(a) + 1)) / 5000)
    )


def test_one_sided_and_bad_tuning_are_rejected():
    s = SampleMean.from_values([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="sequential tests are two-sided only"):
        make_sequential(welch_ttest(s, s, alternative="greater"))
    with pytest.raises(ValueError, match="tuning must be a positive number of units, got 0"):
        mixture_rho(0.05, 0)
    with pytest.raises(ValueError, match="n must be finite counts >= 0"):
        msprt_p_value(0.1, 0.1, -5)
