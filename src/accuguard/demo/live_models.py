"""The live demo's three models and their registration in MLflow."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from accuguard.demo.data import CATEGORICAL, FEATURES, transactions

MODEL = "fraud-live"
FRAUD_OFFSET = 2.0  # about 16 % fraud: a few seconds of labels carry enough positives


def _model(drop: tuple[str, ...] = ()) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [f for f in FEATURES if f not in CATEGORICAL and f not in drop]
    encode = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
            ("num", StandardScaler(), numeric),
        ],
        remainder="drop",
    )
    model = LogisticRegression(max_iter=1000, class_weight="balanced")
    return Pipeline([("encode", encode), ("model", model)])


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Hide MLflow's own prints and warnings (the timeline says what happened)."""
    with (
        contextlib.redirect_stderr(io.StringIO()),
        contextlib.redirect_stdout(io.StringIO()),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        yield


def train_models(rows: int) -> dict[str, Any]:
    """v1 champion (no distance/hour, cautious: low recall), v2 good (every feature,
    balanced classes), v3 bad (as v2, but its training data lost the Brazilian rows)."""
    train = transactions(rows, seed=21, fraud_offset=FRAUD_OFFSET).to_pandas()
    no_brazil = train[train["country"] != "BR"]
    champion = _model(("distance_km", "hour"))
    champion.set_params(model__class_weight={0: 1.0, 1: 3.0})  # flags too few frauds
    return {
        "champion": champion.fit(train[FEATURES], train["is_fraud"]),
        "good": _model().fit(train[FEATURES], train["is_fraud"]),
        "bad": _model().fit(no_brazil[FEATURES], no_brazil["is_fraud"]),
        "sample": train[FEATURES].head(5),
    }


def register_models(models: dict[str, Any], tracking_uri: str, out: Path) -> dict[str, str]:
    """Register the three models as versions of ``fraud-live``; v1 gets ``@champion``."""
    import mlflow
    import sklearn
    from mlflow.models import infer_signature

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    mlflow.set_tracking_uri(tracking_uri)
    name = "accuguard-demo-live"
    if mlflow.get_experiment_by_name(name) is None:
        mlflow.create_experiment(name, artifact_location=(out / "mlartifacts").resolve().as_uri())
    mlflow.set_experiment(name)
    client = mlflow.MlflowClient()
    sample = models["sample"]
    with _quiet():
        signature = infer_signature(sample, models["champion"].predict(sample))
    versions: dict[str, str] = {}
    for label in ("champion", "good", "bad"):
        with mlflow.start_run(run_name=f"train {label}"), _quiet():
            info = mlflow.sklearn.log_model(
                models[label],
                name="model",
                registered_model_name=MODEL,
                signature=signature,
                pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
            )
        versions[label] = str(info.registered_model_version)
    client.set_registered_model_alias(MODEL, "champion", versions["champion"])
    return versions


# -- the run -------------------------------------------------------------------------
