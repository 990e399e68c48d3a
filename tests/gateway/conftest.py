"""Shared fixtures: a real MLflow registry (SQLite) with real models, an in-memory sink.

Registered models (built once per test session, about 10 s):

- ``fraud``: v1 and v2 are scikit-learn pipelines (one-hot ``country`` + logistic
  regression) on ``amount`` (double), ``age`` (long), ``country`` (string); v2 learned
  a different rule, so it disagrees with v1 on part of the rows. Aliases:
  ``champion`` -> 1, ``challenger`` -> 2.
- ``risk``: v1 a HistGradientBoostingClassifier on ``f0..f3`` (handles NaN).
- ``sleepy``: a custom pyfunc model (models-from-code): v1 sleeps 200 ms then answers
  1, v2 raises, v3 sleeps 2 s (a model that hangs, for timeouts).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

SALT = "test-salt"
ROW = {"amount": 1.5, "age": 40, "country": "us"}

SLEEPY_CODE = """
import time

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel


class Sleepy(PythonModel):
    _skip_type_hint_validation = True

    def load_context(self, context):
        config = context.model_config or {}
        self.sleep_s = float(config.get("sleep_s", 0.0))
        self.fail = bool(config.get("fail", False))

    def predict(self, context, model_input, params=None):
        time.sleep(self.sleep_s)
        if self.fail:
            raise RuntimeError("this shadow model is broken")
        return pd.Series([1] * len(model_input))


