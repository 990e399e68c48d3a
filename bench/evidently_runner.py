"""Run Evidently's DataDriftPreset on two Parquet files and dump per-column results as JSON.

Runs inside Evidently's own virtual environment (bench/.venvs/evidently, Python 3.11,
pandas < 3), started by bench/validate_vs_evidently.py, which measures this process's
wall time and peak RSS from outside (os.wait4)::

    python evidently_runner.py REF.parquet CUR.parquet OUT.json \
        --numerical num_00,num_01 --categorical cat_0,cat_1

The column types are given explicitly (a ``DataDefinition``) so Evidently does not have to
guess them. Evidently 0.7's default drift method, for more than 1000 reference rows, is the
normed Wasserstein distance for numeric columns with more than 5 distinct values and the
Jensen-Shannon distance for categorical ones (``_get_default_stattest`` in
``evidently/legacy/calculations/stattests/registry.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference")
    parser.add_argument("current")
    parser.add_argument("output")
    parser.add_argument("--numerical", default="", help="comma-separated numeric columns")
    parser.add_argument("--categorical", default="", help="comma-separated categorical columns")
    return parser.parse_args(argv)


def _split(text: str) -> list[str]:
    return [c for c in text.split(",") if c]


def _column_results(snapshot_dict: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{column: {method, threshold, value}}`` from the ValueDrift metrics of a snapshot."""
    out: dict[str, dict[str, Any]] = {}
    for metric in snapshot_dict["metrics"]:
        config = metric.get("config", {})
        if not str(config.get("type", "")).endswith("ValueDrift"):
            continue
        out[config["column"]] = {
            "method": config.get("method"),
            "threshold": config.get("threshold"),
            "value": float(metric["value"]),
        }
    return out


def main(argv: list[str]) -> int:
    args = _parse_args(argv)
    t0 = time.perf_counter()
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently import __version__ as evidently_version
    from evidently.presets import DataDriftPreset

    t_import = time.perf_counter()
    numerical, categorical = _split(args.numerical), _split(args.categorical)
    columns = numerical + categorical or None
    reference = pd.read_parquet(args.reference, columns=columns)
    current = pd.read_parquet(args.current, columns=columns)
    t_load = time.perf_counter()
    definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
    ref_ds = Dataset.from_pandas(reference, data_definition=definition)
    cur_ds = Dataset.from_pandas(current, data_definition=definition)
    snapshot = Report([DataDriftPreset()]).run(current_data=cur_ds, reference_data=ref_ds)
    t_run = time.perf_counter()
    result = {
        "evidently_version": evidently_version,
        "pandas_version": pd.__version__,
        "rows": {"reference": len(reference), "current": len(current)},
        "seconds": {
            "import": t_import - t0,
            "load": t_load - t_import,
            "report": t_run - t_load,
        },
        "columns": _column_results(snapshot.dict()),
    }
    with open(args.output, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
