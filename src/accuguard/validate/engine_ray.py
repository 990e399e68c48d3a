"""The Ray engine: the column pass of ``accuguard validate --engine ray`` as Ray tasks.

Each task profiles one *run* of a Parquet file (consecutive row groups, see
:mod:`accuguard.validate.sources`) or one whole CSV file, for one group of columns, and
returns a partial profile; the driver merges them in file order and runs the comparisons.
The result equals the local engine's (:func:`accuguard.validate.columns.run_column_pass`):

- a task reads its run with the same reader, columns and batch size as the local engine,
  so it sees the same batches;
- it returns, per numeric column, every batch's counts and moments
  (:meth:`~accuguard.profile.numeric.NumericColumnProfile.header`, ten numbers) and the
  batches' finite values; the driver folds the headers in file order with the arithmetic
  of ``+`` (:meth:`~accuguard.profile.numeric.NumericColumnProfile.merge_shards`), so
  counts, extremes, means and variances are bit-identical, and the exact values are the
  same multiset, so exact KS, PSI, Wasserstein and Jensen-Shannon are too. Beyond
  ``exact_limit`` values a task sends a KLL sketch instead of its values (both engines
  then use a sketch: equal within the sketch's error bound, not bit for bit);
- categorical columns send their category counts (integers: exact in any order);
- each task sends its rows' hashes (8 bytes a row) and the driver folds them at the rows'
  positions, so duplicate rows are found across tasks and files exactly as locally.

Ray is imported only here, and only when the engine is used.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from accuguard.errors import AccuguardError, ConfigError, DataError
from accuguard.profile.columns import CategoricalColumnProfile, profile_column
from accuguard.profile.numeric import FloatArray, NumericColumnProfile
from accuguard.profile.rowhash import U64Array, row_hashes
from accuguard.profile.sketch import QuantileSketch
from accuguard.validate import sources
from accuguard.validate.columns import (
    ColumnPassResult,
    ColumnResult,
    _compare,
    _RowHasher,
    column_groups,
    worker_count,
)
from accuguard.validate.config import ColumnKind, ValidationConfig
from accuguard.validate.sources import Source, open_data_file

Progress = Callable[[str, int], None]
ADDRESS_ENV = "RAY_ADDRESS"
CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class RayOptions:
    """Where to run: ``address`` of a cluster (``host:port`` or ``ray://host:port``;
    default ``$RAY_ADDRESS``, else a local instance with ``num_cpus`` CPUs)."""

    address: str | None = None
    num_cpus: int | None = None


@dataclass(frozen=True)
class ShardTask:
    """One task: rows of one data file (the runs, or the whole file when ``runs`` is None)
    and the columns to profile (``group``) and hash (``group + extra``)."""

    path: str
    label: str
    runs: tuple[tuple[int, int], ...] | None
    offset: int
    rows: int
    group: tuple[str, ...]
    extra: tuple[str, ...]
    kinds: dict[str, ColumnKind]
    exact_limit: int
    batch_rows: int


@dataclass
class NumericShard:
    """A numeric column's part of a shard: per-batch headers, exact values or sketches."""

    headers: list[NumericColumnProfile] = field(default_factory=list)
    values: list[FloatArray] = field(default_factory=list)
    sketches: list[QuantileSketch] = field(default_factory=list)


@dataclass
class Shard:
    """What a task sends back: no raw columns, only profiles and row hashes."""

    rows: int
    numeric: dict[str, NumericShard]
    categorical: dict[str, CategoricalColumnProfile]
    hashes: U64Array | None


