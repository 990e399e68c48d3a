"""Validation runs of ``accuguard validate`` in MLflow, per model version.

``accuguard validate --mlflow`` (docs/validate.md) logs one run per validation in
the experiment ``accuguard-validation``, tagged ``accuguard.validation``
(``passed``/``failed``) and ``accuguard.model_uri``, with ``accuguard/report.json`` and
the HTML report under ``accuguard/``. The dashboard lists those runs and serves the
HTML artifact (read through the MLflow client, so any artifact store works).
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accuguard.registry.tracking import EXPERIMENT, VALIDATION_TAG

RUN_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_RUNS = 200


@dataclass(frozen=True)
class ValidationRun:
    """One logged validation."""

    run_id: str
    model_uri: str
    verdict: str
    started_at: float  # unix seconds
    html_path: str | None  # artifact path of the HTML report, if logged


def _html_artifact(client: Any, run_id: str) -> str | None:
    for item in client.list_artifacts(run_id, "accuguard"):
        if not item.is_dir and item.path.endswith(".html"):
            return str(item.path)
    return None


def validation_runs(client: Any, experiment: str = EXPERIMENT) -> list[ValidationRun]:
    """The validation runs, newest first (at most :data:`MAX_RUNS`); [] without the
    experiment."""
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    runs = client.search_runs(
        [found.experiment_id],
        filter_string=f"tags.`{VALIDATION_TAG}` != ''",
        order_by=["attributes.start_time DESC"],
        max_results=MAX_RUNS,
    )
    out = []
    for run in runs:
        tags = run.data.tags
        out.append(
            ValidationRun(
                run_id=run.info.run_id,
                model_uri=tags.get("accuguard.model_uri") or "(no model)",
                verdict=tags.get(VALIDATION_TAG, "?"),
                started_at=(run.info.start_time or 0) / 1000.0,
                html_path=_html_artifact(client, run.info.run_id),
            )
        )
    return out


def by_model(runs: list[ValidationRun]) -> dict[str, list[ValidationRun]]:
    """Runs grouped by model URI (``models:/fraud/7``), URIs sorted."""
    out: dict[str, list[ValidationRun]] = {}
    for run in runs:
        out.setdefault(run.model_uri, []).append(run)
    return dict(sorted(out.items()))


def html_report(client: Any, run_id: str) -> str | None:
    """The HTML report of a validation run, or None (unknown run, or no HTML logged)."""
    if not RUN_ID.match(run_id):
        return None
    try:
        run = client.get_run(run_id)
    except Exception:
        return None
    if VALIDATION_TAG not in run.data.tags:
        return None
    path = _html_artifact(client, run_id)
    if path is None:
        return None
    with tempfile.TemporaryDirectory(prefix="accuguard-ui-") as tmp:
        local = client.download_artifacts(run_id, path, tmp)
        return Path(local).read_text(encoding="utf-8")
