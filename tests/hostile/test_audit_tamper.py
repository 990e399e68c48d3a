"""Tampering with the audit log behind accuguard's back, found by ``accuguard audit verify``.

tests/audit covers each kind of tampering once through the library and the edit and
the deletion through the command; here hypothesis picks which entry is edited (any
column, any value), deleted or swapped with its neighbour, and the command (exit 1)
must name that entry. A deleted tail is caught against a head recorded earlier.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from accuguard.audit import AuditLog
from accuguard.store import make_engine, upgrade
from tests.hostile.test_cli_fuzz import run

N = 8
#: every stored column of an entry but ``seq``, with a new value of its type
EDITS = {
    "at": "at + 0.5",
    "actor": "'mallory'",
    "action": "'rollout.promote'",
    "deployment": "'other'",
    "decision": "'promote'",
    "reason": "'all gates passed'",
    "config_hash": "'0000'",
    "evidence": "'{\"auc\": 0.99}'",
    "model_versions": '\'{"champion": "9"}\'',
    "time_window": "'{}'",
    "prev_hash": "'" + "1" * 64 + "'",
    "hash": "'" + "2" * 64 + "'",
}
TAMPER = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> tuple[Path, str]:
    """A log of ``N`` entries and its head hash."""
    path = tmp_path_factory.mktemp("audit") / "audit.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    log = AuditLog(engine)
    entries = [
        log.append(
            action="rollout.advance",
            actor="controller",
            deployment="fraud",
            decision="advance",
            reason=f"step {i} passed",
            evidence={"n": i},
        )
        for i in range(N)
    ]
    engine.dispose()
    return path, entries[-1].hash


def tampered(template: tuple[Path, str], tmp_path: Path, *statements: str) -> str:
    path = tmp_path / "copy.db"
    shutil.copy(template[0], path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()
    return url


def verify(url: str, *extra: str) -> tuple[int, str]:
    return run(["audit", "verify", "--store-url", url, *extra])


def test_an_untouched_copy_verifies(template, tmp_path):
    code, out = verify(tampered(template, tmp_path), "--expect-head", template[1])
    assert code == 0 and f"{N} entries verified" in out


@TAMPER
@given(seq=st.integers(1, N), column=st.sampled_from(sorted(EDITS)))
def test_an_edited_column_of_any_entry_is_named(template, tmp_path, seq, column):
    url = tampered(
        template, tmp_path, f"UPDATE audit_log SET {column} = {EDITS[column]} WHERE seq = {seq}"
    )
    # every column is covered by the entry's own hash (an edited hash no longer matches
    # the contents), so the edited entry itself is named, the last one included
    for extra in ((), ("--expect-head", template[1])):
        code, out = verify(url, *extra)
        assert code == 1 and f"BROKEN at seq {seq} " in out, out


@TAMPER
@given(column=st.sampled_from(sorted(EDITS)))
def test_an_edited_last_entry_is_named_with_or_without_the_recorded_head(
    template, tmp_path, column
):
    url = tampered(
        template, tmp_path, f"UPDATE audit_log SET {column} = {EDITS[column]} WHERE seq = {N}"
    )
    code, out = verify(url)
    assert code == 1 and f"BROKEN at seq {N} " in out, out


@TAMPER
@given(seq=st.integers(1, N))
def test_a_deleted_entry_is_named(template, tmp_path, seq):
    url = tampered(template, tmp_path, f"DELETE FROM audit_log WHERE seq = {seq}")
    if seq == N:  # a shorter chain is still a chain: the recorded head catches it
        code, out = verify(url, "--expect-head", template[1])
        assert code == 1 and "(anchor)" in out, out
        return
    code, out = verify(url)
    assert code == 1 and f"BROKEN at seq {seq} (removed)" in out, out


@TAMPER
@given(seq=st.integers(1, N - 1))
def test_swapped_neighbours_are_named_as_reordered(template, tmp_path, seq):
    url = tampered(
        template,
        tmp_path,
        f"UPDATE audit_log SET seq = -1 WHERE seq = {seq}",
        f"UPDATE audit_log SET seq = {seq} WHERE seq = {seq + 1}",
        f"UPDATE audit_log SET seq = {seq + 1} WHERE seq = -1",
    )
    code, out = verify(url)
    assert code == 1 and f"BROKEN at seq {seq} (reordered)" in out, out
