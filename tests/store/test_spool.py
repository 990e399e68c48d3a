"""The local spool: durable appends, torn and corrupt lines skipped, replay without duplicates."""

import logging

import pytest

from accuguard.errors import InputError
from accuguard.store import EventRepository, Spool, make_engine, upgrade
from accuguard.store.repository import feedback_row, prediction_row
from accuguard.store.spool import decode_batch, encode_batch

from .conftest import closed_port_url, feedback, prediction, stored_request_ids


@pytest.fixture
def repo(db_url):
    upgrade(db_url)
    engine = make_engine(db_url)
    yield EventRepository(engine)
    engine.dispose()


def rows(start, stop):
    return [prediction_row(prediction(i)) for i in range(start, stop)]


def test_a_line_round_trips_and_any_damage_is_detected():
    line = encode_batch("predictions", rows(0, 3))
    assert decode_batch(line) == ("predictions", rows(0, 3))
    assert decode_batch(line[:-1]) is None  # torn: no newline
    assert decode_batch(line[: len(line) // 2]) is None
    flipped = line.replace(b"req-1", b"req-9")
    assert decode_batch(flipped) is None  # checksum mismatch
    assert decode_batch(b"garbage\n") is None


def test_appends_are_counted_in_bytes_and_replayed_then_removed(tmp_path, repo):
    spool = Spool(tmp_path / "spool")
    assert spool.is_empty() and spool.size_bytes == 0
    spool.append("predictions", rows(0, 100))
    spool.append("feedback", [feedback_row(feedback(i)) for i in range(10)])
    on_disk = sum(p.stat().st_size for p in spool.files())
    assert spool.size_bytes == on_disk > 0
    assert spool.replay(repo) == 110
    assert spool.is_empty() and spool.files() == [] and spool.size_bytes == 0
    assert repo.counts()["predictions"] == 100 and repo.counts()["feedback"] == 10
    spool.close()


def test_replaying_the_same_spool_twice_adds_nothing(tmp_path, repo):
    spool = Spool(tmp_path / "spool")
    spool.append("predictions", rows(0, 50))
    copy = spool.files()[0].read_bytes()
    spool.replay(repo)
    (tmp_path / "spool" / "batches-0-again.jsonl").write_bytes(copy)  # e.g. a crash before unlink
    assert spool.replay(repo) == 50
    assert repo.count_predictions() == 50
    spool.close()


def test_a_torn_last_line_is_skipped_with_a_warning(tmp_path, db_url, repo, caplog):
    spool = Spool(tmp_path / "spool")
    spool.append("predictions", rows(0, 20))
    spool.append("predictions", rows(20, 40))
    path = spool.files()[0]
    with path.open("ab") as f:  # a crash in the middle of the third write
        f.write(encode_batch("predictions", rows(40, 60))[:123])
    with caplog.at_level(logging.WARNING, logger="accuguard.store"):
        assert spool.replay(repo) == 40
    assert "skipped a torn last line (at byte " in caplog.text
    assert spool.corrupt_lines == 1 and spool.files() == []
    assert sorted(stored_request_ids(db_url)) == sorted(f"req-{i}" for i in range(40))
    spool.close()


def test_a_corrupt_line_in_the_middle_is_skipped_and_the_rest_replayed(tmp_path, repo, caplog):
    spool = Spool(tmp_path / "spool")
    for start in (0, 10, 20):
        spool.append("predictions", rows(start, start + 10))
    path = spool.files()[0]
    lines = path.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b"req-15", b"req-51")
    path.write_bytes(b"".join(lines))
    with caplog.at_level(logging.WARNING, logger="accuguard.store"):
        assert spool.replay(repo) == 20
    assert f"skipped a corrupt line (at byte {len(lines[0])}, {len(lines[1])} bytes)" in caplog.text
    assert repo.count_predictions() == 20
    spool.close()


def test_a_failed_replay_keeps_the_files_for_the_next_one(tmp_path, repo):
    spool = Spool(tmp_path / "spool")
    spool.append("predictions", rows(0, 10))
    down = make_engine(closed_port_url())
    with pytest.raises(Exception, match=r"OperationalError|connection"):
        spool.replay(EventRepository(down))
    down.dispose()
    assert len(spool.files()) == 1 and spool.size_bytes > 0
    spool.append("predictions", rows(10, 20))  # goes to a new file
    assert len(spool.files()) == 2
    assert spool.replay(repo) == 20 and repo.count_predictions() == 20
    spool.close()


def test_a_batch_the_database_refuses_for_good_is_set_aside(tmp_path, repo, caplog):
    spool = Spool(tmp_path / "spool")
    spool.append("predictions", rows(0, 5))
    spool.append("predictions", [{"request_id": "x", "variant": "champion"}])  # NOT NULL fails
    spool.append("predictions", rows(5, 10))
    with caplog.at_level(logging.ERROR, logger="accuguard.store"):
        assert spool.replay(repo) == 10
    assert "refused a batch of 1 predictions rows (IntegrityError" in caplog.text
    assert spool.rejected_rows == 1 and spool.files() == []
    rejected = list((tmp_path / "spool").glob("rejected-*.jsonl"))
    assert len(rejected) == 1 and decode_batch(rejected[0].read_bytes())[1][0]["request_id"] == "x"
    spool.close()


def test_one_process_per_spool_directory(tmp_path):
    first = Spool(tmp_path / "spool")
    with pytest.raises(InputError, match=r"is in use by another accuguard process"):
        Spool(tmp_path / "spool")
    first.close()
    Spool(tmp_path / "spool").close()  # free again once closed


def test_a_full_disk_leaves_no_empty_spool_files_behind(tmp_path, monkeypatch):
    import errno
    import os

    def no_space(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with Spool(tmp_path / "spool") as spool:
        spool.append("predictions", rows(0, 2))
        monkeypatch.setattr(Spool, "_write_all", staticmethod(no_space))
        for _ in range(5):  # every failed batch would otherwise open a new, empty file
            with pytest.raises(OSError):
                spool.append("predictions", rows(2, 4))
        files = spool.files()
        assert len(files) == 1 and spool.size_bytes == files[0].stat().st_size > 0
        assert [decode_batch(line) for line in files[0].read_bytes().splitlines(True)] == [
            ("predictions", rows(0, 2))
        ]
