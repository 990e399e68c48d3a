"""Benchmark: accuguard's A/B statistics against GrowthBook's gbstats 0.8.0, same inputs.

10,000 experiment x metric pairs of summary statistics (seeded), analysed by both tools
in one run; for each test both compute, the script prints the rate (pairs per second,
median of several repeats), the speed ratio and the largest absolute difference of the
estimate, the interval bounds and the p-value::

    .venv/bin/python bench/experiments_vs_gbstats.py
    .venv/bin/python bench/experiments_vs_gbstats.py --pairs 10000 --repeats 7

Workloads (gbstats class -> accuguard call, both from the same sums):

* ``welch-relative``: ``TwoSidedTTest`` (default relative lift) on
  ``SampleMeanStatistic`` -> ``analyze_summary(SampleMean, relative=True)``;
* ``welch-absolute``: the same with ``difference_type="absolute"``;
* ``sequential``: ``SequentialTwoSidedTTest`` (tuning 5000) -> ``sequential=True``;
* ``ratio``: ``TwoSidedTTest`` on ``RatioStatistic`` -> ``RatioStats`` (delta method);
* ``cuped``: ``TwoSidedTTest`` on ``RegressionAdjustedStatistic`` -> ``CupedStats``.

gbstats runs in its own venv (bench/.venvs/gbstats, from bench/requirements-gbstats.txt,
created with ``python3.11 -m venv`` when missing) as a child process started with an
argument list; inputs and outputs go through .npz files. Timings cover building the
statistics objects from the sums and computing every result, for both tools. Exit codes:
0 all numbers agree to ``--tolerance``; 1 they disagree; 2 a tool failed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
GBSTATS_VENV = BENCH / ".venvs" / "gbstats"
REQUIREMENTS = BENCH / "requirements-gbstats.txt"
WORKLOADS = ("welch-relative", "welch-absolute", "sequential", "ratio", "cuped")
FIELDS = ("estimate", "lower", "upper", "p_value")
TUNING = 5000.0


# ----------------------------------------------------------------------------- inputs
def make_inputs(pairs: int, seed: int) -> dict[str, np.ndarray]:
    """Seeded per-arm sums for `pairs` experiment x metric pairs (c_* control, t_* treatment)."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for arm, lift in (("c", 0.0), ("t", 1.0)):
        n = rng.integers(1_000, 100_000, pairs).astype(float)
        # mean metric
        mean = rng.uniform(1, 100, pairs) * (1 + lift * rng.normal(0, 0.03, pairs))
        sd = mean * rng.uniform(0.5, 3.0, pairs)
        s = n * (mean + sd / np.sqrt(n) * rng.normal(0, 1, pairs))
        out[f"{arm}_n"] = n
        out[f"{arm}_sum"] = s
        out[f"{arm}_sum_sq"] = (n - 1) * sd**2 * rng.uniform(0.9, 1.1, pairs) + s**2 / n
        # two correlated per-unit variables: ratio (x / y) and CUPED (post y2 / pre x2)
        for tag, (mx, my, corr) in {
            "r": (
                rng.uniform(0.05, 0.5, pairs),
                rng.uniform(1, 5, pairs),
                rng.uniform(0.2, 0.8, pairs),
            ),
            "q": (
                rng.uniform(5, 50, pairs),
                rng.uniform(5, 50, pairs),
                rng.uniform(0.3, 0.9, pairs),
            ),
        }.items():
            my = my * (1 + lift * rng.normal(0, 0.03, pairs))
            sx, sy = mx * rng.uniform(0.5, 2, pairs), my * rng.uniform(0.5, 2, pairs)
            sum_x, sum_y = n * mx, n * my
            out[f"{arm}_{tag}_x"] = sum_x
            out[f"{arm}_{tag}_y"] = sum_y
            out[f"{arm}_{tag}_x2"] = (n - 1) * sx**2 + sum_x**2 / n
            out[f"{arm}_{tag}_y2"] = (n - 1) * sy**2 + sum_y**2 / n
            out[f"{arm}_{tag}_xy"] = (n - 1) * corr * sx * sy + sum_x * sum_y / n
    return out


