"""The numeric column profile: chunked merge equals one pass; Arrow types; sketch switch."""

import datetime as dt
import decimal
import importlib.util
import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accuguard.profile.columns import profile_column
from accuguard.profile.numeric import NumericColumnProfile

needs_sketch = pytest.mark.skipif(
    importlib.util.find_spec("datasketches") is None,
    reason="the KLL sketch needs the datasketches package",
)


def _profile_streamed(array: pa.Array, size: int):
    parts = [profile_column(array.slice(i, size), "numeric") for i in range(0, len(array), size)]
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


finite_or_special = st.one_of(
    st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0]),
    st.none(),
)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(finite_or_special, min_size=1, max_size=200), size=st.integers(1, 50))
def test_numeric_profile_of_chunks_equals_one_pass(values, size):
    array = pa.array(values, type=pa.float64())
    whole = profile_column(array, "numeric")
    merged = _profile_streamed(array, size)
    x = np.array([np.nan if v is None else v for v in values], dtype=float)
    finite = x[np.isfinite(x)]
    for p in (whole, merged):
        assert (p.rows, p.nulls, p.count) == (len(values), values.count(None), finite.size)
        assert p.nans == int(np.isnan(x).sum()) - values.count(None)
        assert (p.pos_inf, p.neg_inf) == (int((x == np.inf).sum()), int((x == -np.inf).sum()))
        assert p.sorted_values().tolist() == np.sort(finite).tolist()
        if finite.size:
            assert (p.min, p.max) == (finite.min(), finite.max())
            assert p.mean == pytest.approx(finite.mean(), rel=1e-9, abs=1e-6)
            assert p.std == pytest.approx(np.std(finite), rel=1e-6, abs=1e-3)
        else:
            assert math.isnan(p.min) and math.isnan(p.std)


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (pa.array([1, None, -3], pa.int32()), [-3.0, 1.0]),
        (pa.array([1.5, None], pa.float32()), [1.5]),
        (pa.array([True, False, None]), [0.0, 1.0]),
        (pa.array([decimal.Decimal("1.25"), None], pa.decimal128(5, 2)), [1.25]),
        (pa.array([dt.date(1970, 1, 3), None]), [2.0]),
        (pa.array([dt.datetime(1970, 1, 1, 0, 0, 1)], pa.timestamp("s")), [1.0]),
        (pa.array([7, 7, 2]).dictionary_encode(), [2.0, 7.0, 7.0]),
        (pa.chunked_array([pa.array([2.0]), pa.array([1.0, None])]), [1.0, 2.0]),
    ],
)
def test_numeric_profile_reads_arrow_numeric_and_temporal_types(array, expected):
    profile = NumericColumnProfile.from_arrow(array)
    assert profile.sorted_values().tolist() == expected
    assert profile.rows == len(array)


def test_numeric_profile_rejects_strings():
    with pytest.raises(ValueError, match="cannot profile an Arrow column of type string"):
        profile_column(pa.array(["a"]), "numeric")


def test_sorting_leaves_the_callers_array_alone_and_merges_chunks():
    values = np.array([3.0, 1.0, 2.0])
    profile = NumericColumnProfile.from_array(values) + NumericColumnProfile.from_array(values)
    assert profile.sorted_values().tolist() == [1.0, 1.0, 2.0, 2.0, 3.0, 3.0]
    assert values.tolist() == [3.0, 1.0, 2.0]
    assert len(profile.values) == 1


@needs_sketch
def test_numeric_profile_switches_to_a_sketch_beyond_the_exact_limit():
    a = NumericColumnProfile.from_array(np.arange(600.0), exact_limit=1000)
    b = NumericColumnProfile.from_array(np.arange(600.0, 1200.0), exact_limit=1000)
    merged = a + b
    assert a.is_exact and not merged.is_exact and merged.values == ()
    assert merged.sketch.n == 1200 and merged.count == 1200
    assert merged.histogram(np.array([0.0, 600.0, 1199.0])).tolist() == [600.0, 600.0]
    with pytest.raises(ValueError, match="exact values were dropped after 1000 values"):
        merged.sorted_values()


def test_histogram_and_quantiles_match_numpy():
    rng = np.random.default_rng(2)
    x = rng.gamma(2.0, size=5000)
    profile = _profile_streamed(pa.array(x), 700)
    edges = np.linspace(0.5, 6.0, 12)
    assert profile.histogram(edges).tolist() == np.histogram(x, edges)[0].astype(float).tolist()
    qs = np.array([0.0, 0.1, 0.5, 0.99, 1.0])
    assert profile.quantiles(qs).tolist() == np.quantile(x, qs).tolist()
    with pytest.raises(ValueError, match="edges must be 1-D, ascending"):
        profile.histogram(np.array([2.0, 1.0]))


def test_profiles_survive_pickling_before_and_after_sorting():
    import pickle

    profile = NumericColumnProfile.from_array(np.array([3.0, 1.0, 2.0]))
    assert pickle.loads(pickle.dumps(profile)).sorted_values().tolist() == [1.0, 2.0, 3.0]
    profile.sorted_values()
    copy = pickle.loads(pickle.dumps(profile))
    assert (copy.count, copy.sorted_values().tolist()) == (3, [1.0, 2.0, 3.0])


@needs_sketch
def test_sketched_profiles_survive_pickling():
    import pickle

    profile = NumericColumnProfile.from_array(np.arange(5000.0), exact_limit=100)
    copy = pickle.loads(pickle.dumps(profile))
    assert copy.sketch.n == 5000 and (copy + profile).sketch.n == 10_000
    assert copy.quantiles(np.array([0.5])).tolist() == profile.quantiles(np.array([0.5])).tolist()
