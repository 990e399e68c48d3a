"""EventWriter: batches in the background, drains on close, never raises on the request path."""

import pytest
from sqlalchemy import text

from accuguard.errors import InputError
from accuguard.store import EventRepository, EventSink, EventWriter, make_engine

from .conftest import business_event, feedback, prediction, stored_request_ids, wait_for

PROTOCOL_STATS = {
    "queue_depth",
    "spool_bytes",
    "spooling",
    "written",
    "spooled",
    "replayed",
    "failed_batches",
}


def counts(url):
    engine = make_engine(url)
    try:
        return EventRepository(engine).counts()
    finally:
        engine.dispose()


def test_submitted_events_reach_the_store_after_flush(db_url, tmp_path):
    writer: EventSink = EventWriter(db_url, tmp_path / "spool", max_batch=64, max_wait_ms=5)
    for i in range(1000):
        writer.submit_predictions([prediction(i)])
    writer.submit_feedback([feedback(i) for i in range(0, 1000, 2)])
    writer.submit_events([business_event(i) for i in range(30)])
    assert writer.flush(20)
    stats = writer.stats()
    assert set(stats) >= PROTOCOL_STATS
    assert all(isinstance(v, float) for v in stats.values())
    assert stats["written"] == stats["accepted"] == 1530
    assert stats["queue_depth"] == stats["spooling"] == stats["spooled"] == stats["dropped"] == 0
    assert writer.ready()
    writer.close()
    assert counts(db_url) == {
        "predictions": 1000,
        "feedback": 500,
        "business_events": 30,
        "erasures": 0,
    }


def test_close_drains_everything_accepted_before_it(db_url, tmp_path):
    writer = EventWriter(db_url, tmp_path / "spool", max_batch=100, max_wait_ms=1000)
    for start in range(0, 5000, 50):
        writer.submit_predictions([prediction(i) for i in range(start, start + 50)])
    writer.close(30)
    assert len(stored_request_ids(db_url)) == 5000
    assert writer.stats()["written"] == 5000


def test_after_close_submits_are_dropped_and_counted_not_raised(sqlite_url, tmp_path):
    writer = EventWriter(sqlite_url, tmp_path / "spool")
    writer.close()
    writer.submit_predictions([prediction(1), prediction(2)])
    writer.submit_feedback([feedback(1)])
    assert writer.stats()["dropped"] == 3 and not writer.ready()
    writer.close()  # idempotent


def test_a_full_queue_drops_and_counts_instead_of_blocking(sqlite_url, tmp_path):
    writer = EventWriter(
        sqlite_url, tmp_path / "spool", max_batch=1000, max_wait_ms=60_000, queue_max=100
    )
    assert wait_for(writer.ready)
    for i in range(150):
        writer.submit_predictions([prediction(i)])
    stats = writer.stats()
    assert (stats["accepted"], stats["dropped"], stats["queue_depth"]) == (100, 50, 100)
    assert not writer.ready()
    assert writer.flush(10)
    assert writer.ready() and writer.stats()["written"] == 100
    writer.close()


def test_an_empty_submit_is_a_no_op(sqlite_url, tmp_path):
    writer = EventWriter(sqlite_url, tmp_path / "spool")
    writer.submit_predictions([])
    assert writer.flush(5) and writer.stats()["accepted"] == 0
    writer.close()


def test_the_writer_creates_the_schema_on_first_contact(sqlite_url, tmp_path):
    from accuguard.store import current_revision, head_revision

    writer = EventWriter(sqlite_url, tmp_path / "spool")
    assert wait_for(lambda: writer.state == "normal")
    assert current_revision(sqlite_url) == head_revision()
    writer.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_batch": 0}, r"max_batch must be a positive integer, got 0"),
        ({"queue_max": -5}, r"queue_max must be a positive integer, got -5"),
        ({"max_wait_ms": 0}, r"max_wait_ms must be a positive number, got 0"),
        ({"probe_interval_s": -1.0}, r"probe_interval_s must be a positive number, got -1.0"),
    ],
)
def test_bad_arguments_are_refused(sqlite_url, tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        EventWriter(sqlite_url, tmp_path / "spool", **kwargs)


def test_a_bad_url_is_an_input_error_at_construction(tmp_path):
    with pytest.raises(InputError, match=r"does not support"):
        EventWriter("mongodb://localhost/x", tmp_path / "spool")


def test_two_writers_cannot_share_a_spool_directory(sqlite_url, tmp_path):
    first = EventWriter(sqlite_url, tmp_path / "spool")
    with pytest.raises(InputError, match=r"in use by another accuguard process"):
        EventWriter(sqlite_url, tmp_path / "spool")
    first.close()


def test_a_batch_postgresql_refuses_for_good_is_set_aside_not_retried_forever(pg, tmp_path):
    writer = EventWriter(pg.url, tmp_path / "spool", max_wait_ms=5)
    assert wait_for(lambda: writer.state == "normal")
    with pg.admin.begin() as conn:  # the table disappears under the writer
        conn.execute(text(f'DROP TABLE "{pg.schema}".predictions'))
    writer.submit_predictions([prediction(i) for i in range(5)])
    writer.submit_feedback([feedback(1)])
    assert writer.flush(10)
    stats = writer.stats()
    writer.close()
    assert stats["rejected"] == 5 and stats["written"] == 1 and stats["dropped"] == 0
    assert stats["spooling"] == 0  # a refused batch does not stop the writer
    assert len(list((tmp_path / "spool").glob("rejected-*.jsonl"))) == 1
