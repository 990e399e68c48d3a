"""Seeded reference/current Parquet files for ``bench/validate_vs_evidently.py``.

Each file has 20 numeric columns (``num_00`` .. ``num_19``, float64, five distribution
families) and 5 string categorical columns (``cat_0`` .. ``cat_4``, 3 to 50 levels), no
nulls. The current file has a small, known shift:

* ``num_00`` +0.05 sd, ``num_05`` +0.10 sd, ``num_10`` +0.15 sd, ``num_15`` +0.20 sd
  (location shifts, in units of the column's population standard deviation);
* ``cat_0``'s level frequencies change from (0.50, 0.30, 0.20) to (0.44, 0.33, 0.23).

Rows are written in chunks of ``CHUNK_ROWS`` (one Parquet row group each), so memory stays
constant whatever the row count (10,000,000 rows work). The data depend only on
``(rows, seed, GENERATOR_VERSION)``; files are reused when they already exist.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

GENERATOR_VERSION = 1
CHUNK_ROWS = 262_144


@dataclass(frozen=True)
class NumericSpec:
    """One numeric column: a distribution family, its parameters and its sd."""

    family: str
    a: float
    b: float

    @property
    def sd(self) -> float:
        """Population standard deviation of the distribution."""
        if self.family == "normal":
            return self.b
        if self.family == "lognormal":
            s2 = self.b**2
            return float(np.sqrt((np.exp(s2) - 1.0) * np.exp(2 * self.a + s2)))
        if self.family == "exponential":
            return self.a
        if self.family == "uniform":
            return float((self.b - self.a) / np.sqrt(12.0))
        if self.family == "poisson":
            return float(np.sqrt(self.a))
        raise ValueError(f"unknown family {self.family!r}")

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` float64 draws."""
        if self.family == "normal":
            return rng.normal(self.a, self.b, n)
        if self.family == "lognormal":
            return rng.lognormal(self.a, self.b, n)
        if self.family == "exponential":
            return rng.exponential(self.a, n)
        if self.family == "uniform":
            return rng.uniform(self.a, self.b, n)
        if self.family == "poisson":
            return rng.poisson(self.a, n).astype(np.float64)
        raise ValueError(f"unknown family {self.family!r}")


_FAMILIES = (
    ("normal", 0.0, 1.0),
    ("lognormal", 0.0, 0.5),
    ("exponential", 2.0, 0.0),
    ("uniform", -3.0, 5.0),
    ("poisson", 20.0, 0.0),
)
NUMERIC: dict[str, NumericSpec] = {}
for _i in range(20):
    _fam, _a, _b = _FAMILIES[_i % len(_FAMILIES)]
    _scale = 1.0 + 0.25 * (_i // len(_FAMILIES))
    if _fam in ("normal", "uniform"):
        NUMERIC[f"num_{_i:02d}"] = NumericSpec(_fam, _a * _scale, _b * _scale)
    elif _fam == "lognormal":
        NUMERIC[f"num_{_i:02d}"] = NumericSpec(_fam, _a + 0.1 * _i, _b)
    else:
        NUMERIC[f"num_{_i:02d}"] = NumericSpec(_fam, _a * _scale, _b)

NUMERIC_SHIFT_SD = {"num_00": 0.05, "num_05": 0.10, "num_10": 0.15, "num_15": 0.20}


def _zipf_probs(k: int) -> np.ndarray:
    w = 1.0 / np.arange(1, k + 1) ** 0.8
    return np.asarray(w / w.sum())


CATEGORICAL: dict[str, tuple[np.ndarray, np.ndarray]] = {
    f"cat_{j}": (np.array([f"c{j}_{v:02d}" for v in range(k)]), _zipf_probs(k))
    for j, k in enumerate((3, 5, 10, 20, 50))
}
CATEGORICAL["cat_0"] = (CATEGORICAL["cat_0"][0], np.array([0.50, 0.30, 0.20]))
CATEGORICAL_SHIFT = {"cat_0": np.array([0.44, 0.33, 0.23])}

NUMERIC_COLUMNS = list(NUMERIC)
CATEGORICAL_COLUMNS = list(CATEGORICAL)


def schema() -> pa.Schema:
    """The Arrow schema of both files."""
    fields = [pa.field(n, pa.float64(), nullable=False) for n in NUMERIC_COLUMNS]
    fields += [pa.field(n, pa.string(), nullable=False) for n in CATEGORICAL_COLUMNS]
    return pa.schema(fields)


def _chunk(rng: np.random.Generator, n: int, shifted: bool) -> pa.RecordBatch:
    arrays: list[pa.Array] = []
    for name, spec in NUMERIC.items():
        values = spec.draw(rng, n)
        if shifted and name in NUMERIC_SHIFT_SD:
            values += NUMERIC_SHIFT_SD[name] * spec.sd
        arrays.append(pa.array(values, type=pa.float64()))
    for name, (levels, probs) in CATEGORICAL.items():
        p = CATEGORICAL_SHIFT.get(name, probs) if shifted else probs
        codes = np.searchsorted(np.cumsum(p), rng.random(n), side="right")
        codes = np.minimum(codes, len(levels) - 1).astype(np.int32)
        dictionary = pa.array(levels, type=pa.string())
        arrays.append(pa.DictionaryArray.from_arrays(pa.array(codes), dictionary).cast(pa.string()))
    return pa.RecordBatch.from_arrays(arrays, schema=schema())


def write_frame(path: Path, rows: int, seed: int, shifted: bool) -> None:
    """Write ``rows`` rows to ``path`` chunk by chunk (atomically: temp file, then rename)."""
    rng = np.random.default_rng([seed, int(shifted), GENERATOR_VERSION])
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with pq.ParquetWriter(tmp, schema(), compression="snappy") as writer:
        done = 0
        while done < rows:
            n = min(CHUNK_ROWS, rows - done)
            writer.write_batch(_chunk(rng, n, shifted), row_group_size=CHUNK_ROWS)
            done += n
    tmp.replace(path)


def ensure_frames(data_dir: Path, rows: int, seed: int) -> tuple[Path, Path]:
    """Reference and current Parquet paths for ``(rows, seed)``, generated if missing."""
    data_dir.mkdir(parents=True, exist_ok=True)
    stem = f"v{GENERATOR_VERSION}_{rows}_s{seed}"
    ref = data_dir / f"reference_{stem}.parquet"
    cur = data_dir / f"current_{stem}.parquet"
    for path, shifted in ((ref, False), (cur, True)):
        if not path.exists():
            write_frame(path, rows, seed, shifted)
    return ref, cur
