"""Arrow buffer views against ``to_pylist``, for sliced arrays with nulls."""

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accuguard.profile._buffers import validity, values

TYPES = [pa.int8(), pa.int32(), pa.uint64(), pa.float32(), pa.float64(), pa.bool_()]


@settings(max_examples=80, deadline=None)
@given(
    items=st.lists(st.one_of(st.none(), st.integers(0, 100)), min_size=1, max_size=70),
    start=st.integers(0, 69),
    type_index=st.integers(0, len(TYPES) - 1),
)
def test_values_and_validity_of_a_slice_match_to_pylist(items, start, type_index):
    t = TYPES[type_index]
    data = [None if v is None else (v % 2 == 0 if t == pa.bool_() else v) for v in items]
    sliced = pa.array(data, t).slice(min(start, len(items)))
    expected = sliced.to_pylist()
    valid = validity(sliced)
    mask = np.ones(len(sliced), bool) if valid is None else valid
    assert mask.tolist() == [v is not None for v in expected]
    got = values(sliced)[mask].tolist()
    assert got == [v for v in expected if v is not None]


def test_values_rejects_non_primitive_types():
    with pytest.raises(ValueError, match="needs an integer, float or boolean array; got string"):
        values(pa.array(["a"]))


def test_profiling_and_hashing_a_parquet_batch_do_not_import_pandas(tmp_path):
    """``Array.to_numpy`` imports pandas (seconds in a fresh process); profiles avoid it."""
    import subprocess
    import sys

    import pyarrow.parquet as pq

    path = tmp_path / "t.parquet"
    pq.write_table(
        pa.table(
            {
                "x": pa.array([1.5, None, 3.0]),
                "i": pa.array([1, None, 3]),
                "b": pa.array([True, None, False]),
                "s": pa.array(["a", None, "b"]).dictionary_encode(),
            }
        ),
        path,
    )
    code = f"""
import sys
import pyarrow.parquet as pq
from accuguard.profile.columns import drift_between, profile_column, quality_between
from accuguard.profile.rowhash import DuplicateCounter
batch = next(pq.ParquetFile({str(path)!r}).iter_batches())
for name, kind in (("x", "numeric"), ("i", "numeric"), ("b", "categorical"), ("s", "categorical")):
    p = profile_column(batch.column(name), kind)
    drift_between(p, p), quality_between(p, p)
DuplicateCounter.from_batch(batch).duplicates
assert "pandas" not in sys.modules, "pandas was imported"
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
