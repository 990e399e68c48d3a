"""Benchmark: ``accuguard validate --engine ray`` against the local engine, same data.

    .venv/bin/python bench/validate_ray.py                      # 1M rows, 4 files a side
    .venv/bin/python bench/validate_ray.py --rows 2000000 --files 8 --repeats 5

Data: ``bench/_validate_data.py`` (20 numeric + 5 categorical columns, seeded), each side
split into ``--files`` Parquet files in a directory (bench/data/). Both engines run in this
process through the Python API (``accuguard.validate.pipeline.validate``), after one warm-up
run each; the local Ray instance (``ray.init(num_cpus=--ray-cpus)``) is started before
timing and its start-up is printed separately. Prints the median wall time of each engine,
the ratio ray / local, whether the two reports are identical (everything but
``created_at``), and the size of what the Ray tasks send back (pickled partial profiles)
against the Arrow size of the columns they read. Exit 1 if the reports differ.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _validate_data import ensure_frames

DATA = Path(__file__).resolve().parent / "data"


def split(path: Path, files: int, out: Path) -> Path:
    """Write ``path``'s rows into ``files`` Parquet files under ``out`` (reused if present)."""
    if out.exists() and len(list(out.glob("*.parquet"))) == files:
        return out
    out.mkdir(parents=True, exist_ok=True)
    table = pq.read_table(path)
    step = -(-table.num_rows // files)
    for i in range(files):
        pq.write_table(table.slice(i * step, step), out / f"part-{i:03d}.parquet")
    return out


def run(engine: str, ref: Path, cur: Path) -> tuple[float, dict[str, object]]:
    """Wall time of one validation and its report (without ``created_at``)."""
    from accuguard.validate.pipeline import validate

    start = time.perf_counter()
    report = validate(ref, cur, engine=engine)
    elapsed = time.perf_counter() - start
    data = json.loads(report.to_json())
    data.pop("created_at")
    return elapsed, data


def shard_sizes(ref: Path, exact_limit: int) -> tuple[int, int, int]:
    """(tasks, bytes sent back by all tasks, Arrow bytes of the columns they read) for the
    reference side, first column group."""
    from accuguard.validate.config import ValidationConfig
    from accuguard.validate.engine_ray import plan_tasks, profile_shard
    from accuguard.validate.schema import plan_columns
    from accuguard.validate.sources import open_source

    with open_source(ref) as source:
        kinds = plan_columns(source.schema, source.schema, ValidationConfig(), exclude=set())
        group = list(kinds.compared)
        tasks = plan_tasks(source, "reference", group, [], kinds.compared, exact_limit)
        sent = sum(len(pickle.dumps(profile_shard(t), protocol=5)) for t in tasks)
        read = sum(b.nbytes for b in source.iter_batches(group))
    return len(tasks), sent, read


def main() -> int:
    """Run the benchmark; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ray-cpus", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    ref_file, cur_file = ensure_frames(DATA, args.rows, args.seed)
    stem = f"{args.rows}_s{args.seed}_f{args.files}"
    ref = split(ref_file, args.files, DATA / f"ray_reference_{stem}")
    cur = split(cur_file, args.files, DATA / f"ray_current_{stem}")

    import ray

    start = time.perf_counter()
    ray.init(num_cpus=args.ray_cpus, include_dashboard=False, logging_level="ERROR")
    print(f"ray.init(num_cpus={args.ray_cpus}): {time.perf_counter() - start:.1f} s (not timed)")
    times: dict[str, list[float]] = {"local": [], "ray": []}
    reports: dict[str, dict[str, object]] = {}
    for engine in times:
        _, reports[engine] = run(engine, ref, cur)  # warm-up (imports, Ray workers)
    for _ in range(args.repeats):
        for engine, samples in times.items():
            elapsed, reports[engine] = run(engine, ref, cur)
            samples.append(elapsed)
    ray.shutdown()

    local, distributed = (statistics.median(times[e]) for e in ("local", "ray"))
    same = reports["local"] == reports["ray"]
    print(f"data: {args.rows:,} rows a side in {args.files} files, 25 columns")
    print(f"CPUs: {os.cpu_count()}; repeats: {args.repeats} (after one warm-up run each)")
    for engine, median in (("local", local), ("ray", distributed)):
        print(f"{engine} engine: median {median:.2f} s  {[round(t, 2) for t in times[engine]]}")
    print(f"ratio ray / local: {distributed / local:.2f}")
    print(f"reports identical: {same}")
    for limit in (10_000_000, 100_000):
        tasks, sent, read = shard_sizes(ref, limit)
        print(
            f"reference side, exact_limit {limit:,}: {tasks} tasks sent {sent / 1e6:.1f} MB "
            f"of partial profiles for {read / 1e6:.1f} MB of Arrow columns read "
            f"({sent / read:.3f}x)"
        )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
