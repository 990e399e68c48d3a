"""Benchmark: ``accuguard validate`` (drift + quality) against Evidently 0.7.23's DataDriftPreset.

One run, same Parquet files, both tools as child processes; wall time and the child's
peak RSS come from ``os.wait4`` (``ru_maxrss`` of exactly that child)::

    .venv/bin/python bench/validate_vs_evidently.py                  # 1M rows, both tools
    .venv/bin/python bench/validate_vs_evidently.py --skip-evidently
    .venv/bin/python bench/validate_vs_evidently.py --rss-only-rows 10000000

Data: ``bench/_validate_data.py`` (20 numeric + 5 categorical columns, small known shift,
seeded, written in chunks to bench/data/). Evidently runs in its own venv
(bench/.venvs/evidently, from bench/requirements-evidently.txt; created when missing)
through ``bench/evidently_runner.py``.

Agreement: Evidently's default statistic for > 1000 rows is the normed Wasserstein
distance (``wasserstein_distance / max(std_ref, 0.001)``, ``np.std`` with ddof=0) for numeric
columns with more than 5 distinct values and the Jensen-Shannon distance (natural log,
exact category counts, no zero filling) for categorical ones. accuguard's report gives
both in ``drift.columns.<name>.detail`` (``wasserstein_normed``, ``jensenshannon``). Both
are exact computations on the full data on both sides, so they must agree to
``--tolerance`` (absolute, default 1e-6); a disagreement exits 1.

Exit codes: 0 all good; 1 values disagree (or, with ``--check-targets``, a target is
missed); 2 a tool failed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

import _validate_data as data  # noqa: E402

EVIDENTLY_VENV = BENCH / ".venvs" / "evidently"
REQUIREMENTS = BENCH / "requirements-evidently.txt"
RUNNER = BENCH / "evidently_runner.py"
DEFAULT_ACCUGUARD = REPO / ".venv" / "bin" / "accuguard"
# Compiled bytecode for accuguard's runs, kept out of the venv (see child_env).
PYCACHE = BENCH / ".venvs" / "pycache-accuguard"

# Targets from issue 2's Benchmark section.
TARGET_SPEEDUP = 40.0
TARGET_SECONDS_1M = 4.0
TARGET_RSS_10M_BYTES = 1_000_000_000

# (Evidently method name, accuguard detail key) for the statistics both compute.
SHARED_STATISTICS = {
    "Wasserstein distance (normed)": "wasserstein_normed",
    "Jensen-Shannon distance": "jensenshannon",
}


@dataclass
class Run:
    """One measured child process."""

    seconds: float
    cpu_seconds: float
    max_rss_bytes: int
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Series:
    """Repeated runs of one tool."""

    runs: list[Run] = field(default_factory=list)

    @property
    def median_seconds(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def median_rss(self) -> float:
        return statistics.median(r.max_rss_bytes for r in self.runs)

    @property
    def max_rss(self) -> int:
        return max(r.max_rss_bytes for r in self.runs)


def measure(argv: list[str], env: dict[str, str] | None = None) -> Run:
    """Run ``argv`` (an argument list, no shell); wall time and peak RSS via ``os.wait4``."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        return Run(
            seconds=seconds,
            cpu_seconds=usage.ru_utime + usage.ru_stime,
            max_rss_bytes=usage.ru_maxrss * 1024,  # Linux reports KiB
            returncode=proc.returncode,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
        )


def _fail(what: str, run: Run) -> None:
    print(f"error: {what} exited {run.returncode}", file=sys.stderr)
    print(run.stderr[-4000:] or run.stdout[-4000:], file=sys.stderr)
    sys.exit(2)


# -- Evidently's venv -------------------------------------------------------------------------


