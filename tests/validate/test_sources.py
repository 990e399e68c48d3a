import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from accuguard.errors import DataError
from accuguard.validate.sources import open_source


def test_csv_is_read_like_parquet_with_column_projection(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,b,c\n1,x,2.5\n2,y,\n3,x,1.0\n")
    with open_source(path) as src:
        assert src.columns == ["a", "b", "c"]
        assert src.num_rows == 3
        batches = list(src.iter_batches(["c"]))
    table = pa.Table.from_batches(batches)
    assert table.column_names == ["c"]
    assert table.column("c").to_pylist() == [2.5, None, 1.0]


def test_parquet_rows_come_from_the_footer(tmp_path):
    path = tmp_path / "data.parquet"
    pq.write_table(pa.table({"x": list(range(10))}), path, row_group_size=3)
    with open_source(path) as src:
        assert src.num_rows == 10
        assert sum(b.num_rows for b in src.iter_batches(["x"], batch_rows=4)) == 10


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match=r"nope\.parquet: reference file not found"):
        open_source(tmp_path / "nope.parquet", "reference")


def test_empty_file_is_named(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(DataError, match=r"empty\.csv: current file is empty"):
        open_source(path, "current")


def test_header_only_csv_has_no_rows(tmp_path):
    path = tmp_path / "head.csv"
    path.write_text("a,b\n")
    with pytest.raises(DataError, match="has no rows"):
        open_source(path)


def test_unknown_extension_lists_supported_types(tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(DataError, match=r"unsupported data file type; expected one of \.parquet"):
        open_source(path)


def test_corrupt_parquet_is_a_data_error(tmp_path):
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match=r"bad\.parquet: cannot read data file as Parquet"):
        open_source(path)


def test_csv_whose_type_changes_midway_names_the_column(tmp_path, monkeypatch):
    monkeypatch.setattr("accuguard.validate.sources.CSV_BLOCK_BYTES", 4096)
    path = tmp_path / "mixed.csv"
    rows = ["n"] + [str(i) for i in range(20_000)] + ["oops"]
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(
        DataError, match=r"mixed\.csv: cannot parse data CSV: column 'n': .*invalid value 'oops'"
    ):
        open_source(path)


def test_low_cardinality_strings_come_as_dictionaries_with_the_same_values(tmp_path):
    import numpy as np

    ids = [f"user-{i:09d}" for i in range(50_000)]
    levels = np.random.default_rng(0).choice(["a", "b", "c"], 50_000).tolist()
    pq.write_table(pa.table({"id": ids, "level": levels}), tmp_path / "t.parquet")
    with open_source(tmp_path / "t.parquet") as source:
        (plain,) = source.iter_batches(["id", "level"], batch_rows=50_000)
        (coded,) = source.iter_batches(
            ["id", "level"], batch_rows=50_000, strings_as_dictionary=True
        )
    assert pa.types.is_dictionary(coded.schema.field("level").type)
    assert pa.types.is_string(coded.schema.field("id").type)  # an identifier stays plain
    assert coded.column("level").to_pylist() == plain.column("level").to_pylist() == levels
    assert coded.column("id").to_pylist() == ids
