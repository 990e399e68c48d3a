"""validate --model / --mlflow against a real MLflow registry (SQLite store in a temp dir)."""

import json
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

mlflow = pytest.importorskip("mlflow")


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """A local MLflow tracking + registry store with two versions of 'fraud'."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield from _registry(tmp_path_factory.mktemp("mlflow"), monkeypatch)


def _registry(tmp_path, monkeypatch):
    from sklearn.linear_model import LogisticRegression

    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 3))
    y = (x[:, 0] + 0.5 * rng.normal(size=4000) > 0).astype(int)
    import pandas as pd

    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    noise = pd.DataFrame(rng.normal(size=(4000, 3)), columns=["a", "b", "c"])
    good = LogisticRegression().fit(frame, y)
    bad = LogisticRegression().fit(noise, y)  # learned nothing: worse on every metric
    mlflow.set_experiment("models")
    for model in (good, bad):
        with mlflow.start_run(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # MLflow's own advice on type hints and pip pins
            mlflow.sklearn.log_model(
                model, name="model", registered_model_name="fraud", input_example=frame.head(3)
            )
    client = mlflow.MlflowClient()
    client.set_registered_model_alias("fraud", "champion", "1")
    client.set_registered_model_alias("fraud", "challenger", "2")
    table = pa.table({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "label": y})
    pq.write_table(table, tmp_path / "ref.parquet")
    pq.write_table(table, tmp_path / "cur.parquet")
    yield tmp_path, client
    mlflow.set_tracking_uri(None)


def test_model_uri_scores_the_file_and_mlflow_run_tags_the_version(registry, capsys):
    from accuguard.cli import main

    path, client = registry
    cfg = path / "gates.yaml"
    cfg.write_text("gates: ['roc_auc >= 0.9']\n")
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "validate",
                "-r",
                str(path / "ref.parquet"),
                "-c",
                str(path / "cur.parquet"),
                "--target",
                "label",
                "--model",
                "models:/fraud@champion",
                "--config",
                str(cfg),
                "--output",
                str(path / "r.json"),
                "--html",
                str(path / "r.html"),
                "--mlflow",
            ]
        )
    assert exc.value.code == 0, capsys.readouterr().err
    report = json.loads((path / "r.json").read_text())
    assert report["performance"]["metrics"]["roc_auc"]["value"] > 0.9
    version = client.get_model_version("fraud", "1")
    assert version.tags["accuguard.validation"] == "passed"
    run = client.get_run(version.tags["accuguard.validation_run"])
    assert run.data.metrics["roc_auc"] == pytest.approx(
        report["performance"]["metrics"]["roc_auc"]["value"]
    )
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "accuguard")}
    assert {"accuguard/report.json", "accuguard/r.html"} <= artifacts


def test_two_model_uris_compare_champion_and_challenger(registry):
    from accuguard.validate.pipeline import validate

    path, _ = registry
    report = validate(
        path / "ref.parquet",
        path / "cur.parquet",
        target="label",
        model="models:/fraud@champion",
        challenger_model="models:/fraud@challenger",
    )
    by_metric = {m.metric: m for m in report.comparison.metrics}
    assert by_metric["roc_auc"].verdict == "worse"
    assert report.champion.metrics["roc_auc"].value > report.performance.metrics["roc_auc"].value


def test_unknown_model_uri_is_a_clear_error(registry, capsys):
    from accuguard.cli import main

    path, _ = registry
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "validate",
                "-r",
                str(path / "ref.parquet"),
                "-c",
                str(path / "cur.parquet"),
                "--target",
                "label",
                "--model",
                "models:/nope@champion",
            ]
        )
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert "cannot load model 'models:/nope@champion'" in err