def profile_shard(task: ShardTask) -> Shard:
    """Profile and hash the rows of ``task`` (runs on a Ray worker; plain Python too)."""
    numeric: dict[str, NumericShard] = {}
    categorical: dict[str, CategoricalColumnProfile] = {}
    hashes: list[U64Array] = []
    rows = 0
    with open_data_file(task.path, task.label) as data:
        columns = list(task.group + task.extra)
        runs = None if task.runs is None else list(task.runs)
        for batch in data.iter_batches(
            columns, task.batch_rows, strings_as_dictionary=True, runs=runs
        ):
            rows += batch.num_rows
            for name in task.group:
                part = profile_column(batch.column(name), task.kinds[name], task.exact_limit)
                if isinstance(part, CategoricalColumnProfile):
                    known = categorical.get(name)
                    categorical[name] = part if known is None else known + part
                    continue
                _add_numeric(numeric.setdefault(name, NumericShard()), part, task.exact_limit)
            if batch.num_columns:
                hashes.append(row_hashes(batch, batch.schema.names))
    if rows != task.rows:
        raise DataError(
            f"{task.path}: {task.label} file changed while it was read: expected "
            f"{task.rows} rows in this part, read {rows}"
        )
    return Shard(rows, numeric, categorical, np.concatenate(hashes) if hashes else None)


def _add_numeric(shard: NumericShard, part: NumericColumnProfile, limit: int) -> None:
    shard.headers.append(part.header())
    if part.sketch is not None:
        shard.sketches.append(part.sketch)
    shard.values.extend(part.values)
    if sum(v.size for v in shard.values) > limit:  # too many to send: sketch them here
        shard.sketches.append(QuantileSketch.from_array(np.empty(0)).updated(*shard.values))
        shard.values.clear()


def plan_tasks(
    source: Source,
    label: str,
    group: list[str],
    extra: list[str],
    kinds: dict[str, ColumnKind],
    exact_limit: int,
) -> list[ShardTask]:
    """One task per run of each Parquet file, one per CSV file, in file order."""
    tasks: list[ShardTask] = []
    offset = 0
    batch_rows = sources.DEFAULT_BATCH_ROWS  # read now: the local engine's batch size
    sub_kinds = {name: kinds[name] for name in group}
    for data in source.files:
        if data.parquet_path != data.path:  # a CSV converted locally: the worker converts it
            parts: list[tuple[tuple[tuple[int, int], ...] | None, int]] = [(None, data.num_rows)]
        else:
            parts = [((run,), data.run_rows(run)) for run in data.runs(batch_rows)]
        for runs, rows in parts:
            tasks.append(
                ShardTask(
                    str(data.path),
                    label,
                    runs,
                    offset,
                    rows,
                    tuple(group),
                    tuple(extra),
                    sub_kinds,
                    exact_limit,
                    batch_rows,
                )
            )
            offset += rows
    return tasks


def merge_shards(
    shards: list[Shard], group: list[str], kinds: dict[str, ColumnKind], exact_limit: int
) -> dict[str, Any]:
    """The column profiles of the shards, in order: equal to the local engine's."""
    profiles: dict[str, Any] = {}
    for name in group:
        if kinds[name] == "categorical":
            total = CategoricalColumnProfile()
            for shard in shards:
                part = shard.categorical.get(name)
                if part is not None:
                    total = total + part
            profiles[name] = total
        else:
            parts = [s.numeric[name] for s in shards if name in s.numeric]
            profiles[name] = NumericColumnProfile.merge_shards(
                [h for p in parts for h in p.headers],
                [v for p in parts for v in p.values],
                [k for p in parts for k in p.sketches],
                exact_limit,
            )
    return profiles


def connect(options: RayOptions) -> Any:
    """Import Ray and connect (or start a local instance); reuse one already initialised.

    Raises :class:`ConfigError` naming the option when Ray is missing or the address
    cannot be reached.
    """
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "--engine ray needs the 'ray' package (accuguard's extra named 'ray'): pip install ray"
        ) from None
    address = options.address or os.environ.get(ADDRESS_ENV) or None
    if address and options.num_cpus is not None:
        raise ConfigError(
            f"--ray-num-cpus sizes a local Ray instance; it cannot be used with a cluster "
            f"address ({address!r})"
        )
    if address and address not in ("auto", "local"):
        # ray.init would wait minutes for an unreachable address
        _check_reachable(address, "--ray-address" if options.address else f"${ADDRESS_ENV}")
    if ray.is_initialized():
        return ray
    try:
        ray.init(
            address=address,
            num_cpus=options.num_cpus,
            include_dashboard=False,
            logging_level=logging.WARNING,
        )
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        where = f"Ray address {address!r}" if address else "--engine ray"
        raise ConfigError(f"{where}: cannot start or reach Ray: {exc}") from None
    return ray


