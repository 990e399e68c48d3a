"""The column pass: quality and drift of every compared column, in memory-bounded groups.

Columns are read in groups so that only a few columns' raw values are held at once
(exact KS needs them). For each group the reference and then the current file are
streamed, one mergeable profile per column is built chunk by chunk, and the drift
and quality results are computed before the group's values are released. Row hashes
for duplicate detection are folded in group by group.

The work runs in a pool of :func:`worker_count` threads (NumPy and Arrow release the
GIL, so they use every core): while the main thread decodes the next batch, the workers
profile each column of the previous ones and hash their rows; the reference's columns
are sorted while the current file is read. Chunks are merged in file order, so the
results do not depend on the thread count.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from accuguard.errors import ConfigError
from accuguard.profile.columns import (
    NumericColumnProfile,
    drift_between,
    profile_column,
    quality_between,
)
from accuguard.profile.numeric import return_free_memory
from accuguard.profile.rowhash import U64Array, count_duplicates, row_hashes
from accuguard.validate.config import ColumnKind, ValidationConfig
from accuguard.validate.sources import Source

Progress = Callable[[str, int], None]
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MEMORY_BUDGET_BYTES = 384 << 20
WORKERS_ENV = "ACCUGUARD_THREADS"
MAX_DEFAULT_WORKERS = 4
BATCHES_IN_FLIGHT = 2  # batches decoded ahead of the workers (each holds its Arrow data)
HIST_BINS = 30
TOP_CATEGORIES = 15


@dataclass
class ColumnResult:
    """Drift, quality and plot data of one column."""

    name: str
    kind: ColumnKind
    drift: Any  # accuguard.stats.drift.DriftResult
    quality: dict[str, float]
    distribution: dict[str, Any]


@dataclass
class ColumnPassResult:
    """Everything the column pass found."""

    columns: dict[str, ColumnResult]
    reference_duplicates: int
    current_duplicates: int


class _RowHasher:
    """Folds per-group row hashes into one 64-bit hash per row."""

    def __init__(self, rows: int) -> None:
        self.hashes = np.zeros(rows, dtype=np.uint64)

    def fold(self, offset: int, batch: pa.RecordBatch) -> None:
        if batch.num_columns == 0:
            return
        self.fold_hashes(offset, row_hashes(batch, batch.schema.names))

    def fold_hashes(self, offset: int, part: U64Array) -> None:
        """Fold one column group's hashes of the rows from ``offset`` on."""
        rows = self.hashes[offset : offset + part.size]
        np.multiply(rows, _GOLDEN, out=rows)  # uint64 arithmetic wraps
        np.add(rows, part, out=rows)

    def duplicates(self) -> int:
        return count_duplicates(self.hashes)


def column_groups(
    columns: list[str], rows: int, budget: int = MEMORY_BUDGET_BYTES
) -> list[list[str]]:
    """Split ``columns`` so one group's raw float64 values (both files) fit in ``budget``."""
    per_column = max(1, 2 * 8 * rows)
    size = max(1, budget // per_column)
    return [columns[i : i + size] for i in range(0, len(columns), size)] or [[]]


def worker_count() -> int:
    """Threads of the column pass: ``$ACCUGUARD_THREADS`` if set, else the number of CPUs
    capped at :data:`MAX_DEFAULT_WORKERS`.

    >>> worker_count() >= 1
    True
    """
    raw = os.environ.get(WORKERS_ENV, "").strip()
    if not raw:
        return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS))
    try:
        workers = int(raw)
    except ValueError:
        workers = 0
    if workers < 1:
        raise ConfigError(f"{WORKERS_ENV}: expected a whole number >= 1; got {raw!r}")
    return workers


def run_column_pass(
    reference: Source,
    current: Source,
    kinds: dict[str, ColumnKind],
    config: ValidationConfig,
    progress: Progress | None = None,
) -> ColumnPassResult:
    """Profile, compare and hash every column of both files; see the module docstring."""
    ref_hasher, cur_hasher = _RowHasher(reference.num_rows), _RowHasher(current.num_rows)
    ordered = list(kinds)
    ref_rest = [c for c in reference.columns if c not in kinds]
    cur_rest = [c for c in current.columns if c not in kinds]
    rows = max(reference.num_rows, current.num_rows)
    results: dict[str, ColumnResult] = {}
    groups = column_groups(ordered, rows)
    with ThreadPoolExecutor(max_workers=worker_count(), thread_name_prefix="accuguard") as pool:
        for index, group in enumerate(groups):
            extra_ref = ref_rest if index == 0 else []
            extra_cur = cur_rest if index == 0 else []
            ref_profiles = _profile_file(
                reference, group, extra_ref, kinds, config, ref_hasher, progress, "reference", pool
            )
            # sort the reference's values while the current file is read
            presorted = [
                pool.submit(_presort, p)
                for p in ref_profiles.values()
                if isinstance(p, NumericColumnProfile) and p.is_exact and p.count
            ]
            cur_profiles = _profile_file(
                current, group, extra_cur, kinds, config, cur_hasher, progress, "current", pool
            )
            futures = {
                name: pool.submit(
                    _compare,
                    name,
                    kinds[name],
                    ref_profiles.pop(name),
                    cur_profiles.pop(name),
                    config,
                )
                for name in group
            }
            for name, future in futures.items():
                results[name] = future.result()
            for done in presorted:
                done.result()
            del ref_profiles, cur_profiles, presorted, futures
            return_free_memory()  # the group's values are gone: give their pages back
        ref_duplicates = pool.submit(ref_hasher.duplicates)
        cur_duplicates = cur_hasher.duplicates()
        return ColumnPassResult(results, ref_duplicates.result(), cur_duplicates)


