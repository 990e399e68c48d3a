"""Load an MLflow model and score a table with it (labels and, when it can, probabilities)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from accuguard.errors import InputError

_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[\w-]+))$")


@dataclass(frozen=True)
class ModelRef:
    """A registered model version named by a ``models:/`` URI."""

    uri: str
    name: str
    version: str | None
    alias: str | None


def parse_model_uri(uri: str) -> ModelRef:
    """Parse ``models:/name/3`` or ``models:/name@alias``; other URIs give name ``""``."""
    match = _URI.match(uri)
    if match is None:
        return ModelRef(uri, "", None, None)
    return ModelRef(uri, match["name"], match["version"], match["alias"])


@dataclass
class Scorer:
    """A loaded pyfunc model with the input columns it expects."""

    uri: str
    model: Any
    input_columns: list[str] | None

    def predict(self, frame: Any, threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray | None]:
        """Predicted labels and, for a classifier with ``predict_proba``, the positive score.

        A binary classifier's label is ``classes_[1]`` where the score is at least
        ``threshold``; a multiclass one's is the most probable class.
        """
        raw = _raw(self.model)
        if raw is not None and hasattr(raw, "predict_proba") and hasattr(raw, "classes_"):
            proba = np.asarray(raw.predict_proba(frame), dtype=np.float64)
            classes = np.asarray(raw.classes_)
            if proba.shape[1] == 2:
                score = proba[:, 1]
                return np.where(score >= threshold, classes[1], classes[0]), score
            return classes[np.argmax(proba, axis=1)], None
        out = self.model.predict(frame)
        arr = np.asarray(getattr(out, "to_numpy", lambda: out)())
        if arr.ndim == 2 and arr.shape[1] >= 2:
            return np.argmax(arr, axis=1), (arr[:, -1] if arr.shape[1] == 2 else None)
        return arr.reshape(-1), None


def load_scorer(uri: str) -> Scorer:
    """Load ``uri`` with ``mlflow.pyfunc``; a bad URI is an :class:`InputError` naming it."""
    import mlflow.pyfunc

    try:
        model = mlflow.pyfunc.load_model(uri)
    except Exception as exc:  # MlflowException, OSError: report, never a traceback
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot load model {uri!r}: {first}") from exc
    schema = model.metadata.get_input_schema()
    columns = (
        list(schema.input_names()) if schema is not None and schema.has_input_names() else None
    )
    return Scorer(uri, model, columns)


def _raw(model: Any) -> Any:
    try:
        return model.get_raw_model()
    except (NotImplementedError, AttributeError):
        return None
