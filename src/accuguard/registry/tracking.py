"""Log a validation as an MLflow run and tag the model version with the verdict."""

from __future__ import annotations

import math
import re
from pathlib import Path

from accuguard.errors import InputError
from accuguard.registry.models import parse_model_uri
from accuguard.report.validation import ValidationReport

VALIDATION_TAG = "accuguard.validation"
EXPERIMENT = "accuguard-validation"


def log_validation(
    report: ValidationReport,
    json_path: Path | None,
    html_path: Path | None,
    model_uri: str | None,
    experiment: str = EXPERIMENT,
) -> str:
    """Log metrics and the reports as an MLflow run; tag ``model_uri``'s version.

    Returns the run id. The tag ``accuguard.validation`` is ``passed`` or ``failed``;
    ``accuguard.validation_run`` points at the run that holds the evidence.
    """
    import mlflow
    from mlflow import MlflowClient

    verdict = "passed" if report.passed else "failed"
    try:
        mlflow.set_experiment(experiment)
        with mlflow.start_run(run_name="accuguard validate") as run:
            mlflow.log_metrics(_metrics(report))
            mlflow.set_tags(
                {
                    VALIDATION_TAG: verdict,
                    "accuguard.schema": report.schema_version,
                    "accuguard.model_uri": model_uri or "",
                }
            )
            mlflow.log_text(report.to_json(), "accuguard/report.json")
            if html_path is not None and html_path.exists():
                mlflow.log_artifact(str(html_path), "accuguard")
            run_id = run.info.run_id
        if model_uri:
            ref = parse_model_uri(model_uri)
            if ref.name:
                client = MlflowClient()
                version = ref.version
                if version is None:  # models:/name@alias (the URI has one or the other)
                    alias = str(ref.alias)
                    version = client.get_model_version_by_alias(ref.name, alias).version
                client.set_model_version_tag(ref.name, version, VALIDATION_TAG, verdict)
                client.set_model_version_tag(ref.name, version, "accuguard.validation_run", run_id)
    except InputError:
        raise
    except Exception as exc:  # tracking server down, bad URI: say so, keep the local reports
        raise InputError(f"cannot log the validation to MLflow: {exc}") from exc
    return str(run_id)


def _metrics(report: ValidationReport) -> dict[str, float]:
    out: dict[str, float] = {
        "passed": float(report.passed),
        "drift_share": report.drift.share,
        "drifted_columns": float(report.drift.count),
        "duplicate_rows": float(report.quality.duplicates.current),
    }
    if report.performance is not None:
        for name, est in report.performance.metrics.items():
            if est.value is not None and math.isfinite(est.value):
                out[name] = est.value
    for name, col in report.drift.columns.items():
        if col.statistic is not None:
            out[f"drift.{_safe(name)}.{col.method}"] = col.statistic
    return out


def _safe(name: str) -> str:
    return re.sub(r"[^\w\-./ ]", "_", name)[:200]
