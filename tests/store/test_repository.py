"""EventRepository: idempotent batched inserts, counts, and unit erasure, on both backends."""

import math

import pytest
from sqlalchemy import select, text

from accuguard.store import EventRepository, make_engine, upgrade
from accuguard.store.models import Erasure, Feedback, Prediction

from .conftest import business_event, feedback, prediction


@pytest.fixture
def repo(db_url):
    upgrade(db_url)
    engine = make_engine(db_url)
    yield EventRepository(engine)
    engine.dispose()


def test_inserting_the_same_batches_twice_stores_each_row_once(repo):
    preds = [prediction(i) for i in range(300)]
    labels = [feedback(i) for i in range(0, 300, 3)]
    events = [business_event(i) for i in range(50)]
    for _ in range(2):
        repo.insert_predictions(preds)
        repo.insert_feedback(labels)
        repo.insert_events(events)
    assert repo.counts() == {
        "predictions": 300,
        "feedback": 100,
        "business_events": 50,
        "erasures": 0,
    }
    assert repo.count_predictions("fraud") == 300
    assert repo.count_predictions("other") == 0


def test_a_row_round_trips_with_json_columns(repo):
    record = prediction(7)
    repo.insert_predictions([record])
    with repo.engine.connect() as conn:
        row = conn.execute(select(Prediction)).one()
    assert row.features == record.features
    assert (row.output, row.score, row.created_at) == (1, 0.07, 1_700_000_007.0)
    assert row.error is None


def test_the_champion_and_a_shadow_of_one_request_are_two_rows(repo):
    repo.insert_predictions([prediction(1), prediction(1, variant="shadow-v4")])
    repo.insert_predictions([prediction(1, variant="shadow-v4")])
    assert repo.count_predictions() == 2


def test_the_first_label_of_a_request_wins(repo):
    repo.insert_feedback([feedback(1, label="fraud")])
    repo.insert_feedback([feedback(1, label="legit"), feedback(2, label="legit")])
    with repo.engine.connect() as conn:
        labels = dict(conn.execute(select(Feedback.request_id, Feedback.label)).all())
    assert labels == {"req-1": "fraud", "req-2": "legit"}


def test_nan_and_infinity_features_are_stored_as_null(repo):
    record = prediction(1)
    bad = type(record)(**{**record.__dict__, "features": {"x": math.nan, "y": [math.inf, 2.0]}})
    repo.insert_predictions([bad])
    with repo.engine.connect() as conn:
        features = conn.execute(select(Prediction.features)).scalar_one()
    assert features == {"x": None, "y": [None, 2.0]}


def test_erase_unit_deletes_its_predictions_their_feedback_and_its_events(repo):
    repo.insert_predictions([prediction(i, unit="alice" if i < 4 else "bob") for i in range(10)])
    repo.insert_feedback([feedback(i) for i in range(10)])
    repo.insert_events([business_event(i, unit="alice" if i < 2 else "bob") for i in range(5)])
    counts = repo.erase_unit("alice", actor="dpo@example.com")
    assert counts == {"predictions": 4, "feedback": 4, "business_events": 2}
    assert repo.counts() == {
        "predictions": 6,
        "feedback": 6,
        "business_events": 3,
        "erasures": 1,
    }
    with repo.engine.connect() as conn:
        audit = conn.execute(select(Erasure)).one()
        left = conn.execute(text("SELECT count(*) FROM predictions WHERE unit_hash = 'alice'"))
        assert left.scalar() == 0
    assert (audit.unit_hash, audit.predictions, audit.feedback, audit.business_events) == (
        "alice",
        4,
        4,
        2,
    )
    assert audit.actor == "dpo@example.com" and audit.at > 1.7e9


def test_erasing_an_unknown_unit_deletes_nothing_and_writes_no_audit_without_actor(repo):
    repo.insert_predictions([prediction(1)])
    assert repo.erase_unit("nobody") == {"predictions": 0, "feedback": 0, "business_events": 0}
    assert repo.counts()["erasures"] == 0 and repo.count_predictions() == 1


def test_an_unknown_kind_is_refused(repo):
    with pytest.raises(ValueError, match=r"kind 'clicks' is not one of \['business_events'"):
        repo.insert_rows("clicks", [{"a": 1}])


def test_a_failed_shadow_row_with_no_output_is_stored(repo):
    record = prediction(1, variant="shadow-v4")
    failed = type(record)(**{**record.__dict__, "output": None, "score": None, "error": "boom"})
    repo.insert_predictions([failed])
    with repo.engine.connect() as conn:
        row = conn.execute(select(Prediction.output, Prediction.score, Prediction.error)).one()
    assert tuple(row) == (None, None, "boom")
