"""COPY + INSERT ... SELECT ON CONFLICT on real PostgreSQL: the same rows as executemany."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import select, text

from accuguard.store import EventRepository, make_engine, upgrade
from accuguard.store.copy import STAGE_PREFIX, copy_insert
from accuguard.store.engine import EncodedJSON
from accuguard.store.models import Feedback, Prediction
from accuguard.store.records import BusinessEventRecord, FeedbackRecord, PredictionRecord
from accuguard.store.repository import prediction_row

from .conftest import postgres_schema, prediction

TRICKY = [
    "plain",
    "tab\there",
    "new\nline",
    "back\\slash",
    'quote"s',
    "\\N",
    "",
    "é ☃ 𝄞 日本",
    "comma,semi;pipe|",
]


def tricky_records(tag: str) -> list[PredictionRecord]:
    out = []
    for i, s in enumerate(TRICKY):
        out.append(
            PredictionRecord(
                request_id=f"{tag}-{s}-{i}",
                deployment=s or "fraud",
                variant="champion",
                mode="champion",
                model_version=s,
                unit_hash=f"u{i}",
                features={
                    s: s,
                    "nan": math.nan,
                    "inf": [math.inf, -math.inf, 1.5],
                    "none": None,
                    "nested": {"k": [s, True, 0]},
                },
                output={"label": s, "p": math.nan} if i % 2 else i,
                score=None if i % 3 == 0 else (math.nan if i % 3 == 1 else i / 10),
                latency_ms=float(i),
                created_at=1_700_000_000.0 + i,
                error=None if i % 2 else s,
            )
        )
    return out


@pytest.fixture
def two_repos():
    """The same schema twice on one server: COPY (ours) and executemany (reference)."""
    with postgres_schema() as a, postgres_schema() as b:
        engines = [make_engine(a.url), make_engine(b.url)]
        for e in engines:
            upgrade(e)
        yield EventRepository(engines[0]), EventRepository(engines[1], use_copy=False)
        for e in engines:
            e.dispose()


def dump(repo: EventRepository, table: str, key: str) -> list[tuple]:
    """Every row as text (json as stored, doubles with NaN), ordered by the key."""
    with repo.engine.connect() as conn:
        rows = conn.execute(text(f"SELECT * FROM {table} ORDER BY {key}"))
        return [tuple(None if v is None else str(v) for v in row) for row in rows]


def test_copy_stores_exactly_what_executemany_stores(two_repos):
    ours, ref = two_repos
    batches = [tricky_records("a"), tricky_records("a")[3:] + tricky_records("b")]
    labels = [FeedbackRecord(f"a-{s}-{i}", s or None, 1.0) for i, s in enumerate(TRICKY)]
    labels += [FeedbackRecord("a-plain-0", "second", 2.0), FeedbackRecord("x", math.nan, 3.0)]
    events = [
        BusinessEventRecord(f"e{i}", None if i % 2 else s, f"u{i}", s, i * 0.5, 4.0)
        for i, s in enumerate(TRICKY)
    ]
    for repo in (ours, ref):
        counts = [repo.insert_predictions(b) for b in batches]
        counts.append(repo.insert_feedback(labels))
        counts.append(repo.insert_events(events + events[:2]))
        if repo is ours:  # executemany on PostgreSQL reports -1 (unknown)
            assert counts == [len(TRICKY), len(TRICKY), len(TRICKY) + 1, len(TRICKY)]
    for table, key in (
        ("predictions", "request_id, variant"),
        ("feedback", "request_id"),
        ("business_events", "event_id"),
    ):
        assert dump(ours, table, key) == dump(ref, table, key), table
    with ours.engine.connect() as conn:
        nan_label = conn.execute(select(Feedback.label).where(Feedback.request_id == "x"))
        assert nan_label.scalar_one() is None  # NaN -> JSON null
        row = conn.execute(select(Prediction).where(Prediction.request_id == "a-tab\there-1")).one()
    assert row.features["nan"] is None and row.features["inf"] == [None, None, 1.5]
    assert math.isnan(row.score) and row.error is None


def test_the_first_row_of_a_key_wins_within_a_batch_and_across_batches(two_repos):
    ours, ref = two_repos
    first = prediction(1)
    second = PredictionRecord(**{**first.__dict__, "output": 99, "score": 0.99})
    third = PredictionRecord(**{**first.__dict__, "output": 7})
    for repo in (ours, ref):
        counts = [
            repo.insert_predictions([first, prediction(2), second]),
            repo.insert_predictions([third, prediction(3)]),
            repo.insert_feedback([FeedbackRecord("req-1", "a", 1.0)] * 2),
            repo.insert_feedback([FeedbackRecord("req-1", "b", 2.0)]),
        ]
        assert counts == ([2, 1, 1, 0] if repo is ours else [-1] * 4)
        with repo.engine.connect() as conn:
            got = conn.execute(
                select(Prediction.output, Prediction.score).where(Prediction.request_id == "req-1")
            ).one()
            label = conn.execute(select(Feedback.label)).scalar_one()
        assert (got.output, got.score, label) == (1, first.score, "a")


def test_a_replayed_group_of_batches_in_one_transaction_adds_nothing(pg):
    upgrade(pg.url)
    engine = make_engine(pg.url)
    repo = EventRepository(engine)
    rows = [prediction_row(prediction(i)) for i in range(1200)]
    for r in rows:  # as the writer passes them: features serialised once
        r["features"] = EncodedJSON(r["features"])
    group = [("predictions", rows[:500]), ("predictions", rows[500:]), ("feedback", [])]
    assert repo.insert_batches(group) == 1200
    assert repo.insert_batches([*group, ("predictions", rows[:10])]) == 0
    assert repo.count_predictions() == 1200
    with engine.connect() as conn:  # the staging table is left empty in the session
        stages = conn.execute(
            text("SELECT relname FROM pg_class WHERE relname LIKE :p"), {"p": STAGE_PREFIX + "%"}
        ).all()
        assert all(
            conn.execute(text(f"SELECT count(*) FROM pg_temp.{name}")).scalar_one() == 0
            for (name,) in stages
            if conn.execute(text("SELECT to_regclass(:n)"), {"n": f"pg_temp.{name}"}).scalar()
        )
    engine.dispose()


def test_a_bad_value_fails_the_batch_as_a_sqlalchemy_error_and_stores_nothing(pg):
    from sqlalchemy.exc import DataError, DBAPIError

    upgrade(pg.url)
    engine = make_engine(pg.url)
    bad = PredictionRecord(**{**prediction(2).__dict__, "model_version": "nul\x00byte"})
    with pytest.raises(DBAPIError) as caught:
        EventRepository(engine).insert_predictions([prediction(1), bad])
    assert isinstance(caught.value, DataError) and not caught.value.connection_invalidated
    assert EventRepository(engine).count_predictions() == 0
    assert EventRepository(engine).insert_predictions([prediction(1)]) == 1  # session fine
    engine.dispose()


def test_a_connection_killed_before_the_copy_is_an_invalidated_operational_error(pg):
    from sqlalchemy.exc import OperationalError

    from accuguard.store.models import KINDS
    from accuguard.store.spool import is_transient

    upgrade(pg.url)
    engine = make_engine(pg.url)
    EventRepository(engine).insert_predictions([prediction(0)])  # the stage exists
    with pytest.raises(OperationalError) as caught, engine.begin() as conn:
        pg.terminate_app_connections()
        copy_insert(conn, KINDS["predictions"].__table__, [prediction_row(prediction(1))])
    assert is_transient(caught.value)
    assert EventRepository(engine).insert_predictions([prediction(1)]) == 1  # reconnects
    engine.dispose()