def _check_reachable(address: str, option: str) -> None:
    parts = urlsplit(address if "://" in address else f"ray://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or port is None:
        raise ConfigError(f"{option}: expected host:port or ray://host:port; got {address!r}")
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ConfigError(
            f"{option} {address!r}: cannot reach a Ray cluster there ({exc}); start one "
            f"(ray start --head) or leave {option} unset to run a local instance"
        ) from None


def run_column_pass_ray(
    reference: Source,
    current: Source,
    kinds: dict[str, ColumnKind],
    config: ValidationConfig,
    progress: Progress | None = None,
    options: RayOptions | None = None,
) -> ColumnPassResult:
    """:func:`accuguard.validate.columns.run_column_pass` with the profiling in Ray tasks."""
    ray = connect(options or RayOptions())
    remote = ray.remote(num_cpus=1, max_retries=1)(profile_shard)
    hashers = {"reference": _RowHasher(reference.num_rows), "current": _RowHasher(current.num_rows)}
    sources = {"reference": reference, "current": current}
    ordered = list(kinds)
    groups = column_groups(ordered, max(reference.num_rows, current.num_rows))
    results: dict[str, ColumnResult] = {}
    with ThreadPoolExecutor(max_workers=worker_count(), thread_name_prefix="accuguard") as pool:
        for index, group in enumerate(groups):
            tasks: list[ShardTask] = []
            for label, source in sources.items():
                extra = [c for c in source.columns if c not in kinds] if index == 0 else []
                if group or extra:
                    tasks += plan_tasks(source, label, group, extra, kinds, config.exact_limit)
            shards = _gather(ray, [remote.remote(t) for t in tasks], tasks, progress)
            profiles = {}
            for label in sources:
                mine = [(t, s) for t, s in zip(tasks, shards, strict=True) if t.label == label]
                for task, shard in mine:
                    if shard.hashes is not None:
                        hashers[label].fold_hashes(task.offset, shard.hashes)
                profiles[label] = merge_shards(
                    [s for _, s in mine], group, kinds, config.exact_limit
                )
            del shards
            futures = {
                name: pool.submit(
                    _compare,
                    name,
                    kinds[name],
                    profiles["reference"].pop(name),
                    profiles["current"].pop(name),
                    config,
                )
                for name in group
            }
            for name, future in futures.items():
                results[name] = future.result()
        ref_duplicates = pool.submit(hashers["reference"].duplicates)
        cur_duplicates = hashers["current"].duplicates()
        return ColumnPassResult(results, ref_duplicates.result(), cur_duplicates)


def _gather(
    ray: Any, refs: list[Any], tasks: list[ShardTask], progress: Progress | None
) -> list[Shard]:
    """Results in task order; progress is reported as tasks finish."""
    index = {ref: i for i, ref in enumerate(refs)}
    out: list[Shard | None] = [None] * len(refs)
    waiting = list(refs)
    while waiting:
        done, waiting = ray.wait(waiting, num_returns=1)
        for ref in done:
            i = index[ref]
            out[i] = _get(ray, ref)
            if progress is not None:
                progress(tasks[i].label, tasks[i].rows)
    return [s for s in out if s is not None]


def _get(ray: Any, ref: Any) -> Shard:
    try:
        shard: Shard = ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, AccuguardError):
            raise cause from None
        raise
    return shard