# ----------------------------------------------------------------------------- accuguard
def run_accuguard(data: dict[str, np.ndarray], workload: str) -> dict[str, np.ndarray]:
    """One vectorised call over all pairs (plus building the statistics from the sums)."""
    from accuguard.stats.ab import CupedStats, RatioStats, SampleMean, analyze_summary

    def arm(a: str) -> Any:
        if workload == "ratio":
            return RatioStats(
                n=data[f"{a}_n"],
                sum_x=data[f"{a}_r_x"],
                sum_y=data[f"{a}_r_y"],
                sum_x2=data[f"{a}_r_x2"],
                sum_y2=data[f"{a}_r_y2"],
                sum_xy=data[f"{a}_r_xy"],
            )
        if workload == "cuped":
            return CupedStats(
                n=data[f"{a}_n"],
                sum_y=data[f"{a}_q_y"],
                sum_y2=data[f"{a}_q_y2"],
                sum_x=data[f"{a}_q_x"],
                sum_x2=data[f"{a}_q_x2"],
                sum_xy=data[f"{a}_q_xy"],
            )
        return SampleMean(n=data[f"{a}_n"], sum=data[f"{a}_sum"], sum_sq=data[f"{a}_sum_sq"])

    relative = workload != "welch-absolute"
    r = analyze_summary(
        arm("c"), arm("t"), relative=relative, sequential=workload == "sequential", tuning=TUNING
    )
    if relative:
        return {
            "estimate": r.rel_diff,
            "lower": r.rel_lower,
            "upper": r.rel_upper,
            "p_value": r.p_value,
        }
    return {"estimate": r.diff, "lower": r.diff_lower, "upper": r.diff_upper, "p_value": r.p_value}


# ----------------------------------------------------------------------------- gbstats
def _gbstats_worker(inputs: str, output: str, repeats: int) -> None:
    """Runs inside bench/.venvs/gbstats: a plain loop, one gbstats test object per pair."""
    from gbstats.frequentist.tests import (
        FrequentistConfig,
        SequentialConfig,
        SequentialTwoSidedTTest,
        TwoSidedTTest,
    )
    from gbstats.models.statistics import (
        RatioStatistic,
        RegressionAdjustedStatistic,
        SampleMeanStatistic,
    )

    data = dict(np.load(inputs))
    cols = {k: v.tolist() for k, v in data.items()}  # python floats, as gbstats gets them
    pairs = len(cols["c_n"])

    def stat(a: str, i: int, workload: str) -> Any:
        n = int(cols[f"{a}_n"][i])
        if workload == "ratio":
            return RatioStatistic(
                n=n,
                m_statistic=SampleMeanStatistic(
                    n=n, sum=cols[f"{a}_r_x"][i], sum_squares=cols[f"{a}_r_x2"][i]
                ),
                d_statistic=SampleMeanStatistic(
                    n=n, sum=cols[f"{a}_r_y"][i], sum_squares=cols[f"{a}_r_y2"][i]
                ),
                m_d_sum_of_products=cols[f"{a}_r_xy"][i],
            )
        if workload == "cuped":
            return RegressionAdjustedStatistic(
                n=n,
                post_statistic=SampleMeanStatistic(
                    n=n, sum=cols[f"{a}_q_y"][i], sum_squares=cols[f"{a}_q_y2"][i]
                ),
                pre_statistic=SampleMeanStatistic(
                    n=n, sum=cols[f"{a}_q_x"][i], sum_squares=cols[f"{a}_q_x2"][i]
                ),
                post_pre_sum_of_products=cols[f"{a}_q_xy"][i],
                theta=0,
            )
        return SampleMeanStatistic(n=n, sum=cols[f"{a}_sum"][i], sum_squares=cols[f"{a}_sum_sq"][i])

    results: dict[str, Any] = {}
    timings: dict[str, list[float]] = {}
    for workload in WORKLOADS:
        diff = "absolute" if workload == "welch-absolute" else "relative"
        times = []
        for _ in range(repeats):
            rows = []
            start = time.perf_counter()
            for i in range(pairs):
                a, b = stat("c", i, workload), stat("t", i, workload)
                if workload == "sequential":
                    test = SequentialTwoSidedTTest(
                        a,
                        b,
                        SequentialConfig(difference_type=diff, sequential_tuning_parameter=TUNING),
                    )
                else:
                    test = TwoSidedTTest(a, b, FrequentistConfig(difference_type=diff))
                res = test.compute_result()
                rows.append(
                    (res.expected, res.ci[0], res.ci[1], res.p_value, res.error_message is not None)
                )
            times.append(time.perf_counter() - start)
        arr = np.array(rows, dtype=float)
        for j, name in enumerate((*FIELDS, "error")):
            results[f"{workload}/{name}"] = arr[:, j]
        timings[workload] = times
    np.savez(output, **results)
    Path(output + ".json").write_text(json.dumps({"timings": timings}))