def _requirements_digest() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def ensure_evidently_venv(python: str) -> Path:
    """Path to the Evidently venv's python; (re)build the venv if missing or stale."""
    py = EVIDENTLY_VENV / "bin" / "python"
    stamp = EVIDENTLY_VENV / ".requirements.sha256"
    if py.exists() and stamp.exists() and stamp.read_text().strip() == _requirements_digest():
        return py
    interpreter = shutil.which(python)
    if interpreter is None:
        sys.exit(f"error: {python!r} not found; Evidently's venv needs Python 3.11 (--python)")
    print(f"creating {EVIDENTLY_VENV} with {interpreter} ...", flush=True)
    if EVIDENTLY_VENV.exists():
        shutil.rmtree(EVIDENTLY_VENV)
    subprocess.run([interpreter, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-qq", "-r", str(REQUIREMENTS)], check=True)
    stamp.write_text(_requirements_digest() + "\n")
    return py


# -- the two tools ----------------------------------------------------------------------------


def child_env(cold_imports: bool) -> dict[str, str]:
    """Environment of accuguard's runs.

    An installed tool normally runs from compiled bytecode (pip compiles it at install
    time, and Python caches it on first import). This machine sets
    ``PYTHONDONTWRITEBYTECODE=1``, and a venv built by ``uv sync`` holds no ``.pyc`` files,
    so every run would recompile numpy, scipy, pyarrow, rich, typer... from source. By
    default the bytecode is cached under bench/.venvs/pycache-accuguard
    (``PYTHONPYCACHEPREFIX``, so the venv is not touched) and an untimed warm-up run fills
    it; ``--cold-imports`` keeps the inherited environment instead.
    """
    env = dict(os.environ)
    if not cold_imports:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


WARMUP_ROWS = 10_000


def _validate_argv(exe: Path, ref: Path, cur: Path, out: Path) -> list[str]:
    return [
        str(exe),
        "validate",
        "--reference",
        str(ref),
        "--current",
        str(cur),
        "--output",
        str(out),
    ]


def run_accuguard(
    exe: Path,
    ref: Path,
    cur: Path,
    out: Path,
    repeat: int,
    warmup: int = 1,
    cold_imports: bool = False,
) -> Series:
    """``accuguard validate`` (no target: drift + quality): ``warmup`` untimed runs on a
    small ``WARMUP_ROWS`` data set (they fill the bytecode cache), then ``repeat`` measured
    runs on ``ref``/``cur``."""
    series = Series()
    argv = _validate_argv(exe, ref, cur, out)
    env = child_env(cold_imports)
    small_ref, small_cur = data.ensure_frames(ref.parent, WARMUP_ROWS, 0)
    for i in range(warmup):
        run = measure(_validate_argv(exe, small_ref, small_cur, out), env=env)
        if run.returncode not in (0, 1):
            _fail("accuguard validate", run)
        print(
            f"  accuguard warm-up {i + 1}/{warmup} ({WARMUP_ROWS:,} rows): {run.seconds:7.2f} s "
            "(not counted)",
            flush=True,
        )
    for i in range(repeat):
        run = measure(argv, env=env)
        if run.returncode not in (0, 1):  # 1 = a gate failed, the report is still written
            _fail("accuguard validate", run)
        series.runs.append(run)
        print(
            f"  accuguard run {i + 1}/{repeat}: {run.seconds:7.2f} s  "
            f"(CPU {run.cpu_seconds:6.2f} s)  peak RSS {_mb(run.max_rss_bytes)}",
            flush=True,
        )
    return series


def run_evidently(py: Path, ref: Path, cur: Path, out: Path, repeat: int) -> Series:
    """``evidently_runner.py`` in Evidently's venv ``repeat`` times."""
    series = Series()
    argv = [
        str(py),
        str(RUNNER),
        str(ref),
        str(cur),
        str(out),
        "--numerical",
        ",".join(data.NUMERIC_COLUMNS),
        "--categorical",
        ",".join(data.CATEGORICAL_COLUMNS),
    ]
    env = dict(os.environ, DO_NOT_TRACK="1")  # no telemetry attempts
    for i in range(repeat):
        run = measure(argv, env=env)
        if run.returncode != 0:
            _fail("evidently_runner.py", run)
        series.runs.append(run)
        print(
            f"  evidently run {i + 1}/{repeat}: {run.seconds:7.2f} s  "
            f"(CPU {run.cpu_seconds:6.2f} s)  peak RSS {_mb(run.max_rss_bytes)}",
            flush=True,
        )
    return series


# -- agreement --------------------------------------------------------------------------------


@dataclass
class Agreement:
    """Per-column comparison of one statistic both tools compute."""

    column: str
    method: str
    evidently: float
    accuguard: float | None
    evidently_drifted: bool
    accuguard_drifted: bool | None

    @property
    def difference(self) -> float:
        if self.accuguard is None:
            return math.inf
        return abs(self.evidently - self.accuguard)


def compare(evidently: dict[str, Any], accuguard: dict[str, Any]) -> list[Agreement]:
    """Match Evidently's per-column value with accuguard's detail value of the same statistic."""
    ag_columns = accuguard["drift"]["columns"]
    rows = []
    for column, ev in evidently["columns"].items():
        key = SHARED_STATISTICS.get(ev["method"])
        if key is None:
            continue
        ag = ag_columns.get(column, {})
        detail = ag.get("detail") or {}
        value = detail.get(key)
        if value is None and ag.get("method") == key.split("_")[0]:
            value = ag.get("statistic")
        rows.append(
            Agreement(
                column=column,
                method=key,
                evidently=float(ev["value"]),
                accuguard=None if value is None else float(value),
                evidently_drifted=float(ev["value"]) >= float(ev["threshold"]),
                accuguard_drifted=ag.get("drifted"),
            )
        )
    return rows


def print_agreement(rows: list[Agreement], tolerance: float) -> bool:
    """Print the table and a per-statistic summary; True when every value agrees."""
    print(
        f"\n{'column':<8} {'statistic':<20} {'evidently':>14} {'accuguard':>14} "
        f"{'|diff|':>10}  drifted (ev/ag)"
    )
    for r in rows:
        ag = "missing" if r.accuguard is None else f"{r.accuguard:14.9f}"
        print(
            f"{r.column:<8} {r.method:<20} {r.evidently:14.9f} {ag:>14} "
            f"{r.difference:10.2e}  {_yn(r.evidently_drifted)}/{_yn(r.accuguard_drifted)}"
        )
    ok = True
    for method in sorted({r.method for r in rows}):
        diffs = [r.difference for r in rows if r.method == method]
        worst = max(diffs)
        agree = worst <= tolerance
        ok &= agree
        print(
            f"{method}: {len(diffs)} columns, max |diff| = {worst:.3e} "
            f"({'agree' if agree else 'DISAGREE'} at tolerance {tolerance:g})"
        )
        if not agree and method == "jensenshannon":
            _explain_js(rows)
    return ok


def _explain_js(rows: list[Agreement]) -> None:
    ratios = [
        r.accuguard / r.evidently
        for r in rows
        if r.method == "jensenshannon" and r.accuguard and r.evidently > 0
    ]
    if ratios and all(abs(x - 1 / math.sqrt(math.log(2))) < 1e-6 for x in ratios):
        print(
            "  note: accuguard's JS distance = Evidently's / sqrt(ln 2): accuguard uses base 2, "
            "Evidently (scipy default) natural log"
        )


# -- reporting --------------------------------------------------------------------------------


def _mb(n: float) -> str:
    return f"{n / 1e6:8.1f} MB"


def _yn(flag: bool | None) -> str:
    return "-" if flag is None else ("Y" if flag else "n")


def machine() -> dict[str, Any]:
    """nproc, CPU model and memory of this machine."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "memory_gb": round(mem / 1e9, 1),
        "python": platform.python_version(),
        "load_avg_1min": os.getloadavg()[0],
        "sort_1m_ms": _sort_probe_ms(),
    }


def _sort_probe_ms() -> float:
    """Best of 5 in-place sorts of 1M float64 (numpy), in ms: how fast the machine is now.

    Other processes competing for the CPU (or memory bandwidth) slow it down as they slow
    both tools; compare runs made at similar values."""
    import numpy as np

    x = np.random.default_rng(0).normal(size=1_000_000)
    best = math.inf
    for _ in range(5):
        y = x.copy()
        start = time.perf_counter()
        y.sort()
        best = min(best, time.perf_counter() - start)
    return round(best * 1e3, 1)


def _check(label: str, ok: bool) -> bool:
    print(f"  {'PASS' if ok else 'MISS'}  {label}")
    return ok


def rss_only(args: argparse.Namespace) -> int:
    """10M-row mode: accuguard's wall time and peak RSS only."""
    rows = args.rss_only_rows
    m = machine()
    print(
        f"machine: {m['nproc']} CPUs ({m['cpu']}), load average {m['load_avg_1min']:.2f}, "
        f"1M-float sort {m['sort_1m_ms']} ms"
    )
    print(f"generating {rows:,} rows x 25 columns in {args.data_dir} ...", flush=True)
    ref, cur = data.ensure_frames(args.data_dir, rows, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        ag = run_accuguard(
            args.accuguard,
            ref,
            cur,
            Path(tmp) / "accuguard.json",
            args.repeat,
            args.warmup,
            args.cold_imports,
        )
    print(
        f"\naccuguard, {rows:,} rows: median {ag.median_seconds:.2f} s, "
        f"peak RSS median {_mb(ag.median_rss).strip()}, max {_mb(ag.max_rss).strip()}"
    )
    ok = _check(f"peak RSS < {TARGET_RSS_10M_BYTES / 1e9:g} GB", ag.max_rss < TARGET_RSS_10M_BYTES)
    _dump(
        args,
        {
            "mode": "rss-only",
            "rows": rows,
            "machine": m,
            "cold_imports": args.cold_imports,
            "accuguard": _series_json(ag),
        },
    )
    return 1 if (args.check_targets and not ok) else 0


def _series_json(s: Series) -> dict[str, Any]:
    return {
        "seconds": [r.seconds for r in s.runs],
        "median_seconds": s.median_seconds,
        "cpu_seconds": [r.cpu_seconds for r in s.runs],
        "max_rss_bytes": [r.max_rss_bytes for r in s.runs],
        "median_rss_bytes": s.median_rss,
    }


def _dump(args: argparse.Namespace, result: dict[str, Any]) -> None:
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
        print(f"results written to {args.json}")


def full(args: argparse.Namespace) -> int:
    """Both tools on ``--rows`` rows, then the agreement table."""
    m = machine()
    print(
        f"machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory_gb']} GB RAM, "
        f"load average {m['load_avg_1min']:.2f}, 1M-float sort {m['sort_1m_ms']} ms "
        "(a busy machine inflates every timing)"
    )
    print(f"generating {args.rows:,} rows x 25 columns in {args.data_dir} ...", flush=True)
    ref, cur = data.ensure_frames(args.data_dir, args.rows, args.seed)
    ev_py = None if args.skip_evidently else ensure_evidently_venv(args.python)
    with tempfile.TemporaryDirectory() as tmp:
        ag_json, ev_json = Path(tmp) / "accuguard.json", Path(tmp) / "evidently.json"
        print("accuguard validate:", flush=True)
        ag = run_accuguard(
            args.accuguard, ref, cur, ag_json, args.repeat, args.warmup, args.cold_imports
        )
        ag_report = json.loads(ag_json.read_text())
        ev = ev_report = None
        if ev_py is not None:
            print("evidently DataDriftPreset:", flush=True)
            ev = run_evidently(ev_py, ref, cur, ev_json, args.evidently_repeat)
            ev_report = json.loads(ev_json.read_text())

    print(f"\n{'':<10} {'median wall':>12} {'peak RSS':>12}   runs")
    print(
        f"{'accuguard':<10} {ag.median_seconds:10.2f} s {_mb(ag.median_rss):>12}   {len(ag.runs)}"
    )
    result: dict[str, Any] = {
        "mode": "full",
        "rows": args.rows,
        "machine": m,
        "cold_imports": args.cold_imports,
        "load_avg_1min_after": os.getloadavg()[0],
        "accuguard": _series_json(ag),
    }
    at_size = args.rows >= 1_000_000  # the targets are stated for 1M rows
    targets = (
        [
            _check(
                f"accuguard < {TARGET_SECONDS_1M:g} s (target for 1M rows)",
                ag.median_seconds < TARGET_SECONDS_1M,
            )
        ]
        if at_size
        else []
    )
    agree = True
    if ev is not None and ev_report is not None:
        print(
            f"{'evidently':<10} {ev.median_seconds:10.2f} s {_mb(ev.median_rss):>12}   "
            f"{len(ev.runs)}  (inside: {_inner(ev_report)})"
        )
        speed = ev.median_seconds / ag.median_seconds
        memory = ev.median_rss / ag.median_rss
        print(f"ratio evidently/accuguard: wall {speed:.1f}x, peak RSS {memory:.1f}x")
        if at_size:
            targets.append(_check(f"speed-up >= {TARGET_SPEEDUP:g}x", speed >= TARGET_SPEEDUP))
        rows = compare(ev_report, ag_report)
        agree = print_agreement(rows, args.tolerance)
        result.update(
            evidently=_series_json(ev)
            | {"inner_seconds": ev_report["seconds"], "version": ev_report["evidently_version"]},
            ratio_seconds=speed,
            ratio_rss=memory,
            tolerance=args.tolerance,
            agreement=[
                {
                    "column": r.column,
                    "statistic": r.method,
                    "evidently": r.evidently,
                    "accuguard": r.accuguard,
                    "abs_diff": r.difference,
                }
                for r in rows
            ],
        )
    _dump(args, result)
    if not agree:
        return 1
    return 1 if (args.check_targets and not all(targets)) else 0


def _inner(report: dict[str, Any]) -> str:
    s = report["seconds"]
    return f"import {s['import']:.1f} s, read {s['load']:.1f} s, report {s['report']:.1f} s"


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="rows per file (default 1M)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--repeat", type=int, default=3, help="accuguard runs (median reported)")
    p.add_argument(
        "--warmup",
        type=int,
        default=1,
        help="untimed accuguard runs on 10,000 rows first (fill the bytecode cache)",
    )
    p.add_argument(
        "--cold-imports",
        action="store_true",
        help="run accuguard without a bytecode cache (see child_env)",
    )
    p.add_argument("--evidently-repeat", type=int, default=1, help="Evidently runs")
    p.add_argument("--skip-evidently", action="store_true")
    p.add_argument(
        "--rss-only-rows",
        type=int,
        default=None,
        metavar="N",
        help="only accuguard's wall time and peak RSS on N rows (e.g. 10000000)",
    )
    p.add_argument(
        "--tolerance",
        type=float,
        default=1e-6,
        help="max absolute difference of shared statistics (default 1e-6)",
    )
    p.add_argument(
        "--check-targets",
        action="store_true",
        help="also exit 1 when a performance target is missed",
    )
    p.add_argument("--data-dir", type=Path, default=BENCH / "data")
    p.add_argument("--accuguard", type=Path, default=DEFAULT_ACCUGUARD)
    p.add_argument("--python", default="python3.11", help="interpreter for Evidently's venv")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = p.parse_args(argv)
    if args.warmup < 0:
        p.error(f"--warmup must be >= 0, got {args.warmup}")
    for name in ("rows", "repeat", "evidently_repeat"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.rss_only_rows is not None:
        return rss_only(args)
    return full(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