mlflow.models.set_model(Sleepy())
"""


class MemorySink:
    """An in-memory EventSink (the protocol of accuguard.store.records)."""

    def __init__(self, ready: bool = True) -> None:
        self.predictions: list[Any] = []
        self.feedback: list[Any] = []
        self.events: list[Any] = []
        self.is_ready = ready
        self.flushed = 0
        self._lock = threading.Lock()

    def submit_predictions(self, records):
        with self._lock:
            self.predictions.extend(records)

    def submit_feedback(self, records):
        with self._lock:
            self.feedback.extend(records)

    def submit_events(self, records):
        with self._lock:
            self.events.extend(records)

    def stats(self):
        return {"queue_depth": 3.0, "spool_bytes": 128.0, "spooling": 0.0}

    def ready(self):
        return self.is_ready

    def flush(self, timeout=10.0):
        self.flushed += 1
        return True

    def close(self, timeout=30.0):
        pass

    def by_variant(self, variant: str) -> list[Any]:
        with self._lock:
            return [p for p in self.predictions if p.variant == variant]


def make_frame():
    """The training frame of the ``fraud`` models (seeded: the same in every process)."""
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 2000
    return pd.DataFrame(
        {
            "amount": rng.normal(size=n),
            "age": rng.integers(18, 90, size=n),
            "country": rng.choice(["fr", "de", "us"], size=n),
        }
    )


def _train(path):
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = make_frame()
    y1 = ((frame.amount + (frame.country == "us")) > 0.5).astype(int)
    y2 = ((frame.amount - 0.02 * (frame.age - 50)) > 0.3).astype(int)

    def pipeline(y):
        encode = make_column_transformer((OneHotEncoder(), ["country"]), remainder="passthrough")
        return make_pipeline(encode, LogisticRegression(max_iter=500)).fit(frame, y)

    rng = np.random.default_rng(1)
    numeric = pd.DataFrame(rng.normal(size=(500, 4)), columns=[f"f{i}" for i in range(4)])
    hgb = HistGradientBoostingClassifier(max_iter=20).fit(numeric, (numeric.f0 > 0).astype(int))
    code = path / "sleepy_model.py"
    code.write_text(SLEEPY_CODE)
    trusted = ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]
    mlflow.set_experiment("gateway-models")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow's advice on pip pins and type hints
        # explicit signatures and no input examples: logging then never runs the models
        fraud_signature = infer_signature(frame.head(3))
        numeric_signature = infer_signature(numeric.head(3))
        assert fraud_signature.inputs.has_input_names()
        for model in (pipeline(y1), pipeline(y2)):
            with mlflow.start_run():
                mlflow.sklearn.log_model(
                    model,
                    name="model",
                    registered_model_name="fraud",
                    signature=fraud_signature,
                    pip_requirements=["scikit-learn"],
                )
        with mlflow.start_run():
            mlflow.sklearn.log_model(
                hgb,
                name="model",
                registered_model_name="risk",
                signature=numeric_signature,
                pip_requirements=["scikit-learn"],
                skops_trusted_types=trusted,
            )
        for config in ({"sleep_s": 0.2}, {"fail": True}, {"sleep_s": 2.0}):
            with mlflow.start_run():
                mlflow.pyfunc.log_model(
                    name="model",
                    python_model=str(code),
                    registered_model_name="sleepy",
                    signature=fraud_signature,
                    pip_requirements=["mlflow"],
                    model_config=config,
                )
    client = mlflow.MlflowClient()
    client.set_registered_model_alias("fraud", "champion", "1")
    client.set_registered_model_alias("fraud", "challenger", "2")
    client.set_registered_model_alias("risk", "champion", "1")
    client.set_registered_model_alias("sleepy", "champion", "1")
    client.set_registered_model_alias("sleepy", "broken", "2")


@pytest.fixture(scope="session")
def _registry_uri(tmp_path_factory):
    """Build the registry once per test run, shared by pytest-xdist workers (file lock)."""
    import mlflow

    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "gateway-mlflow"
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
            (root / "built").touch()
    return uri


@pytest.fixture(scope="module")
def registry(_registry_uri):
    """``(tracking_uri, frame)``: the registry described in the module docstring."""
    import mlflow

    mlflow.set_tracking_uri(_registry_uri)  # the registry URI follows it
    with warnings.catch_warnings():  # MLflow warns once, at import, in this process
        warnings.simplefilter("ignore")
        from accuguard.gateway.models import load_version, resolve_version

        resolve_version(mlflow.MlflowClient(), "fraud", None, "champion")
        load_version("sleepy", "1")
    yield _registry_uri, make_frame()
    mlflow.set_tracking_uri(None)


def make_config(uri: str, deployments: dict[str, Any], **extra: Any):
    """A GatewayConfig on the test registry; polling off unless asked."""
    from accuguard.gateway.config import GatewayConfig

    return GatewayConfig.model_validate(
        {
            "mlflow_tracking_uri": uri,
            "reload_interval_s": 0,
            "deployments": deployments,
            **extra,
        }
    )


FRAUD = {"model": "fraud"}


def wait_ready(client, timeout: float = 60.0) -> dict[str, Any]:
    """Poll /readyz until 200 (models loaded); return its body."""
    deadline = time.monotonic() + timeout
    while True:
        r = client.get("/readyz")
        if r.status_code == 200:
            return r.json()
        if time.monotonic() > deadline:
            raise AssertionError(f"not ready after {timeout} s: {r.json()}")
        time.sleep(0.05)


def client_for(app):
    """Starlette's TestClient (its import warns that httpx2 would be preferred)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    return TestClient(app)


@contextlib.contextmanager
def serving(config, sink=None, **kwargs) -> Iterator[tuple[Any, MemorySink]]:
    """A started app (lifespan run, models loaded) behind a Starlette TestClient."""
    from accuguard.gateway import create_app

    sink = MemorySink() if sink is None else sink
    kwargs.setdefault("privacy_salt", SALT)
    app = create_app(config, sink=sink, **kwargs)
    with client_for(app) as client:
        wait_ready(client)
        yield client, sink


async def started(app):
    """Run ``app``'s lifespan startup and wait for readiness (for asyncio tests)."""
    gateway = app.state.gateway
    await gateway.start()
    deadline = time.monotonic() + 60
    while set(gateway.reloader.deployments) < set(gateway.config.deployments):
        if time.monotonic() > deadline:
            raise AssertionError(f"models not loaded: {gateway.reloader.errors}")
        await asyncio.sleep(0.02)
    return gateway


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (numpy's default linear method)."""
    return float(np.percentile(np.asarray(values), q))
