"""Model versions from the real registry: aliases, signatures, and the sklearn fast path."""

from __future__ import annotations

import numpy as np
import pytest

from accuguard.gateway.models import Column, ModelLoadError, load_version, resolve_version


@pytest.fixture(scope="module")
def client(registry):
    import mlflow

    return mlflow.MlflowClient(tracking_uri=registry[0], registry_uri=registry[0])


def test_alias_resolves_to_its_version_number(client):
    assert resolve_version(client, "fraud", None, "champion") == "1"
    assert resolve_version(client, "fraud", None, "challenger") == "2"
    assert resolve_version(client, "fraud", 2, None) == "2"


def test_unknown_alias_or_version_is_a_clear_error(client):
    with pytest.raises(ModelLoadError, match=r"cannot resolve models:/fraud@nobody"):
        resolve_version(client, "fraud", None, "nobody")
    with pytest.raises(ModelLoadError, match=r"cannot resolve models:/fraud/99"):
        resolve_version(client, "fraud", 99, None)
    with pytest.raises(ModelLoadError, match=r"cannot load models:/nomodel/1"):
        load_version("nomodel", "1")


def test_handle_keeps_version_and_signature(registry):
    handle = load_version("fraud", "1")
    assert (handle.name, handle.version, handle.uri) == ("fraud", "1", "models:/fraud/1")
    assert handle.columns == (
        Column("amount", "double"),
        Column("age", "long"),
        Column("country", "string"),
    )
    assert handle.fast_path
    assert handle.allow_missing is False  # logistic regression cannot take NaN


def test_fast_path_matches_pyfunc_predictions_and_predict_proba(registry):
    _, frame = registry
    handle = load_version("fraud", "2")
    sample = frame.sample(200, random_state=1)
    rows = sample.to_dict(orient="records")
    out = handle.predict(rows)
    expected = handle.model.predict(sample)  # MLflow's own pyfunc path
    assert out.labels == np.asarray(expected).tolist()
    proba = handle.estimator.predict_proba(sample)[:, 1]
    np.testing.assert_allclose(out.scores, proba, rtol=1e-12)


def test_numeric_fast_path_takes_nan_when_the_estimator_does(registry):
    handle = load_version("risk", "1")
    assert handle.fast_path and handle.allow_missing  # gradient boosting handles NaN
    rows = [{"f0": 1.0, "f1": None, "f2": 0.0, "f3": 0.0}, {"f0": -1.0, "f1": 0, "f2": 0, "f3": 0}]
    out = handle.predict(rows)
    import pandas as pd

    frame = pd.DataFrame(rows, dtype=float)
    assert out.labels == handle.estimator.predict(frame).tolist()


def test_custom_pyfunc_goes_through_pyfunc_predict(registry):
    handle = load_version("sleepy", "1")
    assert not handle.fast_path
    out = handle.predict([{"amount": 1.0, "age": 3, "country": "fr"}] * 2)
    assert out.labels == [1, 1] and out.scores is None
