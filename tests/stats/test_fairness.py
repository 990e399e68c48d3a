"""Segment gaps against a direct numpy group-by computation."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accuguard.stats.fairness import (
    SegmentGap,
    demographic_parity_difference,
    equal_opportunity_difference,
    largest_gap,
)

values = st.dictionaries(
    st.text(min_size=1, max_size=3), st.one_of(st.floats(0, 1), st.just(math.nan)), max_size=8
)


@settings(max_examples=100, deadline=None)
@given(values)
def test_largest_gap_is_max_minus_min_of_defined_segments(vals):
    g = largest_gap(vals, "recall")
    defined = {k: v for k, v in vals.items() if not math.isnan(v)}
    if not defined:
        assert math.isnan(g.gap) and g.max_segment == "" and g.min_segment == ""
        return
    assert g.gap == max(defined.values()) - min(defined.values())
    assert defined[g.max_segment] == g.max_value == max(defined.values())
    assert defined[g.min_segment] == g.min_value == min(defined.values())
    assert g.metric == "recall"


def _group_rates(groups, numerator, mask):
    return {
        g: float(numerator[(groups == g) & mask].mean())
        if np.any((groups == g) & mask)
        else math.nan
        for g in np.unique(groups)
    }


def test_demographic_parity_and_equal_opportunity_equal_a_direct_group_computation():
    rng = np.random.default_rng(0)
    groups = rng.choice(np.array(["a", "b", "c", "d"]), size=5000, p=[0.4, 0.3, 0.2, 0.1])
    y = (rng.random(5000) < np.where(groups == "b", 0.5, 0.3)).astype(int)
    y_pred = (rng.random(5000) < np.where(groups == "c", 0.45, 0.35)).astype(int)
    selection = _group_rates(groups, y_pred, np.ones_like(y, dtype=bool))
    tpr = _group_rates(groups, y_pred, y == 1)
    dp = demographic_parity_difference(selection)
    eo = equal_opportunity_difference(tpr)
    assert dp.gap == pytest.approx(max(selection.values()) - min(selection.values()), abs=1e-15)
    assert eo.gap == pytest.approx(max(tpr.values()) - min(tpr.values()), abs=1e-15)
    assert dp.metric == "demographic_parity_difference"
    assert eo.metric == "equal_opportunity_difference"


def test_ties_are_broken_by_segment_name():
    g = largest_gap({"z": 0.5, "b": 0.9, "a": 0.9, "y": 0.5}, "accuracy")
    assert (g.max_segment, g.min_segment) == ("a", "y")


def test_single_segment_has_zero_gap():
    assert largest_gap({"only": 0.7}, "f1") == SegmentGap("f1", "only", 0.7, "only", 0.7, 0.0)


def test_non_numeric_value_is_refused_naming_the_segment():
    with pytest.raises(ValueError, match=r"values\['x'\] must be a number, got 'high'"):
        largest_gap({"x": "high"}, "recall")
