"""``accuguard audit verify|show``: exit codes 0 / 1 / 2 and what they print."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from accuguard.audit import AuditLog
from accuguard.audit.cli import app
from accuguard.store import make_engine, upgrade

runner = CliRunner()


def fill(url: str, n: int = 5) -> list:
    engine = make_engine(url)
    try:
        log = AuditLog(engine)
        return [
            log.append(
                action="rollout.advance",
                actor="controller",
                deployment="fraud" if i % 2 else "churn",
                decision="advance",
                reason=f"step {i} passed",
            )
            for i in range(n)
        ]
    finally:
        engine.dispose()


def sql(url: str, statement: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text(statement))
    engine.dispose()


def test_verify_an_intact_log_exits_0_and_prints_the_head(store_url):
    entries = fill(store_url)
    result = runner.invoke(app, ["verify", "--store-url", store_url])
    assert result.exit_code == 0, result.output
    assert "OK: 5 entries" in result.output
    assert entries[-1].hash in result.output


def test_verify_an_edited_log_exits_1_naming_the_entry(store_url):
    fill(store_url)
    sql(store_url, "UPDATE audit_log SET reason = 'all good' WHERE seq = 2")
    result = runner.invoke(app, ["verify", "--store-url", store_url])
    assert result.exit_code == 1
    assert "BROKEN at seq 2 (edited)" in result.output


def test_verify_a_log_with_a_deleted_entry_exits_1(sqlite_store):
    fill(sqlite_store)
    sql(sqlite_store, "DELETE FROM audit_log WHERE seq = 4")
    result = runner.invoke(app, ["verify", "--store-url", sqlite_store, "--json"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert (report["ok"], report["first_bad_seq"], report["kind"]) == (False, 4, "removed")


def test_verify_with_an_expected_head_catches_a_truncated_tail(sqlite_store):
    entries = fill(sqlite_store)
    sql(sqlite_store, "DELETE FROM audit_log WHERE seq = 5")
    plain = runner.invoke(app, ["verify", "--store-url", sqlite_store])
    assert plain.exit_code == 0
    anchored = runner.invoke(
        app, ["verify", "--store-url", sqlite_store, "--expect-head", entries[-1].hash]
    )
    assert anchored.exit_code == 1
    assert "(anchor)" in anchored.output


def test_the_store_url_comes_from_the_environment(sqlite_store):
    fill(sqlite_store, 2)
    result = runner.invoke(app, ["verify"], env={"ACCUGUARD_STORE_URL": sqlite_store})
    assert result.exit_code == 0
    assert "OK: 2 entries" in result.output


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u@localhost/db", "does not support"),
        ("not a url", "is not a database URL"),
        ("sqlite:////nonexistent-dir/x.db", "does not exist"),
    ],
)
def test_a_bad_store_url_exits_2_with_a_message(url, message):
    result = runner.invoke(app, ["verify", "--store-url", url])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_missing_sqlite_file_exits_2_and_is_not_created(tmp_path):
    path = tmp_path / "missing.db"
    result = runner.invoke(app, ["show", "--store-url", f"sqlite:///{path}"])
    assert result.exit_code == 2
    assert "no database file" in result.output
    assert not path.exists()


def test_a_database_without_the_audit_table_exits_2(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0001")
    result = runner.invoke(app, ["verify", "--store-url", url])
    assert result.exit_code == 2
    assert "no audit_log table" in result.output


def test_an_unreachable_postgresql_exits_2(monkeypatch):
    from tests.store.conftest import closed_port_url

    result = runner.invoke(app, ["verify", "--store-url", closed_port_url()])
    assert result.exit_code == 2
    assert "cannot be used" in result.output


def test_show_json_lists_the_newest_entries_of_a_deployment(store_url):
    entries = fill(store_url, 7)
    args = ["show", "--store-url", store_url, "--deployment", "fraud", "--limit", "2", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert [e["seq"] for e in shown] == [4, 6]
    assert shown[-1] == entries[5].to_dict()


def test_show_prints_a_table(sqlite_store):
    fill(sqlite_store, 3)
    result = runner.invoke(
        app, ["show", "--store-url", sqlite_store, "--action", "rollout.advance"]
    )
    assert result.exit_code == 0
    assert "rollout.advance" in result.output and "step 2 passed" in result.output


def test_show_on_an_empty_log_says_so(sqlite_store):
    result = runner.invoke(app, ["show", "--store-url", sqlite_store])
    assert result.exit_code == 0
    assert "no audit entries" in result.output


def test_the_accuguard_command_mounts_audit_and_exits_2_on_a_bad_url(sqlite_store):
    fill(sqlite_store, 1)
    ok = subprocess.run(
        [sys.executable, "-m", "accuguard.cli", "audit", "verify", "--store-url", sqlite_store],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "accuguard.cli", "audit", "show", "--store-url", "oracle://x/y"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2
    assert "does not support" in bad.stderr and "Traceback" not in bad.stderr


def test_the_python_example_in_docs_audit_runs(tmp_path, monkeypatch):
    import pathlib
    import re

    doc = pathlib.Path(__file__).resolve().parents[2] / "docs" / "audit.md"
    code = re.search(r"```python\n(.*?)```", doc.read_text(), re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, str(doc), "exec"), namespace)
    log = namespace["log"]
    [entry] = log.entries()
    assert entry.action == "rollout.promote" and log.verify().ok
