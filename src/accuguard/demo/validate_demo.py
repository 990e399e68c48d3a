"""The validation part of the demo: data, a champion and a weaker challenger, MLflow, validate."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from rich.console import Console

from accuguard.demo.data import CATEGORICAL, FEATURES, Shift, transactions

# We built these models ourselves in this process, so their tree arrays are trusted.
TRUSTED = ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]
WEAK_DROPS = ("distance_km", "hour")
GATES = textwrap.dedent("""\
    # Gates for the demo: every one must pass for `accuguard validate` to exit 0.
    segments: [country, device]
    decision_threshold: 0.2   # a transaction is flagged when the model's score is >= 0.2
    margin: 0.005             # non-inferiority margin for champion vs challenger
    columns:
      amount: {bounds: [0, null]}
    gates:
      - {name: ROC AUC floor, check: "roc_auc >= 0.70"}
      - {name: ROC AUC not worse than the champion, check: "comparison.roc_auc.lower >= -0.005"}
      - {name: recall within 1 point of the champion, check: "recall >= champion.recall - 0.01"}
      - {name: at most 20% of the features drift, check: "drift.share <= 0.2"}
      - {name: amount is stable, check: "psi(amount) < 0.2"}
      - {name: no missing amounts, check: "nulls(amount) <= 0.01"}
""")


@dataclass
class DemoData:
    """Paths of the generated files and the two fitted models."""

    reference: Path
    current: Path
    gates: Path
    champion: Any
    challenger: Any
    sample: Any


def champion_model() -> Any:
    """Gradient boosting on every feature (one-hot categoricals)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    encode = ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)], remainder="passthrough"
    )
    model = HistGradientBoostingClassifier(max_iter=150, random_state=0)
    return Pipeline([("encode", encode), ("model", model)])


def challenger_model() -> Any:
    """Logistic regression that does not see distance and hour: weaker on purpose."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [f for f in FEATURES if f not in CATEGORICAL and f not in WEAK_DROPS]
    encode = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
            ("num", StandardScaler(), numeric),
        ],
        remainder="drop",
    )
    return Pipeline([("encode", encode), ("model", LogisticRegression(max_iter=1000))])


def prepare(out: Path, rows: int, console: Console) -> DemoData:
    """Write the demo's reference, current and gates files into ``out``; fit both models."""
    out.mkdir(parents=True, exist_ok=True)
    console.print(f"[bold]1.[/] generating {rows:,} training, reference and current transactions")
    train = transactions(rows, seed=1).to_pandas()
    reference = transactions(rows, seed=2)
    drift = Shift(amount_scale=1.35, distance_shift_km=6.0, country_mix=0.12)
    current = transactions(rows, seed=3, shift=drift)
    console.print(
        f"   drift injected into amount (x{drift.amount_scale}), distance_km "
        f"(+{drift.distance_shift_km} km) and country ({drift.country_mix:.0%} moved to BR)"
    )
    console.print(
        "[bold]2.[/] training the champion (gradient boosting) and a weaker challenger "
        "(logistic regression without distance and hour)"
    )
    champion = champion_model().fit(train[FEATURES], train["is_fraud"])
    challenger = challenger_model().fit(train[FEATURES], train["is_fraud"])
    paths = DemoData(
        out / "reference.parquet",
        out / "current.parquet",
        out / "gates.yaml",
        champion,
        challenger,
        train[FEATURES].head(5),
    )
    pq.write_table(reference, paths.reference)
    pq.write_table(current, paths.current)
    paths.gates.write_text(GATES, encoding="utf-8")
    return paths


def register(data: DemoData, out: Path, console: Console) -> str:
    """Register both models as versions of ``fraud`` in a local MLflow store; return its URI."""
    import logging

    import mlflow
    import sklearn
    from mlflow.models import infer_signature

    logging.getLogger("mlflow").setLevel(logging.ERROR)

    uri = f"sqlite:///{(out / 'mlflow.db').resolve()}"
    mlflow.set_tracking_uri(uri)
    name = "accuguard-demo"
    if mlflow.get_experiment_by_name(name) is None:
        mlflow.create_experiment(name, artifact_location=(out / "mlartifacts").resolve().as_uri())
    for ename in ("accuguard-validation",):
        if mlflow.get_experiment_by_name(ename) is None:
            mlflow.create_experiment(
                ename, artifact_location=(out / "mlartifacts").resolve().as_uri()
            )
    mlflow.set_experiment(name)
    client = mlflow.MlflowClient()
    signature = infer_signature(data.sample, data.champion.predict_proba(data.sample))
    versions = []
    for label, model in (("champion", data.champion), ("challenger", data.challenger)):
        with mlflow.start_run(run_name=f"train {label}"):
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                registered_model_name="fraud",
                signature=signature,
                skops_trusted_types=TRUSTED,
                pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
            )
        versions.append(str(info.registered_model_version))
        client.set_registered_model_alias("fraud", label, versions[-1])
    console.print(
        f"   registered fraud v{versions[0]} as @champion and v{versions[1]} as "
        f"@challenger in {uri}"
    )
    return uri
