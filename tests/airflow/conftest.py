"""Fixtures for the Airflow tests: a local MLflow registry and a real Airflow 3 home.

The registry (SQLite, in a temp dir) holds ``fraud`` versions 1 and 2 of the same
scikit-learn classifier (``champion`` -> 1, ``challenger`` -> 2), and three files:
``ref.parquet`` and ``cur.parquet`` (the training data, ROC AUC about 0.93) and
``bad.parquet`` (the same rows with flipped labels: ROC AUC about 0.07).

Airflow runs in its own virtual environment (its pins clash with uv.lock), named by
``ACCUGUARD_TEST_AIRFLOW_VENV``, which .ci/run sets after ``.ci/build-airflow-venv``.
"""

from __future__ import annotations

import os
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

AIRFLOW_ENV = "ACCUGUARD_TEST_AIRFLOW_VENV"
HOW_TO_RUN = (
    f'needs Airflow 3 in its own venv: export {AIRFLOW_ENV}="$(.ci/build-airflow-venv)" '
    "(builds .cache/venvs/airflow from .ci/airflow-requirements.txt, measured 10-25 s here "
    "with a warm or cold uv cache)"
)


def airflow_venv() -> Path:
    """The Airflow venv; skip (or, in CI, fail) when it is not configured."""
    value = os.environ.get(AIRFLOW_ENV)
    if not value:
        if os.environ.get("CI"):
            pytest.fail(f"{AIRFLOW_ENV} is not set in CI: .ci/run must build the venv")
        pytest.skip(HOW_TO_RUN)
    venv = Path(value)
    if not (venv / "bin" / "airflow").exists():
        pytest.fail(f"{AIRFLOW_ENV}={value}: no bin/airflow there")
    return venv


def build_registry(root: Path) -> str:
    """Train, log and register the ``fraud`` model in ``root``; return the tracking URI."""
    import mlflow
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    uri = f"sqlite:///{root / 'mlflow.db'}"
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 3))
    y = (x[:, 0] + 0.5 * rng.normal(size=2000) > 0).astype(int)
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    model = LogisticRegression().fit(frame, y)
    previous = os.getcwd()
    os.chdir(root)  # artifacts go next to the database
    try:
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment("models")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # MLflow's advice on pip pins and type hints
            for _ in range(2):
                with mlflow.start_run():
                    mlflow.sklearn.log_model(
                        model,
                        name="model",
                        registered_model_name="fraud",
                        signature=infer_signature(frame.head(3)),
                        pip_requirements=["scikit-learn"],
                    )
        client = mlflow.MlflowClient()
        client.set_registered_model_alias("fraud", "champion", "1")
        client.set_registered_model_alias("fraud", "challenger", "2")
    finally:
        os.chdir(previous)
        mlflow.set_tracking_uri(None)
    columns = {"a": x[:, 0], "b": x[:, 1], "c": x[:, 2]}
    pq.write_table(pa.table({**columns, "label": y}), root / "ref.parquet")
    pq.write_table(pa.table({**columns, "label": y}), root / "cur.parquet")
    pq.write_table(pa.table({**columns, "label": 1 - y}), root / "bad.parquet")
    return uri


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """``(folder, tracking URI)`` of a fresh registry (see the module docstring)."""
    root = tmp_path_factory.mktemp("airflow-mlflow")
    return root, build_registry(root)


def client_for(uri: str):  # type: ignore[no-untyped-def]
    """An MlflowClient on ``uri`` (tracking and registry)."""
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


class AirflowHome:
    """An AIRFLOW_HOME with a migrated SQLite metadata DB and the installed DAGs."""

    def __init__(self, venv: Path, home: Path, dags: Path, mlflow_uri: str, cwd: Path) -> None:
        self.venv, self.home, self.dags, self.cwd = venv, home, dags, cwd
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AIRFLOW", "MLFLOW", "PYTEST", "PYTHON"))
        }
        self.env.update(
            {
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
                "MLFLOW_TRACKING_URI": mlflow_uri,
                "PATH": f"{venv / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            }
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        """``airflow *args`` in the background (output in ``.stdout``, stderr merged)."""
        return subprocess.Popen(
            [str(self.venv / "bin" / "airflow"), *args],
            env=self.env,
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def run(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        """``airflow *args`` (an argument list, never a shell string), output captured."""
        return subprocess.run(
            [str(self.venv / "bin" / "airflow"), *args],
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture(scope="session")
def airflow_home(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> AirflowHome:
    """A migrated Airflow home; its DAGs folder filled by ``accuguard airflow install-dags``."""
    from accuguard.cli import main

    venv = airflow_venv()
    home = tmp_path_factory.mktemp("airflow-home")
    dags = home / "dags"
    with pytest.raises(SystemExit) as exc:
        main(["airflow", "install-dags", str(dags), "--trainer", "retrain_stub:train"])
    assert exc.value.code in (0, None)
    af = AirflowHome(venv, home, dags, "", home)
    # the metadata DB migrates while the registry is built (two processes, two cores)
    migrate = af.start("db", "migrate")
    root, uri = request.getfixturevalue("registry")
    af.cwd = root
    af.env["MLFLOW_TRACKING_URI"] = uri
    af.env["ACCUGUARD_TEST_REGISTRY_DIR"] = str(root)
    # the trainer the retrain DAG calls (tests/airflow/retrain_stub.py) must be importable
    af.env["PYTHONPATH"] = str(Path(__file__).parent)
    out, _ = migrate.communicate(timeout=240)
    assert migrate.returncode == 0, out[-3000:]
    return af


from tests.gateway.conftest import _registry_uri  # noqa: E402, F401 (session fixture)
