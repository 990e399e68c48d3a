"""The Ray engine gives the local engine's results: partial profiles merged bit for bit,
full reports equal on a local Ray instance, and clear errors for bad engine options."""

from __future__ import annotations

import json
import socket

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from accuguard.cli import main
from accuguard.errors import ConfigError, DataError
from accuguard.profile.columns import NumericColumnProfile, profile_column
from accuguard.validate import sources
from accuguard.validate.columns import _RowHasher
from accuguard.validate.engine_ray import merge_shards, plan_tasks, profile_shard
from accuguard.validate.pipeline import validate
from accuguard.validate.sources import open_source

from .conftest import make_frames

KINDS = {"x": "numeric", "n": "numeric", "c": "categorical"}


def _messy_table(n: int, seed: int) -> pa.Table:
    """Numbers with nulls, NaN, ±inf and a wide range (so summation order shows), strings."""
    rng = np.random.default_rng(seed)
    x = rng.lognormal(0, 3, n) * rng.choice([-1.0, 1.0], n)
    x[rng.random(n) < 0.01] = np.nan
    x[rng.random(n) < 0.005] = np.inf
    mask = rng.random(n) < 0.02
    ints = rng.integers(-1000, 1000, n)
    cats = rng.choice(["a", "b", "c", "d", None], n).tolist()
    return pa.table(
        {
            "x": pa.array(x, mask=mask),
            "n": pa.array(ints, pa.int32()),
            "c": pa.array(cats, pa.string()),
            "id": pa.array(np.arange(n) % 900),  # not profiled: hashed only
        }
    )


@pytest.fixture
def small_batches(monkeypatch):
    """Batches of 1,000 rows, so a few thousand rows make many runs and tasks."""
    monkeypatch.setattr(sources, "DEFAULT_BATCH_ROWS", 1_000)


@pytest.fixture
def dataset_dir(tmp_path):
    """Three files with different row-group sizes; the last repeats rows of the first."""
    d = tmp_path / "ds"
    d.mkdir()
    first = _messy_table(4_500, 1)
    pq.write_table(first, d / "part-0.parquet", row_group_size=700)
    pq.write_table(_messy_table(3_000, 2), d / "part-1.parquet", row_group_size=1_500)
    pq.write_table(first.slice(100, 800), d / "part-2.parquet", row_group_size=5_000)
    (d / "_SUCCESS").write_text("")
    return d


def _local_profiles(source, group, kinds, limit):
    profiles = {}
    for batch in source.iter_batches(group, strings_as_dictionary=True):
        for name in group:
            part = profile_column(batch.column(name), kinds[name], limit)
            profiles[name] = part if name not in profiles else profiles[name] + part
    return profiles


def _sharded_profiles(source, group, kinds, limit):
    tasks = plan_tasks(source, "reference", group, [], kinds, limit)
    shards = [profile_shard(t) for t in tasks]
    return tasks, shards, merge_shards(shards, group, kinds, limit)


def _numbers(p: NumericColumnProfile) -> tuple:
    return (p.rows, p.nulls, p.nans, p.pos_inf, p.neg_inf, p.count, p.min, p.max, p.mean, p.m2)


def test_merged_shards_equal_the_local_fold_bit_for_bit(dataset_dir, small_batches):
    with open_source(dataset_dir) as source:
        local = _local_profiles(source, list(KINDS), KINDS, 10**7)
        tasks, _, merged = _sharded_profiles(source, list(KINDS), KINDS, 10**7)
    assert len(tasks) > len(source.files)  # several tasks per file
    for name in ("x", "n"):
        assert _numbers(merged[name]) == _numbers(local[name])  # == on floats: same bits
        assert merged[name].is_exact
        np.testing.assert_array_equal(merged[name].sorted_values(), local[name].sorted_values())
    assert merged["c"].counts == local["c"].counts and merged["c"].nulls == local["c"].nulls
    # the order matters on this data: merging the same chunks as a pairwise tree changes
    # the last bits of the mean, so the equality above is not a coincidence
    with open_source(dataset_dir) as source:
        batches = source.iter_batches(list(KINDS), strings_as_dictionary=True)
        parts = [profile_column(b.column("x"), "numeric") for b in batches]
    while len(parts) > 1:
        parts = [sum(parts[i : i + 2][1:], parts[i]) for i in range(0, len(parts), 2)]
    assert parts[0].mean != local["x"].mean


def test_shard_row_hashes_fold_to_the_local_duplicate_count(dataset_dir, small_batches):
    columns = ["x", "n", "c", "id"]
    with open_source(dataset_dir) as source:
        local = _RowHasher(source.num_rows)
        offset = 0
        for batch in source.iter_batches(columns, strings_as_dictionary=True):
            local.fold(offset, batch)
            offset += batch.num_rows
        tasks = plan_tasks(source, "current", ["x", "n"], ["c", "id"], KINDS, 10**7)
        sharded = _RowHasher(source.num_rows)
        for task in tasks:
            sharded.fold_hashes(task.offset, profile_shard(task).hashes)
    np.testing.assert_array_equal(sharded.hashes, local.hashes)
    assert sharded.duplicates() == local.duplicates() >= 800  # part-2 repeats part-0


