"""Serving throughput and latency: accuguard serve vs MLflow's scoring server, same model.

One run, same machine, same load generator (wrk, Debian package ``wrk``):

1. a local MLflow registry (SQLite, temp dir) gets a HistGradientBoostingClassifier on
   20 features as ``bench@champion`` and a second version as ``bench@shadow``;
2. ``mlflow models serve --env-manager local -w 1`` serves the champion; wrk sends
   single-row requests at a fixed concurrency;
3. ``accuguard serve`` (one worker) serves the same champion with the second version as
   a shadow challenger and the event log on (SQLite), under the same load;
4. prints requests/s, p50/p95/p99 for both and the ratios, then checks that the event
   log holds one prediction per accepted request (zero lost).

    .venv/bin/python bench/gateway_vs_mlflow.py --duration 20 --connections 8
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
FEATURES = [f"f{i}" for i in range(20)]
TRUSTED = ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]
LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[%s]]
done = function(summary, latency, requests)
  io.write(string.format(
    'RESULT {"requests": %%d, "duration_us": %%d, "non2xx": %%d, "errors": %%d, '
    .. '"p50_us": %%d, "p95_us": %%d, "p99_us": %%d}\\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"server at {url} did not become ready in {timeout:.0f} s")


def register_models(tmp: Path) -> str:
    import mlflow
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier

    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.create_experiment("bench", artifact_location=(tmp / "artifacts").as_uri())
    mlflow.set_experiment("bench")
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(20_000, 20)), columns=FEATURES)
    y = (x["f0"] + 0.5 * x["f1"] - x["f2"] + rng.normal(size=20_000) > 0).astype(int)
    client = mlflow.MlflowClient()
    for alias, seed in (("champion", 0), ("shadow", 1)):
        model = HistGradientBoostingClassifier(max_iter=100, random_state=seed).fit(x, y)
        with mlflow.start_run(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                registered_model_name="bench",
                input_example=x.head(2),
                skops_trusted_types=TRUSTED,
                pip_requirements=["scikit-learn"],
            )
        client.set_registered_model_alias("bench", alias, info.registered_model_version)
    return uri


def run_wrk(url: str, body: dict, args: argparse.Namespace, tmp: Path) -> dict:
    script = tmp / "post.lua"
    script.write_text(LUA % json.dumps(body))
    cmd = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{args.duration}s",
        "--timeout",
        "5s",
        "-s",
        str(script),
        url,
    ]
    warm = _wrk_result([*cmd[:-1], "-d2s", url])  # warm-up, not measured
    res = _wrk_result(cmd)
    res["rps"] = res["requests"] / (res["duration_us"] / 1e6)
    # the warm-up's requests are logged too: count them for the zero-loss check
    res["warmup_accepted"] = warm["requests"] - warm["non2xx"]
    return res


def _wrk_result(cmd: list[str]) -> dict:
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


@contextlib.contextmanager
def server(cmd: list[str], env: dict[str, str], ready_url: str, log: Path):
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT)
        try:
            wait_http(ready_url)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()


def bench_mlflow(
    uri: str, args: argparse.Namespace, tmp: Path, row: dict, extra_env: dict[str, str]
) -> list[dict]:
    port = free_port()
    # mlflow starts `uvicorn` through a shell: the venv's bin must be on PATH.
    path = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PATH": path, **extra_env}
    cmd = [
        str(VENV_BIN / "mlflow"),
        "models",
        "serve",
        "-m",
        "models:/bench@champion",
        "--env-manager",
        "local",
        "-w",
        "1",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    body = {"dataframe_records": [row]}
    with server(cmd, env, f"http://127.0.0.1:{port}/ping", tmp / "mlflow.log"):
        return [
            run_wrk(f"http://127.0.0.1:{port}/invocations", body, args, tmp)
            for _ in range(args.repeat)
        ]


def bench_accuguard(
    uri: str, args: argparse.Namespace, tmp: Path, row: dict
) -> tuple[list[dict], int]:
    port = free_port()
    store = tmp / "events.db"
    cfg = tmp / "deployments.yaml"
    cfg.write_text(
        f"store_url: sqlite:///{store}\n"
        f"spool_dir: {tmp / 'spool'}\n"
        f"mlflow_tracking_uri: {uri}\n"
        "deployments:\n"
        "  bench:\n"
        "    model: bench\n"
        "    champion_alias: champion\n"
        "    challengers:\n"
        "      - {name: shadow, alias: shadow, mode: shadow}\n"
    )
    # unit ids are hashed with a secret salt; a benchmark-only value
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "ACCUGUARD_PRIVACY_SALT": "bench-salt"}
    cmd = [
        str(VENV_BIN / "accuguard"),
        "serve",
        "--config",
        str(cfg),
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    body = {"row": row}
    results = []
    with server(cmd, env, f"http://127.0.0.1:{port}/readyz", tmp / "accuguard.log"):
        for _ in range(args.repeat):
            results.append(
                run_wrk(f"http://127.0.0.1:{port}/v1/deployments/bench/predict", body, args, tmp)
            )
    accepted = sum(r["requests"] - r["non2xx"] + r["warmup_accepted"] for r in results)
    stored = count_predictions(store)
    return results, stored - accepted


def count_predictions(store: Path) -> int:
    import sqlite3

    with contextlib.closing(sqlite3.connect(store)) as con:
        # shadow rows are logged too; count the champion's answers to callers
        return int(
            con.execute("select count(*) from predictions where mode != 'shadow'").fetchone()[0]
        )


def summary(name: str, runs: list[dict]) -> dict:
    med = {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50_us", "p95_us", "p99_us")}
    non2xx = sum(r["non2xx"] + r["errors"] for r in runs)
    ms = [med[k] / 1000 for k in ("p50_us", "p95_us", "p99_us")]
    print(f"{name:<32} {med['rps']:>10,.0f} {ms[0]:>9.2f} {ms[1]:>9.2f} {ms[2]:>9.2f} {non2xx:>8}")
    return med


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=20, help="seconds per measured run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--repeat", type=int, default=3, help="measured runs per server")
    parser.add_argument(
        "--only-accuguard",
        action="store_true",
        help="skip MLflow's server (fast iteration; no ratios are printed)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: install it with `apt-get install -y wrk`")
    rng = np.random.default_rng(1)
    row = {f: round(float(v), 4) for f, v in zip(FEATURES, rng.normal(size=20), strict=True)}
    with tempfile.TemporaryDirectory(prefix="accuguard-bench-") as d:
        tmp = Path(d)
        uri = register_models(tmp)
        # MLflow as shipped, and with OpenMP capped at one thread per process (its
        # request threads otherwise oversubscribe the cores with the tree model's
        # OpenMP threads); the ratio is taken against the faster of the two.
        ml_default = ml_omp1 = None
        if not args.only_accuguard:
            ml_default = bench_mlflow(uri, args, tmp, row, {})
            ml_omp1 = bench_mlflow(uri, args, tmp, row, {"OMP_NUM_THREADS": "1"})
        ag, lost = bench_accuguard(uri, args, tmp, row)
        print(
            f"\n{args.connections} connections, {args.duration} s x {args.repeat} runs each, "
            f"single-row requests; medians over runs; {os.cpu_count()} cores"
        )
        print(
            f"{'server':<24} {'req/s':>10} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9} {'errors':>8}"
        )
        m = None
        if ml_default is not None and ml_omp1 is not None:
            m0 = summary("mlflow models serve", ml_default)
            m1 = summary("  same, OMP_NUM_THREADS=1", ml_omp1)
            m = max(m0, m1, key=lambda r: r["rps"])
        a = summary("accuguard serve (+shadow, log)", ag)
        if m is not None:
            print(
                f"\nthroughput ratio accuguard/mlflow: {a['rps'] / m['rps']:.1f}x; "
                f"p99 ratio: {a['p99_us'] / m['p99_us']:.2f}"
            )
        # wrk counts a request only when its answer arrived before the run ended; the
        # requests in flight at that moment (at most one per connection) were served and
        # logged but not counted, so stored may exceed counted by that much, never fall short.
        in_flight = args.connections * args.repeat * 2  # measured runs and warm-ups
        print(
            f"events stored - responses counted by wrk: {lost:+d} "
            f"(must be >= 0 and <= {in_flight} requests in flight at wrk's cut-offs)"
        )
        if not 0 <= lost <= in_flight:
            sys.exit(1)


if __name__ == "__main__":
    main()
