"""Row hashes and duplicate counting against pandas ``DataFrame.duplicated``."""

import datetime as dt
import decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accuguard.profile.rowhash import DuplicateCounter, column_hash, count_duplicates, row_hashes


def _mixed_table(n: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    words = np.array(
        [
            "",
            "a",
            "a\x00",
            "abcdefgh",
            "abcdefgh\x00",
            "abcdefghi",
            "a somewhat longer value here",
            "ü",
        ]
    )
    floats = rng.choice([0.0, -0.0, 1.5, np.nan, -2.25], n)
    strings = pa.array(rng.choice(words, n), mask=rng.random(n) < 0.1)
    return pa.table(
        {
            "i": pa.array(rng.integers(0, 4, n), mask=rng.random(n) < 0.1),
            "f": pa.array(floats),
            "s": strings,
            "d": pa.array(rng.choice(["x", "y"], n)).dictionary_encode(),
            "b": pa.array(rng.random(n) < 0.5),
        }
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_duplicates_equal_pandas_duplicated(seed):
    table = _mixed_table(5_000, seed)
    expected = int(table.to_pandas().duplicated().sum())
    assert count_duplicates(row_hashes(table)) == expected
    counter = sum(
        (DuplicateCounter.from_batch(b) for b in table.to_batches(max_chunksize=333)),
        DuplicateCounter(),
    )
    assert (counter.rows, counter.duplicates) == (5_000, expected)
    assert counter.duplicate_share == pytest.approx(expected / 5_000)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers(-3, 3)), st.one_of(st.none(), st.text(max_size=20))
        ),
        min_size=1,
        max_size=60,
    ),
    cut=st.integers(0, 60),
)
def test_row_hashes_are_stable_across_chunks(rows, cut):
    table = pa.table(
        {
            "i": pa.array([r[0] for r in rows], pa.int64()),
            "s": pa.array([r[1] for r in rows], pa.string()),
        }
    )
    whole = row_hashes(table)
    cut = min(cut, len(rows))
    parts = np.concatenate([row_hashes(table.slice(0, cut)), row_hashes(table.slice(cut))])
    assert whole.tolist() == parts.tolist()
    expected = int(pd.DataFrame(rows).duplicated().sum())
    assert count_duplicates(whole) == expected


def test_hash_depends_on_values_not_on_encoding():
    values = ["alpha", None, "beta", "alpha", "a much longer string than sixteen bytes"] * 300
    plain = column_hash(pa.array(values))
    assert plain.tolist() == column_hash(pa.array(values).dictionary_encode()).tolist()
    assert plain.tolist() == column_hash(pa.array(values, pa.large_string())).tolist()
    assert plain.tolist() == column_hash(pa.array(values, pa.string_view())).tolist()
    chunked = pa.chunked_array(
        [pa.array(values[:7]).dictionary_encode(), pa.array(values[7:]).dictionary_encode()]
    )
    assert plain.tolist() == column_hash(chunked).tolist()


def test_strings_differing_only_in_padding_or_order_hash_differently():
    values = ["", "\x00", "ab", "ba", "abcdefgh", "abcdefgh\x00", "x" * 8 + "y", "y" + "x" * 8]
    assert len(set(column_hash(pa.array(values)).tolist())) == len(values)


def test_null_is_distinct_from_zero_empty_and_nan():
    assert len(set(column_hash(pa.array([None, 0.0, np.nan], pa.float64())).tolist())) == 3
    assert len(set(column_hash(pa.array([None, ""])).tolist())) == 2


@pytest.mark.parametrize(
    "array",
    [
        pa.array([decimal.Decimal("1.10"), decimal.Decimal("2.00"), decimal.Decimal("1.10"), None]),
        pa.array([dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2), dt.datetime(2024, 1, 1), None]),
        pa.array([dt.date(2024, 1, 1), dt.date(2024, 1, 2), dt.date(2024, 1, 1), None]),
        pa.array([[1, 2], [2, 1], [1, 2], None]),
        pa.array([b"ab", b"ba", b"ab", None], pa.binary(2)),
        pa.array([None, None, None, None], pa.null()),
    ],
)
def test_other_types_hash_equal_values_equally(array):
    h = column_hash(array)
    assert h[0] == h[2]
    if array.type != pa.null():
        assert len({h[0], h[1], h[3]}) == 3


def test_row_hashes_reject_missing_columns():
    with pytest.raises(ValueError, match=r"columns \['nope'\] not in the batch"):
        row_hashes(pa.table({"a": [1]}), ["nope"])


def test_count_duplicates_of_nothing_is_zero():
    assert count_duplicates(np.zeros(0, dtype=np.uint64)) == 0
    assert np.isnan(DuplicateCounter().duplicate_share)