def test_beyond_the_exact_limit_both_sketch_with_the_same_counts_and_moments(
    dataset_dir, small_batches
):
    with open_source(dataset_dir) as source:
        local = _local_profiles(source, ["x"], KINDS, 1_000)["x"]
        _, shards, merged_all = _sharded_profiles(source, ["x"], KINDS, 1_000)
    merged = merged_all["x"]
    assert not local.is_exact and not merged.is_exact
    assert _numbers(merged) == _numbers(local)
    assert all(sum(v.size for v in s.numeric["x"].values) <= 1_000 for s in shards)
    exact = np.sort(np.concatenate([v for s in shards for v in s.numeric["x"].values] or [[]]))
    assert exact.size < local.count  # the tasks sent sketches, not all their values
    qs = np.array([0.1, 0.5, 0.9])
    ranks_local = local.rank(merged.quantiles(qs)) / local.count
    assert np.all(np.abs(ranks_local - qs) < 0.02)


def test_a_directory_with_different_columns_names_the_file(tmp_path):
    pq.write_table(pa.table({"a": [1, 2]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"a": ["x", "y"]}), tmp_path / "b.parquet")
    with pytest.raises(DataError, match=r"b\.parquet: data file's columns differ"):
        open_source(tmp_path)


def test_an_unknown_engine_is_an_error_naming_the_option(tmp_path):
    with pytest.raises(ConfigError, match=r"--engine: expected one of local, ray; got 'spark'"):
        validate(tmp_path / "r.parquet", tmp_path / "c.parquet", engine="spark")


# --- on a local Ray instance (one per module; run with --dist loadgroup to keep it at one
# per pytest run under xdist) ------------------------------------------------------------


@pytest.fixture(scope="module")
def ray_instance():
    ray = pytest.importorskip("ray", reason="pip install 'accuguard[ray]' to test the Ray engine")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


def _report(ref, cur, **kwargs) -> dict:
    report = json.loads(validate(ref, cur, **kwargs).to_json())
    report.pop("created_at")
    return report


@pytest.mark.xdist_group("ray")
def test_ray_report_equals_the_local_report(ray_instance, tmp_path, small_batches):
    frames = make_frames(6_000, seed=3)
    ref_dir, cur = tmp_path / "ref", tmp_path / "cur.parquet"
    ref_dir.mkdir()
    ref, current = pa.table(frames[0]), pa.table(frames[1])
    pq.write_table(ref.slice(0, 2_500), ref_dir / "a.parquet", row_group_size=600)
    pq.write_table(ref.slice(2_500), ref_dir / "b.parquet", row_group_size=2_000)
    pq.write_table(pa.concat_tables([current, current.slice(0, 300)]), cur, row_group_size=900)
    kwargs = {"target": "label", "prediction": "pred", "score": "score"}
    local = _report(ref_dir, cur, **kwargs)
    distributed = _report(ref_dir, cur, engine="ray", **kwargs)
    assert distributed == local
    assert local["quality"]["duplicates"]["current"] == 300
    assert {c for c, d in local["drift"]["columns"].items() if d["drifted"]} == {"x2", "x5", "c1"}


@pytest.mark.xdist_group("ray")
def test_ray_report_equals_the_local_report_for_csv_files(ray_instance, tmp_path):
    frames = make_frames(3_000, seed=5)
    for name, frame in zip(("ref", "cur"), frames, strict=True):
        (tmp_path / name).mkdir()
        table = pa.table(frame)
        pacsv.write_csv(table.slice(0, 1_000), tmp_path / name / "1.csv")
        pacsv.write_csv(table.slice(1_000), tmp_path / name / "2.csv")
    local = _report(tmp_path / "ref", tmp_path / "cur")
    assert _report(tmp_path / "ref", tmp_path / "cur", engine="ray") == local


def _run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return exc.value.code, capsys.readouterr().err


@pytest.mark.xdist_group("ray")
def test_cli_engine_ray_writes_the_local_report(ray_instance, parquet_pair, tmp_path, capsys):
    reports = {}
    for engine in ("local", "ray"):
        out = tmp_path / f"{engine}.json"
        argv = ["validate", "-r", str(parquet_pair[0]), "-c", str(parquet_pair[1])]
        code, _ = _run([*argv, "--engine", engine, "-q", "-o", str(out)], capsys)
        assert code == 0
        reports[engine] = json.loads(out.read_text())
        reports[engine].pop("created_at")
    assert reports["ray"] == reports["local"]


@pytest.mark.xdist_group("ray")
def test_cli_bad_engine_or_unreachable_address_exits_2_naming_the_option(
    parquet_pair, tmp_path, capsys
):
    base = ["validate", "-r", str(parquet_pair[0]), "-c", str(parquet_pair[1]), "-q"]
    code, err = _run([*base, "--engine", "spark"], capsys)
    assert code == 2 and "--engine" in err
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, err = _run([*base, "--engine", "ray", "--ray-address", f"127.0.0.1:{port}"], capsys)
    assert code == 2 and "--ray-address" in err and "cannot reach" in err
    code, err = _run([*base, "--ray-address", "127.0.0.1:6379"], capsys)
    assert code == 2 and "--ray-address needs --engine ray" in err


def test_cli_without_ray_installed_exits_2_saying_how_to_install(parquet_pair, capsys, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "ray", None)  # import ray -> ImportError
    argv = ["validate", "-r", str(parquet_pair[0]), "-c", str(parquet_pair[1]), "-q"]
    code, err = _run([*argv, "--engine", "ray"], capsys)
    assert code == 2 and "--engine ray needs the 'ray' package" in err and "pip install" in err


def test_an_unreachable_ray_address_env_is_named(parquet_pair, capsys, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")
    argv = ["validate", "-r", str(parquet_pair[0]), "-c", str(parquet_pair[1]), "-q"]
    code, err = _run([*argv, "--engine", "ray"], capsys)
    assert code == 2 and "$RAY_ADDRESS" in err and "cannot reach" in err
