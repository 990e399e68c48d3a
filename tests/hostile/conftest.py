"""A real gateway for hostile-input tests: uvicorn on loopback (in a thread), the
``fraud`` model of tests/gateway/conftest.py from a private copy of the MLflow registry,
a SQLite event log, and API tokens of every role (one of them revoked)."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from accuguard.auth import TokenStore
from accuguard.gateway import create_app
from tests.gateway.conftest import SALT, make_config
from tests.gateway.conftest import _registry_uri as _registry_uri
from tests.gateway.test_http import uvicorn_thread
from tests.rollout.support_controller import copy_registry, mlflow_client, store

BOOTSTRAP = "bootstrap-admin-secret"
MAX_BODY = 65_536  # also the Flagger webhook's own limit


@pytest.fixture(scope="module")
def live(_registry_uri, tmp_path_factory) -> Iterator[SimpleNamespace]:
    """The running gateway: ``url``, ``engine``, ``app`` and one token per role."""
    import mlflow

    tmp = tmp_path_factory.mktemp("hostile")
    registry = copy_registry(_registry_uri, tmp)
    engine = store(tmp)
    tokens = TokenStore(engine)
    revoked = tokens.create("gone", "admin")
    tokens.revoke("gone")
    config = make_config(
        registry,
        {"fraud": {"model": "fraud"}},
        store_url=f"sqlite:///{tmp / 'events.db'}",
        spool_dir=str(tmp / "spool"),
        limits={"max_body_bytes": MAX_BODY, "max_rows": 50, "max_items": 50},
        controller={"enabled": False, "traffic_poll_s": 0.5},
    )
    app = create_app(
        config,
        privacy_salt=SALT,
        registry_client=mlflow_client(registry),
        store_engine=engine,
        admin_token=BOOTSTRAP,
    )
    with uvicorn_thread(app) as url:
        yield SimpleNamespace(
            url=url,
            app=app,
            engine=engine,
            tokens={
                "viewer": tokens.create("vera", "viewer"),
                "operator": tokens.create("otto", "operator"),
                "admin": tokens.create("ada", "admin"),
                "revoked": revoked,
                "bootstrap": BOOTSTRAP,
            },
        )
    mlflow.set_tracking_uri(None)
    engine.dispose()