def ensure_gbstats_venv() -> Path:
    """Create bench/.venvs/gbstats from the pinned requirements when it is missing."""
    python = GBSTATS_VENV / "bin" / "python"
    if not python.exists():
        print(
            f"creating {GBSTATS_VENV} (python3.11 -m venv; pip install -r {REQUIREMENTS.name}) ...",
            flush=True,
        )
        subprocess.run(["python3.11", "-m", "venv", str(GBSTATS_VENV)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
                str(REQUIREMENTS),
            ],
            check=True,
        )
    return python


def run_gbstats(
    inputs: Path, workdir: Path, repeats: int
) -> tuple[dict[str, np.ndarray], dict[str, list[float]]]:
    python = ensure_gbstats_venv()
    output = workdir / "gbstats_out.npz"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [
            str(python),
            str(Path(__file__).resolve()),
            "--gbstats-worker",
            str(inputs),
            str(output),
            "--repeats",
            str(repeats),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(2)
    timings = json.loads(Path(str(output) + ".json").read_text())["timings"]
    return dict(np.load(output)), timings


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5, help="repeats per tool (median)")
    parser.add_argument("--gbstats-repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument(
        "--tolerance",
        type=float,
        default=1e-9,
        help="largest allowed absolute difference (default 1e-9)",
    )
    parser.add_argument("--gbstats-worker", nargs=2, metavar=("IN", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.gbstats_worker:
        _gbstats_worker(args.gbstats_worker[0], args.gbstats_worker[1], args.repeats)
        return 0

    sys.path.insert(0, str(REPO / "src"))
    data = make_inputs(args.pairs, args.seed)
    print(
        f"{args.pairs:,} experiment x metric pairs, seed {args.seed}; "
        f"{platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores; "
        f"median of {args.repeats} (accuguard) / {args.gbstats_repeats} (gbstats) runs"
    )
    ours: dict[str, dict[str, np.ndarray]] = {}
    our_times: dict[str, list[float]] = {}
    for workload in WORKLOADS:
        run_accuguard(data, workload)  # warm-up (imports, scipy's first calls)
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            ours[workload] = run_accuguard(data, workload)
            times.append(time.perf_counter() - start)
        our_times[workload] = times
    with tempfile.TemporaryDirectory(prefix="accuguard-bench-") as tmp:
        inputs = Path(tmp) / "inputs.npz"
        np.savez(inputs, **data)
        theirs, their_times = run_gbstats(inputs, Path(tmp), args.gbstats_repeats)

    header = (
        f"{'workload':<16}{'accuguard/s':>14}{'gbstats/s':>12}{'speed-up':>10}"
        f"{'max|Δ| est':>12}{'max|Δ| CI':>12}{'max|Δ| p':>12}{'gb errors':>10}"
    )
    print(header)
    print("-" * len(header))
    worst = 0.0
    for workload in WORKLOADS:
        ok = theirs[f"{workload}/error"] == 0  # gbstats' default output (0, [0, 0], 1)
        d = {
            f: float(np.max(np.abs(ours[workload][f][ok] - theirs[f"{workload}/{f}"][ok])))
            for f in FIELDS
        }
        ci = max(d["lower"], d["upper"])
        worst = max(worst, d["estimate"], ci, d["p_value"])
        ours_rate = args.pairs / statistics.median(our_times[workload])
        their_rate = args.pairs / statistics.median(their_times[workload])
        print(
            f"{workload:<16}{ours_rate:>14,.0f}{their_rate:>12,.0f}"
            f"{ours_rate / their_rate:>9,.0f}x{d['estimate']:>12.1e}{ci:>12.1e}"
            f"{d['p_value']:>12.1e}{int((~ok).sum()):>10}"
        )
    agree = worst <= args.tolerance
    print(
        f"largest absolute difference {worst:.2e} "
        f"({'agree' if agree else 'DISAGREE'} at tolerance {args.tolerance:g})"
    )
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
