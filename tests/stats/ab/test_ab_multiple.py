"""Holm and Benjamini-Hochberg equal statsmodels' multipletests."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from accuguard.stats.ab import adjust, benjamini_hochberg, holm

pvals = st.lists(st.floats(0.0, 1.0), min_size=1, max_size=30)


@settings(max_examples=30, deadline=None)  # statsmodels' holm takes ~25 ms a call
@given(pvals)
def test_holm_equals_statsmodels(p):
    ref = multipletests(p, method="holm")[1]
    np.testing.assert_allclose(holm(p), ref, rtol=1e-12, atol=1e-15)


@settings(max_examples=100, deadline=None)
@given(pvals)
def test_bh_equals_statsmodels(p):
    ref = multipletests(p, method="fdr_bh")[1]
    np.testing.assert_allclose(benjamini_hochberg(p), ref, rtol=1e-12, atol=1e-15)


def test_nan_stays_nan_and_does_not_count():
    out = holm([0.01, np.nan, 0.04])
    assert np.isnan(out[1])
    np.testing.assert_allclose(out[[0, 2]], multipletests([0.01, 0.04], method="holm")[1])


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="method must be one of"):
        adjust([0.1], "bonferroni")
    with pytest.raises(ValueError, match=r"pvalues must be in \[0, 1\]"):
        holm([0.1, 1.5])
    with pytest.raises(ValueError, match="pvalues must be one-dimensional"):
        holm([[0.1]])
