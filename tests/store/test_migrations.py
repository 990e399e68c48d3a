"""The shipped Alembic migration creates the schema the models describe, on both backends."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from accuguard.store import current_revision, head_revision, make_engine, upgrade
from accuguard.store.models import Base

INDEXES = {
    "predictions": {
        ("deployment", "created_at"),
        ("deployment", "variant", "created_at"),
        ("unit_hash",),
        ("created_at",),
    },
    "business_events": {("deployment", "created_at"), ("unit_hash",), ("created_at",)},
    "feedback": {("created_at",)},
    "erasures": {("unit_hash",)},
}


def test_upgrade_creates_the_tables_and_window_indexes(db_url):
    assert current_revision(db_url) is None
    upgrade(db_url)
    assert current_revision(db_url) == head_revision()
    engine = make_engine(db_url)
    inspector = inspect(engine)
    assert set(inspector.get_table_names()) >= set(INDEXES) | {"alembic_version"}
    for table, expected in INDEXES.items():
        found = {tuple(ix["column_names"]) for ix in inspector.get_indexes(table)}
        assert found == expected, table
    assert inspector.get_pk_constraint("predictions")["constrained_columns"] == [
        "request_id",
        "variant",
    ]
    engine.dispose()


def test_models_match_the_migration_with_no_autogenerate_diff(db_url):
    upgrade(db_url)
    engine = make_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_upgrade_twice_is_a_no_op(db_url):
    upgrade(db_url)
    upgrade(db_url)
    assert current_revision(db_url) == head_revision()
