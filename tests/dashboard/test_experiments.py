"""The experiment page's analysis from SQL sums, against scipy and statsmodels on the
per-unit values computed in pandas from the same seeded rows."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.power import NormalIndPower, TTestIndPower
from statsmodels.stats.proportion import proportion_effectsize

from accuguard.dashboard import queries
from accuguard.dashboard.experiments import analyse, is_proportion
from tests.dashboard.seed import DAY, T0

SPLIT = {"champion": 2.0, "b": 1.0}


def per_unit(rows):
    df = pd.DataFrame(rows.predictions)
    df = df[df.deployment == "shop"]
    exposure = df.groupby("unit_hash").agg(
        variant=("variant", "first"), first=("created_at", "min")
    )
    events = pd.DataFrame(rows.events).merge(exposure, left_on="unit_hash", right_index=True)
    events = events[events.created_at >= events["first"]]
    totals = events.pivot_table(index="unit_hash", columns="name", values="value", aggfunc="sum")
    return exposure.join(totals).fillna(0.0)


@pytest.fixture(scope="module")
def analysed(engine):
    with engine.connect() as conn:
        units, sums = queries.experiment_sums(conn, "shop", list(SPLIT), T0, T0 + 3 * DAY)
    return units, sums, analyse("shop", units, sums, SPLIT, mde=0.05)


def test_srm_is_a_chi_square_test_of_units_against_the_split(analysed, rows):
    units, _, (report, _) = analysed
    observed = [units["champion"], units["b"]]
    expected = [sum(observed) * 2 / 3, sum(observed) / 3]
    assert report.srm.p_value == pytest.approx(stats.chisquare(observed, expected).pvalue)
    assert not report.srm.flagged and report.trustworthy


def test_lifts_and_kinds_match_per_unit_values(analysed, rows):
    _, sums, (report, _) = analysed
    values = per_unit(rows)
    assert is_proportion(sums["conversion"]) and not is_proportion(sums["revenue"])
    by_name = {m.name: m for m in report.metrics}
    assert (by_name["conversion"].kind, by_name["revenue"].kind) == ("proportion", "mean")
    for name, metric in by_name.items():
        means = values.groupby("variant")[name].mean()
        arm = metric.arms[0]
        assert arm.variant == "b"
        assert metric.control_mean == pytest.approx(means["champion"])
        assert arm.mean == pytest.approx(means["b"])
        assert arm.rel_diff.estimate == pytest.approx(means["b"] / means["champion"] - 1)
        assert arm.rel_diff.lower < arm.rel_diff.estimate < arm.rel_diff.upper
    assert report.settings.sequential  # always-valid intervals on a dashboard


def test_planned_sample_sizes_match_statsmodels(analysed, rows):
    _, _, (_, plans) = analysed
    values = per_unit(rows)
    control = values[values.variant == "champion"]
    p = control.conversion.mean()
    want = NormalIndPower().solve_power(proportion_effectsize(p * 1.05, p), alpha=0.05, power=0.8)
    plan = {x.metric: x for x in plans}
    assert plan["conversion"].per_arm == math.ceil(want)
    revenue = control.revenue
    d = revenue.mean() * 0.05 / revenue.std(ddof=1)
    want = TTestIndPower().solve_power(d, alpha=0.05, power=0.8)
    assert plan["revenue"].per_arm == pytest.approx(math.ceil(want), abs=1)
    reached = min(analysed[0].values())
    assert plan["revenue"].share == pytest.approx(reached / plan["revenue"].per_arm)


def test_no_report_without_units_in_the_control_and_a_treatment():
    report, plans = analyse("shop", {"champion": 10, "b": 0}, {}, SPLIT)
    assert report is None and plans == []
