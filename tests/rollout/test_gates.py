"""Gates over real evidence: values and intervals against statsmodels / scipy / sklearn."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from scipy import stats as sps
from sklearn.metrics import f1_score, precision_score
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from accuguard.profile.columns import CategoricalColumnProfile, NumericColumnProfile
from accuguard.rollout.comparisons import (
    paired_difference,
    quantile_interval,
    unpaired_difference,
)
from accuguard.rollout.evidence import collect_evidence
from accuguard.rollout.gates import evaluate_gate
from accuguard.rollout.plan import Step
from tests.rollout.traffic_sim import make_store, seed_canary, seed_shadow, window


def step(mode="canary", checks=(), weight=0.3, sequential=False, **kw):
    data = {"name": "s", "mode": mode, "gate": {"checks": list(checks), "sequential": sequential}}
    if mode == "canary":
        data["weight"] = weight
    return Step.model_validate({**data, **kw})


@pytest.fixture(scope="module")
def canary(tmp_path_factory):
    engine = make_store(tmp_path_factory.mktemp("canary"))
    truth = seed_canary(engine, 4000, weight=0.3, chal_signal=0.9)
    return truth, collect_evidence(engine, window())


@pytest.fixture(scope="module")
def shadow(tmp_path_factory):
    engine = make_store(tmp_path_factory.mktemp("shadow"))
    truth = seed_shadow(engine, 3000, chal_signal=1.1)
    return truth, collect_evidence(engine, window())


def test_canary_accuracy_interval_is_statsmodels_newcombe(canary):
    _, ev = canary
    r = evaluate_gate(step(checks=[{"check": "accuracy", "margin": 0.02}]), ev, elapsed_s=1e6)
    c = r.checks[0]
    s_t = sum(k for (y, x), k in ev.challenger.labelled.items() if x == y)
    s_c = sum(k for (y, x), k in ev.champion.labelled.items() if x == y)
    n_t, n_c = ev.challenger.labels, ev.champion.labels
    lo, hi = confint_proportions_2indep(s_t, n_t, s_c, n_c, method="newcomb", compare="diff")
    assert c.value == pytest.approx(s_t / n_t - s_c / n_c)
    assert (c.ci_low, c.ci_high) == (pytest.approx(lo), pytest.approx(hi))
    assert c.threshold == -0.02
    expected = "pass" if lo > -0.02 else "fail" if hi < -0.02 else "inconclusive"
    assert c.status == expected


def test_canary_f1_values_match_sklearn_and_the_interval_covers_the_difference(canary):
    t, ev = canary
    d = unpaired_difference("f1", ev.champion.labelled, ev.challenger.labelled, 1, 0.95, False)
    chal = (t.arm == 1) & ~t.chal_error & t.labelled
    champ = (t.arm == 0) & t.labelled
    assert d.challenger == pytest.approx(f1_score(t.y[chal], t.chal_pred[chal]))
    assert d.champion == pytest.approx(f1_score(t.y[champ], t.champ_pred[champ]))
    assert d.lower < d.diff < d.upper


def test_shadow_accuracy_is_paired_agresti_min_with_the_statsmodels_mcnemar_p(shadow):
    _, ev = shadow
    r = evaluate_gate(step("shadow", [{"check": "accuracy", "margin": 0.03}]), ev, elapsed_s=1)
    c = r.checks[0]
    b = sum(k for (y, a, x), k in ev.paired.labelled.items() if a == y and x != y)
    cc = sum(k for (y, a, x), k in ev.paired.labelled.items() if a != y and x == y)
    n = ev.paired.labels
    ref = mcnemar([[0, b], [cc, 0]], exact=b + cc < 25, correction=True)
    assert c.stats["p_value"] == pytest.approx(ref.pvalue)
    # Agresti & Min (2005): add 1/2 to each cell
    d = (cc - b) / (n + 2)
    se = np.sqrt(((b + cc + 1) / (n + 2) - d * d) / (n + 2))
    assert c.ci_low == pytest.approx(d - 1.959964 * se, abs=1e-6)
    assert c.value == pytest.approx((cc - b) / n)


def test_shadow_precision_and_f1_use_the_paired_delta_method(shadow):
    t, ev = shadow
    lab = ~t.chal_error & t.labelled
    for metric, fn in (("precision", precision_score), ("f1", f1_score)):
        d = paired_difference(metric, ev.paired.labelled, 1, 0.95, False)
        assert d.champion == pytest.approx(fn(t.y[lab], t.champ_pred[lab]))
        assert d.challenger == pytest.approx(fn(t.y[lab], t.chal_pred[lab]))
        # the paired bootstrap of the same rows gives about the same width
        rng = np.random.default_rng(3)
        idx = np.flatnonzero(lab)
        boot = []
        for _ in range(400):
            i = rng.choice(idx, idx.size)
            boot.append(fn(t.y[i], t.chal_pred[i]) - fn(t.y[i], t.champ_pred[i]))
        half = 1.959964 * np.std(boot)
        assert (d.upper - d.lower) / 2 == pytest.approx(half, rel=0.2)


def test_sequential_intervals_contain_the_fixed_ones(canary, shadow):
    _, cev = canary
    _, sev = shadow
    for metric in ("accuracy", "recall", "precision", "f1"):
        fixed = unpaired_difference(
            metric, cev.champion.labelled, cev.challenger.labelled, 1, 0.95, False
        )
        seq = unpaired_difference(
            metric, cev.champion.labelled, cev.challenger.labelled, 1, 0.95, True
        )
        assert seq.lower < fixed.lower and seq.upper > fixed.upper
        fixed = paired_difference(metric, sev.paired.labelled, 1, 0.95, False)
        seq = paired_difference(metric, sev.paired.labelled, 1, 0.95, True)
        assert seq.lower < fixed.lower and seq.upper > fixed.upper


def test_a_clearly_worse_challenger_fails_with_a_reason_naming_the_check(tmp_path):
    engine = make_store(tmp_path)
    seed_shadow(engine, 3000, chal_signal=0.2)
    ev = collect_evidence(engine, window())
    s = step("shadow", [{"check": "recall", "margin": 0.02}], min_labels=5000)
    r = evaluate_gate(s, ev, elapsed_s=10)
    assert r.status == "fail"  # fails before the minimums are met
    assert r.reason.startswith("fail: recall: challenger")
    assert "below the -0.02 margin" in r.reason
    json.dumps(r.to_dict(), allow_nan=False)


def test_short_labels_make_the_gate_inconclusive_and_say_how_many_are_missing(tmp_path):
    engine = make_store(tmp_path)
    seed_shadow(engine, 200, label_share=0.2)
    ev = collect_evidence(engine, window())
    s = step("shadow", [{"check": "recall", "margin": 0.05, "min_labels": 100}], min_labels=500)
    r = evaluate_gate(s, ev, elapsed_s=10)
    assert r.status == "inconclusive"
    assert "labelled positive pairs for recall, 100 needed" in r.reason
    assert f"{ev.labels} labels of 500 labels so far" in r.reason
    assert {c.name for c in r.waiting} == {"recall", "min_labels"}


def test_all_checks_pass_only_once_minimums_are_met_and_expiry_is_flagged(shadow):
    _, ev = shadow
    checks = [{"check": "error_rate", "max": 0.1}, {"check": "latency_p95_ms", "max": 500}]
    early = evaluate_gate(
        step("shadow", checks, min_duration_s=600, max_duration_s=900), ev, elapsed_s=60
    )
    assert early.status == "inconclusive" and not early.expired
    assert "min_duration_s: 60s of 600s so far" in early.reason
    late = evaluate_gate(step("shadow", checks, min_duration_s=600), ev, elapsed_s=601)
    assert late.status == "pass" and late.reason.startswith("pass: step 's'")
    stuck = evaluate_gate(
        step("shadow", checks, min_requests=10**6, max_duration_s=900), ev, elapsed_s=901
    )
    assert stuck.status == "inconclusive" and stuck.expired
    assert "max_duration_s 900 reached" in stuck.reason


def test_prediction_drift_is_scipy_ks_between_the_score_distributions(shadow):
    t, ev = shadow
    r = evaluate_gate(
        step("shadow", [{"check": "prediction_drift", "max_statistic": 0.05}]), ev, elapsed_s=1
    )
    ok = ~t.chal_error
    ref = sps.ks_2samp(t.chal_score[ok], t.champ_score[ok])
    c = r.checks[0]
    assert c.value == pytest.approx(ref.statistic)
    assert c.stats["p_value"] == pytest.approx(ref.pvalue)
    drifted = ref.pvalue < 0.01 and ref.statistic >= 0.05
    assert c.status == ("fail" if drifted else "pass")


def test_error_and_disagreement_rates_use_the_wilson_interval(shadow):
    t, ev = shadow
    checks = [{"check": "error_rate", "max": 0.01}, {"check": "disagreement_rate", "max": 0.5}]
    r = evaluate_gate(step("shadow", checks), ev, elapsed_s=1)
    err, dis = r.checks[0], r.checks[1]
    lo, hi = proportion_confint(int(t.chal_error.sum()), t.y.size, method="wilson")
    assert (err.ci_low, err.ci_high) == (pytest.approx(lo), pytest.approx(hi))
    assert err.status == "fail"  # ~2 % errors, limit 1 %
    assert dis.status == "pass" and dis.value == pytest.approx(
        ev.paired.disagreements / ev.paired.pairs
    )


def test_latency_p95_is_numpy_quantile_and_its_interval_covers_95_percent():
    rng = np.random.default_rng(7)
    true_p95 = sps.expon.ppf(0.95)
    covered = 0
    for _ in range(2000):
        x = np.sort(rng.exponential(size=200))
        v, lo, hi = quantile_interval(x, 0.95, 0.95)
        assert v == np.quantile(x, 0.95)
        covered += lo <= true_p95 <= hi
    assert covered / 2000 >= 0.94


def test_business_conversion_is_the_wald_difference_and_srm_is_scipy_chisquare(tmp_path):
    engine = make_store(tmp_path)
    seed_canary(engine, 4000, weight=0.3, champ_conversion=0.10, chal_conversion=0.10)
    ev = collect_evidence(engine, window())
    s = step(checks=[{"check": "business", "event": "conversion", "margin": 0.05}])
    r = evaluate_gate(s, ev, elapsed_s=1)
    biz, srm = r.checks[0], r.checks[1]
    assert biz.name == "business:conversion" and srm.name == "srm"  # SRM added automatically
    arms = ev.business["conversion"]
    lo, hi = confint_proportions_2indep(
        arms["challenger"].converted,
        arms["challenger"].units,
        arms["champion"].converted,
        arms["champion"].units,
        method="wald",
        compare="diff",
    )
    assert (biz.ci_low, biz.ci_high) == (pytest.approx(lo), pytest.approx(hi))
    assert biz.status == "pass"
    units = [ev.exposed_units["champion"], ev.exposed_units["challenger"]]
    ref = sps.chisquare(units, np.array([0.7, 0.3]) * sum(units))
    assert srm.value == pytest.approx(ref.pvalue) and srm.status == "pass"


def test_a_broken_split_fails_the_srm_check(tmp_path):
    engine = make_store(tmp_path)
    seed_canary(engine, 4000, weight=0.3, challenger_units_share=0.25)
    ev = collect_evidence(engine, window())
    r = evaluate_gate(step(checks=[{"check": "srm"}]), ev, elapsed_s=1)
    assert r.status == "fail" and "sample ratio mismatch" in r.reason


def test_input_drift_fails_on_a_shifted_column_and_names_it(canary):
    _, ev = canary
    reference = {
        "amount": NumericColumnProfile.from_array(np.random.default_rng(0).gamma(2, 80, 5000)),
        "country": CategoricalColumnProfile({"FR": 1000, "DE": 1000, "US": 1000}),
    }
    ev2 = type(ev)(**{**ev.__dict__})
    ev2.reference_profile = reference
    ev2.input_profiles = {
        "amount": NumericColumnProfile.from_array(np.random.default_rng(1).gamma(2, 50, 3000)),
        "country": CategoricalColumnProfile({"FR": 990, "DE": 1010, "US": 1000}),
    }
    ev2.input_rows = 3000
    r = evaluate_gate(
        step(checks=[{"check": "input_drift", "max_drifted_share": 0.0}]), ev2, elapsed_s=1
    )
    c = r.checks[0]
    assert c.status == "fail" and c.value == 0.5 and c.stats["drifted"] == ["amount"]
    assert "1 of 2 columns drifted" in r.reason


def _noninferiority_decisions(rng, p_champ, diff, n_per_look, looks, sequential, paired):
    """Decision over repeated looks at accuracy (stop at the first pass or fail)."""
    champ, chal, pairs = Counter(), Counter(), Counter()
    for _ in range(looks):  # every labelled row has y = 1; correct means output 1
        a = (rng.random(n_per_look) < p_champ).astype(int)
        b = (rng.random(n_per_look) < p_champ + diff).astype(int)
        if paired:
            cells = np.bincount(2 * a + b, minlength=4)
            for k in range(4):
                pairs[(1, k // 2, k % 2)] += int(cells[k])
            d = paired_difference("accuracy", pairs, 1, 0.95, sequential)
        else:
            champ[(1, 1)] += int(a.sum())
            champ[(1, 0)] += int(n_per_look - a.sum())
            chal[(1, 1)] += int(b.sum())
            chal[(1, 0)] += int(n_per_look - b.sum())
            d = unpaired_difference("accuracy", champ, chal, 1, 0.95, sequential)
        if d.lower > -0.05:
            return "pass"
        if d.upper < -0.05:
            return "fail"
    return "inconclusive"


@pytest.mark.parametrize("paired", [False, True])
def test_noninferiority_wrongly_passes_an_inferior_challenger_rarely_despite_peeking(paired):
    """True difference = -margin (the boundary): a pass is an error; target <= 2.5 %."""
    rng = np.random.default_rng(11)
    runs = 300
    fixed = sum(
        _noninferiority_decisions(rng, 0.8, -0.05, 400, 1, False, paired) == "pass"
        for _ in range(runs)
    )
    peeking = sum(
        _noninferiority_decisions(rng, 0.8, -0.05, 100, 10, True, paired) == "pass"
        for _ in range(runs)
    )
    naive = sum(
        _noninferiority_decisions(rng, 0.8, -0.05, 100, 10, False, paired) == "pass"
        for _ in range(runs)
    )
    assert fixed / runs <= 0.06  # 2.5 % expected; binomial slack for 300 runs
    assert peeking / runs <= 0.06  # always-valid: 10 looks do not inflate it
    assert naive / runs > 0.06  # what sequential: false would do when peeked at (~10 %)


def test_a_step_without_traffic_yet_is_inconclusive_not_failed(tmp_path):
    engine = make_store(tmp_path)
    ev = collect_evidence(engine, window())
    checks = [
        {"check": "accuracy"},
        {"check": "recall"},
        {"check": "f1"},
        {"check": "prediction_drift"},
        {"check": "latency_p95_ms", "max": 100},
        {"check": "error_rate", "max": 0.01},
        {"check": "business", "event": "conversion"},
    ]
    r = evaluate_gate(step(checks=checks, min_requests=10), ev, elapsed_s=0)
    assert r.status == "inconclusive"
    assert all(c.status == "inconclusive" for c in r.checks)
    json.dumps(r.to_dict(), allow_nan=False)


def test_canary_recall_is_newcombe_on_the_labelled_positives(canary):
    t, ev = canary
    r = evaluate_gate(step(checks=[{"check": "recall", "margin": 0.1}]), ev, elapsed_s=1)
    c = r.checks[0]
    pos = (t.y == 1) & t.labelled
    chal = pos & (t.arm == 1) & ~t.chal_error
    champ = pos & (t.arm == 0)
    s_t, n_t = int(t.chal_pred[chal].sum()), int(chal.sum())
    s_c, n_c = int(t.champ_pred[champ].sum()), int(champ.sum())
    lo, hi = confint_proportions_2indep(s_t, n_t, s_c, n_c, method="newcomb", compare="diff")
    assert (c.ci_low, c.ci_high) == (pytest.approx(lo), pytest.approx(hi))
    assert c.stats["n_challenger"] == n_t and c.stats["n_champion"] == n_c


def test_lower_is_better_business_metrics_flip_the_orientation(tmp_path):
    engine = make_store(tmp_path)
    seed_canary(engine, 4000, weight=0.5, champ_conversion=0.05, chal_conversion=0.15)
    ev = collect_evidence(engine, window())
    up = {"check": "business", "event": "conversion", "margin": 0.01}
    down = {**up, "higher_is_better": False}
    better = evaluate_gate(step(checks=[up], weight=0.5), ev, elapsed_s=1).checks[0]
    worse = evaluate_gate(step(checks=[down], weight=0.5), ev, elapsed_s=1).checks[0]
    assert better.status == "pass" and worse.status == "fail"
    assert worse.value == pytest.approx(-better.value)


def test_module_doctests_pass():
    import doctest

    from accuguard.rollout import comparisons, queries

    for module in (comparisons, queries):
        assert doctest.testmod(module).failed == 0
