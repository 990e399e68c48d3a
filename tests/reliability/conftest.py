"""Fixtures of the reliability tests: a real MLflow registry, gateways, PostgreSQL servers.

Registered models (built once per test run, a few seconds; shared by xdist workers):

- ``fraud``: v1 (alias ``champion``) and v2 (alias ``challenger``), scikit-learn
  logistic regressions on ``amount`` (double) and ``age`` (long);
- ``hang``: v1 (alias ``champion``) and v2, a pyfunc model whose ``predict`` sleeps
  for an hour: a challenger that hangs.

Every test starts real ``accuguard serve`` processes (tests/reliability/procs.py).
The shared PostgreSQL comes from ``ACCUGUARD_TEST_POSTGRES_URL`` (a schema per test,
tests/store/conftest.py); tests that stop the database start a private server.
"""

from __future__ import annotations

import fcntl
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ..store.conftest import postgres_schema
from .procs import GatewayProcess, PrivatePostgres

ROW = {"amount": 1.5, "age": 40}

HANG_CODE = """
import time

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel


class Hang(PythonModel):
    _skip_type_hint_validation = True

    def predict(self, context, model_input, params=None):
        time.sleep(3600)
        return pd.Series([1] * len(model_input))


mlflow.models.set_model(Hang())
"""


def _train(root: Path) -> None:
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"amount": rng.normal(size=1000), "age": rng.integers(18, 90, size=1000)})
    signature = infer_signature(frame.head(3))
    mlflow.set_experiment("reliability")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow's advice on pip pins and type hints
        for y in ((frame.amount > 0), (frame.amount - 0.02 * (frame.age - 50) > 0)):
            with mlflow.start_run():
                mlflow.sklearn.log_model(
                    LogisticRegression().fit(frame, y.astype(int)),
                    name="model",
                    registered_model_name="fraud",
                    signature=signature,
                    pip_requirements=["scikit-learn"],
                )
        code = root / "hang_model.py"
        code.write_text(HANG_CODE)
        for _ in range(2):  # two versions: each has its own worker thread to hang
            with mlflow.start_run():
                mlflow.pyfunc.log_model(
                    name="model",
                    python_model=str(code),
                    registered_model_name="hang",
                    signature=signature,
                    pip_requirements=["mlflow"],
                )
    client = mlflow.MlflowClient()
    client.set_registered_model_alias("fraud", "champion", "1")
    client.set_registered_model_alias("fraud", "challenger", "2")
    client.set_registered_model_alias("hang", "champion", "1")


@pytest.fixture(scope="session")
def registry_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The MLflow tracking URI of the registry above (built once, under a file lock)."""
    import mlflow

    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "reliability-mlflow"
    root.mkdir(exist_ok=True)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "built").exists():
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("MLFLOW_TRACKING_URI", uri)
                mp.chdir(root)  # artifacts go next to the database
                mlflow.set_tracking_uri(uri)
                _train(root)
                mlflow.set_tracking_uri(None)
            (root / "built").touch()
    return uri


@pytest.fixture
def gateways(tmp_path: Path) -> Iterator[list[GatewayProcess]]:
    """A list to put the test's gateways in; every one still running is killed after."""
    started: list[GatewayProcess] = []
    yield started
    for gateway in started:
        gateway.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh schema on the shared test server (``ACCUGUARD_TEST_POSTGRES_URL``)."""
    with postgres_schema() as schema:
        yield schema.url


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    """A running PostgreSQL server of this test's own (stop and start it at will)."""
    server = PrivatePostgres()
    try:
        server.start()
        yield server
    finally:
        server.destroy()


def gateway_config(uri: str, store_url: str, **extra: Any) -> dict[str, Any]:
    """A gateway config serving ``fraud`` (champion only unless ``deployments`` given)."""
    return {
        "mlflow_tracking_uri": uri,
        "store_url": store_url,
        "reload_interval_s": 0,
        # a generous bound for the champion: a loaded test machine must not turn
        # answers into 504s (the hanging-challenger test checks the timeouts)
        "deployments": {"fraud": {"model": "fraud", "timeout_ms": 20_000}},
        **extra,
    }
