"""AuditLog on real databases: appends chain, verify finds edits, removals, reorders."""

from __future__ import annotations

import hashlib
import itertools
import json

import pytest
from sqlalchemy import text

from accuguard.audit import GENESIS_HASH, AuditLog
from accuguard.errors import InputError
from accuguard.store import current_revision, head_revision, upgrade
from accuguard.store.migrate import MIGRATIONS


def fill(log: AuditLog, n: int = 6) -> list:
    return [
        log.append(
            action="rollout.advance" if i % 2 else "rollout.start",
            actor="controller",
            deployment="fraud" if i % 3 else "churn",
            decision="advance",
            reason=f"step {i}",
            config_hash=f"cfg{i}",
            window={"start": 1000.0 + i, "end": 1060.5 + i},
            model_versions={"champion": "3", "challenger": str(4 + i)},
            evidence={"auc": 0.5 + i / 100, "n": 100 * i, "ci": [0.1, None]},
        )
        for i in range(n)
    ]


def sql(engine, statement: str, **params) -> None:
    with engine.begin() as conn:
        conn.execute(text(statement), params)


def independent_hash(entry) -> str:
    body = {k: v for k, v in entry.to_dict().items() if k != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256((entry.prev_hash + canonical).encode()).hexdigest()


def test_migration_chain_has_the_audit_revision_and_upgrade_reaches_head(engine):
    assert (MIGRATIONS / "versions" / "0002_audit_tokens.py").is_file()
    assert current_revision(engine) == head_revision()
    upgrade(engine)  # idempotent
    assert current_revision(engine) == head_revision()


def test_appends_form_a_gapless_chain_with_hashes_computed_independently(engine):
    entries = fill(AuditLog(engine))
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 6]
    assert entries[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(entries):
        assert after.prev_hash == before.hash
    for e in entries:
        assert e.hash == independent_hash(e)


def test_entries_read_back_exactly_as_written(engine):
    log = AuditLog(engine)
    written = fill(log)
    assert log.entries() == written
    assert written[2].evidence == {"auc": 0.52, "n": 200, "ci": [0.1, None]}


def test_nan_in_evidence_is_stored_and_hashed_as_null(engine):
    log = AuditLog(engine)
    entry = log.append(action="x", actor="a", evidence={"p": float("nan"), "t": (1, 2)})
    assert entry.evidence == {"p": None, "t": [1, 2]}
    assert log.entries() == [entry]
    assert log.verify().ok


def test_entries_filter_by_deployment_and_action_and_keep_the_newest_with_limit(engine):
    log = AuditLog(engine)
    fill(log, 9)
    churn = log.entries(deployment="churn")
    assert [e.seq for e in churn] == [1, 4, 7]
    starts = log.entries(actions=["rollout.start"])
    assert [e.seq for e in starts] == [1, 3, 5, 7, 9]
    assert [e.seq for e in log.entries(limit=3)] == [7, 8, 9]
    assert [e.seq for e in log.entries(deployment="fraud", limit=2)] == [8, 9]
    assert log.entries(limit=0) == []
    assert log.head().seq == 9


def test_intact_chain_verifies_and_reports_its_head(engine):
    log = AuditLog(engine)
    entries = fill(log)
    report = log.verify()
    assert report.ok and report.checked == 6
    assert (report.head_seq, report.head_hash) == (6, entries[-1].hash)
    assert report.first_bad_seq is None and report.problem is None


def test_empty_log_verifies(engine):
    report = AuditLog(engine).verify()
    assert report.ok and report.checked == 0 and report.head_hash is None


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET reason = 'nothing to see' WHERE seq = 3",
        "UPDATE audit_log SET decision = 'promote' WHERE seq = 3",
        "UPDATE audit_log SET at = at + 1 WHERE seq = 3",
        'UPDATE audit_log SET evidence = \'{"auc": 0.99, "n": 200}\' WHERE seq = 3',
        "UPDATE audit_log SET deployment = NULL WHERE seq = 3",
    ],
)
def test_verify_finds_an_edited_entry(engine, statement):
    log = AuditLog(engine)
    fill(log)
    sql(engine, statement)
    report = log.verify()
    assert not report.ok
    assert (report.first_bad_seq, report.kind, report.checked) == (3, "edited", 2)
    assert "entry 3 was edited" in report.problem


