"""Score the reference and current files with MLflow models (``--model``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from accuguard.errors import DataError
from accuguard.registry.models import Scorer, load_scorer
from accuguard.validate.columns import ColumnResult
from accuguard.validate.config import ValidationConfig
from accuguard.validate.performance import Roles
from accuguard.validate.sources import Source

SCORE_BATCH_ROWS = 65_536


def score_models(
    ref: Source,
    cur: Source,
    roles: Roles,
    model: str | None,
    challenger_model: str | None,
    cfg: ValidationConfig,
    notes: list[str],
) -> dict[str, ColumnResult]:
    """Fill ``roles`` with model outputs on the current file; return drift of those outputs."""
    from accuguard.validate.pipeline import drift_of_arrays

    drift: dict[str, ColumnResult] = {}
    for uri, pred_role, score_role in (
        (model, "prediction", "score"),
        (challenger_model, "challenger_prediction", "challenger_score"),
    ):
        if uri is None:
            continue
        scorer = load_scorer(uri)
        excluded = {roles.target, *roles.columns()}
        cur_pred, cur_score = _score_file(scorer, cur, excluded, cfg.decision_threshold)
        pred_name, score_name = f"{pred_role} ({uri})", f"{score_role} ({uri})"
        roles.arrays[pred_name] = cur_pred
        setattr(roles, pred_role, pred_name)
        if cur_score is not None:
            roles.arrays[score_name] = cur_score
            setattr(roles, score_role, score_name)
        ref_pred, ref_score = _score_file(scorer, ref, excluded, cfg.decision_threshold)
        drift[pred_name] = drift_of_arrays(
            pred_name, ref_pred.astype(str), cur_pred.astype(str), cfg
        )
        if cur_score is not None and ref_score is not None:
            drift[score_name] = drift_of_arrays(score_name, ref_score, cur_score, cfg)
        notes.append(f"predictions of {uri} computed on both files with mlflow.pyfunc")
    return drift


def _score_file(
    scorer: Scorer, source: Source, excluded: set[str], threshold: float
) -> tuple[np.ndarray, Any]:
    columns = scorer.input_columns or [c for c in source.columns if c not in excluded]
    missing = [c for c in columns if c not in source.columns]
    if missing:
        raise DataError(
            f"{source.path}: model {scorer.uri} needs columns {missing} that the file lacks"
        )
    preds: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    for batch in source.iter_batches(columns, batch_rows=SCORE_BATCH_ROWS):
        try:
            pred, score = scorer.predict(batch.to_pandas(), threshold)
        except Exception as exc:
            raise DataError(f"{source.path}: model {scorer.uri} failed to score: {exc}") from exc
        preds.append(np.asarray(pred))
        if score is not None:
            scores.append(score)
    return np.concatenate(preds), (np.concatenate(scores) if scores else None)