def _presort(profile: NumericColumnProfile) -> None:
    profile.sorted_values()  # cached in the profile; the future must not hold the array


_Parts = tuple[int, dict[str, "Future[Any]"], "Future[None]"]


def _profile_file(
    source: Source,
    group: list[str],
    extra: list[str],
    kinds: dict[str, ColumnKind],
    config: ValidationConfig,
    hasher: _RowHasher,
    progress: Progress | None,
    label: str,
    pool: ThreadPoolExecutor,
) -> dict[str, Any]:
    """Stream ``source``; each batch's columns are profiled and its rows hashed in ``pool``
    while this thread decodes the next batches (at most :data:`BATCHES_IN_FLIGHT` ahead).
    Chunk profiles are merged in file order."""
    profiles: dict[str, Any] = {}
    pending: deque[_Parts] = deque()

    def merge_oldest() -> None:
        rows, parts, hashed = pending.popleft()
        for name, future in parts.items():
            part = future.result()
            profiles[name] = part if name not in profiles else profiles[name] + part
        hashed.result()
        if progress is not None:
            progress(label, rows)

    offset = 0
    for batch in source.iter_batches(group + extra, strings_as_dictionary=True):
        parts = {
            name: pool.submit(
                profile_column, batch.column(name), kinds[name], exact_limit=config.exact_limit
            )
            for name in group
        }
        pending.append((batch.num_rows, parts, pool.submit(hasher.fold, offset, batch)))
        offset += batch.num_rows
        del batch  # the tasks hold it until they are done
        while len(pending) >= BATCHES_IN_FLIGHT:
            merge_oldest()
    while pending:
        merge_oldest()
    return profiles


def _compare(
    name: str, kind: ColumnKind, ref: Any, cur: Any, config: ValidationConfig
) -> ColumnResult:
    settings = config.columns.get(name)
    method = settings.drift if settings is not None and settings.drift else None
    if method is None:
        method = config.drift.numeric if kind == "numeric" else config.drift.categorical
    kwargs: dict[str, float] = {"alpha": config.drift.alpha}
    if settings is not None and settings.threshold is not None:
        kwargs["threshold"] = settings.threshold
    drift = drift_between(ref, cur, method=method, **kwargs)
    bounds = settings.bounds if settings is not None else None
    quality = quality_between(ref, cur, bounds)
    distribution = _distribution(kind, ref, cur)
    return ColumnResult(name, kind, drift, quality, distribution)


def _distribution(kind: ColumnKind, ref: Any, cur: Any) -> dict[str, Any]:
    """Small plot data: a shared-edge histogram, or the top categories' counts."""
    if kind == "categorical":
        ref_counts: dict[str, int] = dict(ref.counts)
        cur_counts: dict[str, int] = dict(cur.counts)
        total = {
            k: ref_counts.get(k, 0) + cur_counts.get(k, 0)
            for k in set(ref_counts) | set(cur_counts)
        }
        top = sorted(total, key=lambda k: (-total[k], k))[:TOP_CATEGORIES]
        return {
            "categories": top,
            "reference": [ref_counts.get(k, 0) for k in top],
            "current": [cur_counts.get(k, 0) for k in top],
            "other_reference": sum(ref_counts.values()) - sum(ref_counts.get(k, 0) for k in top),
            "other_current": sum(cur_counts.values()) - sum(cur_counts.get(k, 0) for k in top),
        }
    lo = np.nanmin([ref.min, cur.min])
    hi = np.nanmax([ref.max, cur.max])
    if not np.isfinite(lo) or not np.isfinite(hi):
        return {"edges": [], "reference": [], "current": []}
    if hi <= lo:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, HIST_BINS + 1)
    return {
        "edges": edges.tolist(),
        "reference": np.asarray(ref.histogram(edges)).astype(int).tolist(),
        "current": np.asarray(cur.histogram(edges)).astype(int).tolist(),
    }


def iter_column(source: Source, name: str) -> Iterator[pa.Array]:
    """Stream one column's chunks."""
    for batch in source.iter_batches([name]):
        yield batch.column(0)


def distinct_values(source: Source, name: str, limit: int = 1000) -> list[Any]:
    """Sorted distinct non-null values of a column, up to ``limit`` (for label sets)."""
    seen: set[Any] = set()
    for chunk in iter_column(source, name):
        seen.update(pc.unique(chunk.drop_null()).to_pylist())
        if len(seen) > limit:
            break
    return sorted(seen, key=lambda v: (str(type(v)), v))
