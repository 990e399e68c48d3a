"""Privacy: HMAC unit hashing against RFC 4231, and the audited `privacy erase` command."""

import hashlib
import hmac
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from typer.testing import CliRunner

from accuguard.errors import ConfigError, InputError
from accuguard.privacy import erase_unit, hash_unit, privacy_app, salt_from_env, unit_hasher
from accuguard.store import EventRepository, make_engine, upgrade
from accuguard.store.models import Erasure

from .store.conftest import business_event, closed_port_url, feedback, postgres_schema, prediction

SALT = "s3cret-salt-for-tests"
runner = CliRunner()


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'events.db'}"


@pytest.mark.parametrize(
    ("key", "data", "mac"),
    [  # RFC 4231 section 4, HMAC-SHA-256 test cases 1, 2 and 4 (first 128 bits)
        (b"\x0b" * 20, "Hi There", "b0344c61d8db38535ca8afceaf0bf12b"),
        ("Jefe", "what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c7"),
        (bytes(range(1, 26)), "\xcd" * 50, None),  # data is not UTF-8 text: see below
    ],
)
def test_hash_unit_is_hmac_sha256_truncated_to_128_bits(key, data, mac):
    if mac is None:  # a str unit id is hashed as UTF-8, so compare with hmac directly
        mac = hmac.new(key, data.encode(), hashlib.sha256).hexdigest()[:32]
    assert hash_unit(data, key) == mac


def test_a_str_salt_is_its_utf8_bytes_and_the_salt_matters():
    assert hash_unit("user-42", "sälz") == hash_unit("user-42", "sälz".encode())
    assert hash_unit("user-42", "a") != hash_unit("user-42", "b")
    assert len(hash_unit("user-42", "a")) == 32


def test_an_empty_salt_is_refused():
    with pytest.raises(InputError, match=r"the privacy salt is empty"):
        hash_unit("user-42", b"")


@given(unit_id=st.text(), salt=st.one_of(st.binary(min_size=1), st.text(min_size=1)))
def test_unit_hasher_gives_the_hash_unit_hash_for_any_id(unit_id, salt):
    hashed = unit_hasher(salt)
    assert hashed(unit_id) == hash_unit(unit_id, salt)
    assert hashed(unit_id) == hashed(unit_id)  # the keyed state is copied, not consumed


def test_unit_hasher_refuses_an_empty_salt():
    with pytest.raises(InputError, match="salt is empty"):
        unit_hasher(b"")


def test_salt_from_env_names_the_variable_never_the_value(monkeypatch):
    monkeypatch.delenv("MY_SALT", raising=False)
    with pytest.raises(ConfigError, match=r"environment variable MY_SALT is not set or empty"):
        salt_from_env("MY_SALT")
    monkeypatch.setenv("MY_SALT", SALT)
    assert salt_from_env("MY_SALT") == SALT.encode()


def seed(url):
    upgrade(url)
    alice, bob = hash_unit("alice", SALT), hash_unit("bob", SALT)
    engine = make_engine(url)
    repo = EventRepository(engine)
    repo.insert_predictions([prediction(i, unit=alice if i < 3 else bob) for i in range(8)])
    repo.insert_feedback([feedback(i) for i in (0, 1, 5)])
    repo.insert_events([business_event(i, unit=alice if i < 4 else bob) for i in range(6)])
    return engine, repo


def test_erase_unit_removes_the_unit_and_writes_the_audit_row(sqlite_url):
    engine, repo = seed(sqlite_url)
    counts = erase_unit(sqlite_url, "alice", SALT, actor="dpo")
    assert counts == {"predictions": 3, "feedback": 2, "business_events": 4}
    assert repo.counts() == {"predictions": 5, "feedback": 1, "business_events": 2, "erasures": 1}
    with engine.connect() as conn:
        audit = conn.execute(select(Erasure)).one()
    assert audit.unit_hash == hash_unit("alice", SALT) and audit.actor == "dpo"
    assert erase_unit(sqlite_url, "alice", SALT, actor="dpo") == {
        "predictions": 0,
        "feedback": 0,
        "business_events": 0,
    }
    engine.dispose()


def test_erase_on_postgresql():
    with postgres_schema() as pg:
        engine, repo = seed(pg.url)
        assert erase_unit(pg.url, "bob", SALT, actor="dpo") == {
            "predictions": 5,
            "feedback": 1,
            "business_events": 2,
        }
        assert repo.counts()["erasures"] == 1
        engine.dispose()


def test_erase_refuses_a_database_without_the_event_log(tmp_path):
    url = f"sqlite:///{tmp_path / 'other.db'}"
    make_engine(url).connect().close()  # an empty SQLite file
    with pytest.raises(InputError, match=r"has no accuguard event log"):
        erase_unit(url, "alice", SALT, actor="dpo")


def test_cli_erase_prints_the_counts_and_never_the_salt(sqlite_url, monkeypatch):
    engine, _ = seed(sqlite_url)
    engine.dispose()
    monkeypatch.setenv("ACCUGUARD_PRIVACY_SALT", SALT)
    result = runner.invoke(privacy_app, ["erase", "--unit", "alice", "--store", sqlite_url])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"erased unit hash {hash_unit('alice', SALT)}",
        "predictions: 3",
        "feedback: 2",
        "business_events: 4",
    ]
    assert SALT not in result.output


def test_cli_erase_reads_the_salt_from_the_named_variable(sqlite_url, monkeypatch):
    seed(sqlite_url)[0].dispose()
    monkeypatch.delenv("ACCUGUARD_PRIVACY_SALT", raising=False)
    monkeypatch.setenv("OTHER_SALT", SALT)
    args = ["erase", "--unit", "bob", "--store", sqlite_url, "--salt-env", "OTHER_SALT"]
    result = runner.invoke(privacy_app, [*args, "--actor", "ticket-123"])
    assert result.exit_code == 0 and "predictions: 5" in result.output


@pytest.mark.parametrize(
    ("store", "salt", "message"),
    [
        (None, None, r"environment variable ACCUGUARD_PRIVACY_SALT is not set or empty"),
        ("mysql://u@h/db", SALT, r"names the database 'mysql', which accuguard does not support"),
        ("missing", SALT, r"no database file at"),
    ],
)
def test_cli_erase_exits_2_with_a_clear_message(
    sqlite_url, monkeypatch, tmp_path, store, salt, message
):
    if salt is None:
        monkeypatch.delenv("ACCUGUARD_PRIVACY_SALT", raising=False)
    else:
        monkeypatch.setenv("ACCUGUARD_PRIVACY_SALT", salt)
    url = {None: sqlite_url, "missing": f"sqlite:///{tmp_path / 'typo.db'}"}.get(store, store)
    result = runner.invoke(privacy_app, ["erase", "--unit", "alice", "--store", url])
    assert result.exit_code == 2
    assert "error:" in result.stderr
    assert re.search(message, " ".join(result.stderr.split()))


def test_cli_erase_exits_1_when_the_store_is_unreachable(monkeypatch):
    monkeypatch.setenv("ACCUGUARD_PRIVACY_SALT", SALT)
    result = runner.invoke(privacy_app, ["erase", "--unit", "alice", "--store", closed_port_url()])
    assert result.exit_code == 1
    assert "cannot be reached (OperationalError); nothing was erased" in result.stderr
