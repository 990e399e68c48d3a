"""authorize() in a real Starlette app: 401 vs 403, roles enforced, denials audited."""

from __future__ import annotations

import json
import warnings

import pytest
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

with warnings.catch_warnings():  # the import warns that httpx2 would be preferred
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from accuguard.audit import AuditLog
from accuguard.auth import Principal, TokenStore, authorize

BOOTSTRAP = "env-admin-token-value"


def make_client(tokens: TokenStore, audit: AuditLog, needed: str = "operator") -> TestClient:
    def promote(request: Request) -> Response:
        result = authorize(request, tokens, audit, needed, "rollout.promote", deployment="fraud")
        if isinstance(result, Principal):
            return JSONResponse({"name": result.name, "role": result.role})
        return result

    route = Route("/v1/rollouts/fraud/promote", promote, methods=["POST"])
    return TestClient(Starlette(routes=[route]))


@pytest.fixture
def setup(engine):
    tokens = TokenStore(engine, bootstrap_admin_token=BOOTSTRAP)
    audit = AuditLog(engine)
    issued = {role: tokens.create(f"{role}-bot", role) for role in ("viewer", "operator", "admin")}
    return tokens, audit, issued, make_client(tokens, audit)


def post(client: TestClient, token: str | None = None, scheme: str = "Bearer"):
    headers = {} if token is None else {"Authorization": f"{scheme} {token}"}
    return client.post("/v1/rollouts/fraud/promote", headers=headers)


def denied(audit: AuditLog):
    return audit.entries(actions=["auth.denied"])


@pytest.mark.parametrize("role", ["operator", "admin"])
def test_a_role_at_or_above_the_needed_one_is_let_through_and_not_audited(setup, role):
    _tokens, audit, issued, client = setup
    response = post(client, issued[role])
    assert response.status_code == 200
    assert response.json() == {"name": f"{role}-bot", "role": role}
    assert denied(audit) == []


def test_the_bootstrap_admin_token_from_the_environment_is_let_through(setup):
    _tokens, _audit, _issued, client = setup
    response = post(client, BOOTSTRAP)
    assert response.status_code == 200
    assert response.json() == {"name": "bootstrap-admin", "role": "admin"}


def test_no_token_is_401_and_audited_as_anonymous(setup):
    _tokens, audit, _issued, client = setup
    response = post(client)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"
    [entry] = denied(audit)
    assert (entry.actor, entry.deployment, entry.decision) == ("anonymous", "fraud", "denied")
    assert entry.evidence["attempted_action"] == "rollout.promote"
    assert entry.evidence["status"] == 401
    assert entry.evidence["path"] == "/v1/rollouts/fraud/promote"


@pytest.mark.parametrize("scheme", ["Basic", "Token", ""])
def test_a_header_that_is_not_a_bearer_token_is_401(setup, scheme):
    _tokens, audit, issued, client = setup
    response = post(client, issued["admin"], scheme=scheme)
    assert response.status_code == 401
    assert len(denied(audit)) == 1


def test_an_unknown_token_is_401_and_its_value_is_not_audited(setup):
    _tokens, audit, _issued, client = setup
    bogus = "agt_this-is-not-a-real-token-but-is-long-enough"
    response = post(client, bogus)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    [entry] = denied(audit)
    assert entry.actor == "anonymous"
    assert bogus not in json.dumps(entry.to_dict())


def test_a_revoked_token_is_401(setup):
    tokens, audit, issued, client = setup
    tokens.revoke("admin-bot")
    assert post(client, issued["admin"]).status_code == 401
    assert len(denied(audit)) == 1


def test_a_role_below_the_needed_one_is_403_naming_both_roles_and_audited(setup):
    _tokens, audit, issued, client = setup
    response = post(client, issued["viewer"])
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "forbidden"
    assert "viewer" in error["message"] and "operator" in error["message"]
    [entry] = denied(audit)
    assert entry.actor == "viewer-bot"
    assert entry.evidence["role"] == "viewer" and entry.evidence["needed_role"] == "operator"
    assert issued["viewer"] not in json.dumps(entry.to_dict())


def test_admin_actions_refuse_operators(engine):
    tokens, audit = TokenStore(engine), AuditLog(engine)
    operator = tokens.create("ops", "operator")
    client = make_client(tokens, audit, needed="admin")
    assert post(client, operator).status_code == 403


def test_no_audit_entry_ever_holds_token_material(setup):
    _tokens, audit, issued, client = setup
    for token in [*issued.values(), "agt_guess", BOOTSTRAP]:
        post(client, token)
    post(client)
    dump = json.dumps([e.to_dict() for e in audit.entries()])
    assert len(denied(audit)) == 3  # viewer (403), the guess and no token (401)
    for token in [*issued.values(), "agt_guess", BOOTSTRAP]:
        assert token not in dump
    assert audit.verify().ok


def test_a_denial_is_still_denied_when_the_audit_log_cannot_be_written(engine):
    tokens = TokenStore(engine)
    viewer = tokens.create("v", "viewer")
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE audit_log"))
    client = make_client(tokens, AuditLog(engine))
    assert post(client, viewer).status_code == 403
    assert post(client).status_code == 401


def test_an_unreachable_token_store_is_503_not_500(engine):
    tokens = TokenStore(engine)
    admin = tokens.create("a", "admin")
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE api_tokens"))
    client = make_client(tokens, AuditLog(engine))
    response = post(client, admin)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "auth_unavailable"


def test_an_unknown_needed_role_is_a_programming_error(engine):
    tokens, audit = TokenStore(engine), AuditLog(engine)
    client = make_client(tokens, audit, needed="superuser")
    with pytest.raises(ValueError, match="unknown role"):
        post(client, "x")
