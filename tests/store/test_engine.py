"""make_engine: URL checks with clear errors, SQLite pragmas, psycopg 3 for PostgreSQL."""

import pytest
from sqlalchemy import text

from accuguard.errors import InputError
from accuguard.store.engine import dumps_json, make_engine, parse_url


def test_default_url_is_a_sqlite_file_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    engine = make_engine()
    assert engine.url.render_as_string() == "sqlite:///accuguard.db"
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    engine.dispose()
    assert (tmp_path / "accuguard.db").is_file()


def test_sqlite_connections_use_wal_and_a_busy_timeout(sqlite_url):
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 5000
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    engine.dispose()


def test_plain_postgresql_url_means_psycopg_3_with_pre_ping():
    engine = make_engine("postgresql://u:pw@localhost:5432/events")
    assert engine.url.drivername == "postgresql+psycopg"
    assert engine.pool._pre_ping


def test_not_a_url_is_an_input_error():
    with pytest.raises(InputError, match=r"event-log URL 'not a url' is not a database URL"):
        make_engine("not a url")


def test_unsupported_database_is_named_and_the_password_hidden():
    with pytest.raises(InputError, match=r"mysql://u:\*\*\*@h/db.*'mysql'.*does not support") as e:
        make_engine("mysql://u:secret@h/db")
    assert "secret" not in str(e.value)


def test_postgresql_url_without_database_is_an_input_error():
    with pytest.raises(InputError, match=r"names no database"):
        make_engine("postgresql+psycopg://u@localhost:5432")


def test_sqlite_file_in_a_missing_directory_is_an_input_error(tmp_path):
    url = f"sqlite:///{tmp_path / 'nowhere' / 'events.db'}"
    with pytest.raises(InputError, match=r"the directory '.*nowhere' does not exist"):
        make_engine(url)


def test_must_exist_refuses_to_create_a_new_sqlite_file(tmp_path):
    with pytest.raises(InputError, match=r"no database file at"):
        parse_url(f"sqlite:///{tmp_path / 'typo.db'}", must_exist=True)
    assert not (tmp_path / "typo.db").exists()


def test_json_columns_never_fail_to_serialise():
    np = pytest.importorskip("numpy")
    text_ = dumps_json({"a": np.float64("nan"), "b": np.int64(3), "c": np.array([1.0, np.inf])})
    assert text_ == '{"a": null, "b": 3, "c": [1.0, null]}'
    assert dumps_json({"when": object}).startswith('{"when": "<class')


def test_a_password_in_a_malformed_url_is_hidden_too():
    with pytest.raises(InputError, match=r"'pg:/x://u:\*\*\*@h' is not a database URL") as e:
        make_engine("pg:/x://u:hunter2@h")
    assert "hunter2" not in str(e.value)