def test_verify_finds_an_edit_whose_hash_was_recomputed_at_the_next_entry(engine):
    log = AuditLog(engine)
    entries = fill(log)
    forged = {k: v for k, v in entries[2].to_dict().items() if k != "hash"}
    forged["reason"] = "forged"
    canonical = json.dumps(forged, sort_keys=True, separators=(",", ":"))
    new_hash = hashlib.sha256((forged["prev_hash"] + canonical).encode()).hexdigest()
    sql(engine, "UPDATE audit_log SET reason = 'forged', hash = :h WHERE seq = 3", h=new_hash)
    report = log.verify()
    assert (report.ok, report.first_bad_seq, report.kind) == (False, 4, "removed")
    assert "entry 3 was rewritten" in report.problem


def test_verify_finds_a_deleted_entry_as_a_seq_gap(engine):
    log = AuditLog(engine)
    fill(log)
    sql(engine, "DELETE FROM audit_log WHERE seq = 3")
    report = log.verify()
    assert (report.ok, report.first_bad_seq, report.kind) == (False, 3, "removed")
    assert "entry 3 is missing" in report.problem


def test_verify_finds_deleted_first_entries(engine):
    log = AuditLog(engine)
    fill(log)
    sql(engine, "DELETE FROM audit_log WHERE seq <= 2")
    report = log.verify()
    assert (report.ok, report.first_bad_seq, report.kind) == (False, 1, "removed")
    assert "entries 1..2 are missing" in report.problem


def test_verify_finds_a_deleted_entry_even_when_the_rest_was_renumbered(engine):
    log = AuditLog(engine)
    fill(log)
    sql(engine, "DELETE FROM audit_log WHERE seq = 3")
    for seq in (4, 5, 6):
        sql(engine, "UPDATE audit_log SET seq = :new WHERE seq = :old", new=seq - 1, old=seq)
    report = log.verify()
    assert (report.ok, report.first_bad_seq, report.kind) == (False, 3, "removed")


def test_verify_finds_swapped_entries_as_reordered(engine):
    log = AuditLog(engine)
    fill(log)
    sql(engine, "UPDATE audit_log SET seq = -1 WHERE seq = 3")
    sql(engine, "UPDATE audit_log SET seq = 3 WHERE seq = 4")
    sql(engine, "UPDATE audit_log SET seq = 4 WHERE seq = -1")
    report = log.verify()
    assert (report.ok, report.first_bad_seq, report.kind) == (False, 3, "reordered")
    assert "now at seq 4" in report.problem


def test_a_truncated_tail_passes_verify_but_not_against_an_earlier_head(engine):
    log = AuditLog(engine)
    fill(log)
    anchor = log.verify().head_hash
    sql(engine, "DELETE FROM audit_log WHERE seq >= 5")
    assert log.verify().ok  # the documented limitation: a shorter chain is still a chain
    report = log.verify(expect_head=anchor)
    assert (report.ok, report.kind, report.head_seq) == (False, "anchor", 4)


def test_an_anchor_stays_valid_while_the_log_grows(engine):
    log = AuditLog(engine)
    fill(log, 3)
    anchor = log.verify().head_hash
    fill(log, 3)
    report = log.verify(expect_head=anchor)
    assert report.ok and report.checked == 6


def test_appending_continues_a_chain_from_another_process_engine(engine, store_url):
    from accuguard.store import make_engine

    AuditLog(engine).append(action="a", actor="x")
    other = make_engine(store_url)
    try:
        second = AuditLog(other).append(action="b", actor="y")
    finally:
        other.dispose()
    assert second.seq == 2
    assert AuditLog(engine).verify().ok


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"action": "", "actor": "a"}, "action"),
        ({"action": "x", "actor": "  "}, "actor"),
        ({"action": "x", "actor": "a", "evidence": [1, 2]}, "evidence"),
        ({"action": "x", "actor": "a", "window": {"t": object()}}, "window"),
    ],
)
def test_bad_entries_are_refused_and_nothing_is_written(engine, kwargs, field):
    log = AuditLog(engine)
    with pytest.raises(InputError, match=field):
        log.append(**kwargs)
    assert log.entries() == []


def test_an_append_inside_the_callers_transaction_commits_or_rolls_back_with_it(engine):
    log = AuditLog(engine)
    log.append(action="before", actor="a")
    with pytest.raises(RuntimeError), engine.begin() as conn:
        log.append(action="lost", actor="a", connection=conn)
        raise RuntimeError("the state change failed")
    assert [e.action for e in log.entries()] == ["before"]
    with engine.begin() as conn:
        entry = log.append(action="kept", actor="a", connection=conn)
    assert entry.seq == 2
    assert [e.action for e in log.entries()] == ["before", "kept"]
    assert log.verify().ok
