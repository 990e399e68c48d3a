"""``accuguard token create|list|revoke``: printed once, audited, exit codes."""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner

from accuguard.audit import AuditLog
from accuguard.auth import Principal, TokenStore
from accuguard.auth.cli import app
from accuguard.store import current_revision, head_revision, make_engine

runner = CliRunner()
TOKEN = re.compile(r"agt_[A-Za-z0-9_-]{43}")


def create(url: str, name: str, role: str) -> str:
    result = runner.invoke(
        app, ["create", name, "--role", role, "--store-url", url, "--actor", "alice"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == TOKEN.search(result.stdout).group(0)
    return result.stdout.strip()


def test_create_prints_a_working_token_once_and_audits_without_it(store_url):
    token = create(store_url, "ci", "operator")
    engine = make_engine(store_url)
    try:
        assert TokenStore(engine).authenticate(token) == Principal("ci", "operator")
        [entry] = AuditLog(engine).entries(actions=["token.create"])
        assert entry.actor == "alice"
        assert entry.evidence == {"token_name": "ci", "role": "operator"}
        assert token not in json.dumps(entry.to_dict())
    finally:
        engine.dispose()


def test_create_makes_a_new_sqlite_database_at_the_head_revision(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    create(url, "ci", "viewer")
    assert current_revision(url) == head_revision()


def test_list_shows_tokens_but_never_their_values(sqlite_store):
    token = create(sqlite_store, "ci", "admin")
    table = runner.invoke(app, ["list", "--store-url", sqlite_store])
    assert table.exit_code == 0
    assert "ci" in table.output and "admin" in table.output
    listed = runner.invoke(app, ["list", "--store-url", sqlite_store, "--json"])
    assert [t["name"] for t in json.loads(listed.output)] == ["ci"]
    assert token not in table.output + listed.output


def test_revoke_exits_0_then_1_and_the_token_stops_working(sqlite_store):
    token = create(sqlite_store, "ci", "admin")
    first = runner.invoke(app, ["revoke", "ci", "--store-url", sqlite_store, "--actor", "bob"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, ["revoke", "ci", "--store-url", sqlite_store])
    assert again.exit_code == 1
    assert "no active token named 'ci'" in again.output
    engine = make_engine(sqlite_store)
    try:
        assert TokenStore(engine).authenticate(token) is None
        [entry] = AuditLog(engine).entries(actions=["token.revoke"])
        assert entry.actor == "bob"
        assert AuditLog(engine).verify().ok
    finally:
        engine.dispose()


def test_an_unknown_role_exits_2_and_creates_nothing(sqlite_store):
    result = runner.invoke(app, ["create", "ci", "--role", "root", "--store-url", sqlite_store])
    assert result.exit_code == 2
    assert "unknown role 'root'" in result.output
    listed = runner.invoke(app, ["list", "--store-url", sqlite_store, "--json"])
    assert json.loads(listed.output) == []


def test_a_duplicate_name_exits_2(sqlite_store):
    create(sqlite_store, "ci", "viewer")
    result = runner.invoke(app, ["create", "ci", "--store-url", sqlite_store])
    assert result.exit_code == 2
    assert "revoke it first" in result.output


def test_a_bad_store_url_exits_2(tmp_path):
    for args in (["create", "ci"], ["list"], ["revoke", "ci"]):
        result = runner.invoke(app, [*args, "--store-url", "mysql://u@h/db"])
        assert result.exit_code == 2, args
        assert "does not support" in result.output
    missing = runner.invoke(app, ["list", "--store-url", f"sqlite:///{tmp_path / 'none.db'}"])
    assert missing.exit_code == 2
