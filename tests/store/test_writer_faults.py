"""Real faults: connections killed mid-run, a database down from the start, SIGKILL with a
non-empty spool, a disk that fills up. Afterwards every accepted event is stored once."""

import errno
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

from sqlalchemy import text

from accuguard.store import EventWriter, Spool
from accuguard.store.spool import decode_batch

from .conftest import (
    business_event,
    closed_port_url,
    feedback,
    prediction,
    stored_request_ids,
    wait_for,
)


def caught_up(writer):
    """The writer writes to the store and has replayed its whole spool."""
    return writer.state == "normal" and writer.stats()["spool_bytes"] == 0


def big_prediction(i):
    record = prediction(i)
    return type(record)(**{**record.__dict__, "features": {"blob": "x" * 1000}})


def test_connections_killed_mid_run_lose_and_duplicate_nothing(pg, tmp_path):
    writer = EventWriter(
        pg.url, tmp_path / "spool", max_batch=50, max_wait_ms=2, probe_interval_s=0.05
    )
    assert wait_for(lambda: writer.state == "normal")
    stop = threading.Event()
    kills = []

    def killer():
        while not stop.is_set():
            kills.append(pg.terminate_app_connections())
            time.sleep(0.2)

    thread = threading.Thread(target=killer)
    thread.start()
    n, deadline = 0, time.monotonic() + 15
    try:  # a stream of submits until two writes were cut by a kill (and at least 6,000)
        while n < 6000 or (writer.stats()["failed_batches"] < 2 and time.monotonic() < deadline):
            writer.submit_predictions([prediction(n)])
            n += 1
            if n % 100 == 0:
                time.sleep(0.01)
    finally:
        stop.set()
        thread.join()
    assert writer.flush(30)
    assert wait_for(lambda: caught_up(writer), 30)
    stats = writer.stats()
    writer.close()
    with pg.admin.connect() as conn:
        total, distinct = conn.execute(
            text(f'SELECT count(*), count(DISTINCT request_id) FROM "{pg.schema}".predictions')
        ).one()
    print(f"\nsubmitted {n}, killed {sum(kills)} connections; writer stats {stats}")
    assert sum(kills) > 0 and stats["failed_batches"] >= 2  # the fault really happened
    assert total == distinct == n
    assert stats["dropped"] == 0 and stats["written"] + stats["spooled"] == n
    assert stats["replayed"] == stats["spooled"] > 0 and stats["recoveries"] >= 2


def test_database_down_from_the_start_then_back_replays_without_duplicates(pg, tmp_path, caplog):
    spool_dir = tmp_path / "spool"
    writer = EventWriter(closed_port_url(), spool_dir, max_batch=100, probe_interval_s=0.05)
    for i in range(0, 3000, 10):
        writer.submit_predictions([prediction(j) for j in range(i, i + 10)])
    writer.submit_feedback([feedback(i) for i in range(100)])
    writer.submit_events([business_event(i) for i in range(20)])
    assert writer.flush(20)
    stats = writer.stats()
    assert stats["spooling"] == 1 and writer.ready()  # ready: the spool takes the batches
    assert stats["spooled"] == stats["accepted"] == 3120 and stats["written"] == 0
    assert stats["spool_bytes"] > 0
    writer.close()

    with Spool(spool_dir) as spool:  # kept for a second replay
        copy = {p.name: p.read_bytes() for p in spool.files()}
    # the database "comes back": the next writer on this spool points at the real server
    with caplog.at_level(logging.INFO, logger="accuguard.store"):
        writer = EventWriter(pg.url, spool_dir)
        assert wait_for(lambda: caught_up(writer), 20)
    assert writer.stats()["replayed"] == 3120 and writer.stats()["spool_bytes"] == 0
    assert "the spool is replayed (3120 rows" in caplog.text
    writer.close()
    for name, data in copy.items():  # the same spool again: nothing new
        (spool_dir / name).write_bytes(data)
    writer = EventWriter(pg.url, spool_dir)
    assert wait_for(lambda: caught_up(writer), 20)
    writer.close()
    with pg.admin.connect() as conn:
        counts = [
            conn.execute(text(f'SELECT count(*) FROM "{pg.schema}".{t}')).scalar()
            for t in ("predictions", "feedback", "business_events")
        ]
    assert counts == [3000, 100, 20]


CHILD = textwrap.dedent(
    """
    import sys, time
    from accuguard.store import EventWriter, PredictionRecord
    url, spool = sys.argv[1], sys.argv[2]
    writer = EventWriter(url, spool, max_batch=50, max_wait_ms=1, probe_interval_s=60)
    i = 0
    while True:
        batch = [
            PredictionRecord(f"req-{j}", "fraud", "champion", "champion", "3", "u",
                             {"x": j}, 0, 0.5, 1.0, 1.7e9 + j)
            for j in range(i, i + 25)
        ]
        writer.submit_predictions(batch)
        i += 25
        if i % 500 == 0:
            writer.flush(10)
            print(int(writer.stats()["spooled"]), flush=True)
        time.sleep(0.0005)
    """
)


def test_sigkill_with_a_non_empty_spool_is_replayed_by_the_next_writer(pg, tmp_path):
    spool_dir = tmp_path / "spool"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, closed_port_url(), str(spool_dir)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        acknowledged = 0
        while acknowledged < 3000:  # flushed to the spool and reported by the child
            line = child.stdout.readline()
            assert line, "the child died early"
            acknowledged = int(line)
        time.sleep(0.02)  # let it write more, unacknowledged, before the kill
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    with Spool(spool_dir) as spool:
        on_disk = [
            decode_batch(line) for p in spool.files() for line in p.read_bytes().splitlines(True)
        ]
    spooled = sum(len(b[1]) for b in on_disk if b is not None)
    assert spooled >= acknowledged

    writer = EventWriter(pg.url, spool_dir)
    assert wait_for(lambda: caught_up(writer), 20)
    stats = writer.stats()
    writer.close()
    stored = stored_request_ids(pg.url)
    print(f"\nacknowledged {acknowledged}, spooled {spooled}, replayed {stats['replayed']}")
    assert sorted(stored) == sorted(f"req-{j}" for j in range(spooled))  # a prefix, once each
    assert stats["replayed"] == spooled


def test_a_torn_spool_line_from_a_crash_is_skipped_at_startup(pg, tmp_path, caplog):
    spool_dir = tmp_path / "spool"
    writer = EventWriter(closed_port_url(), spool_dir, max_batch=10)
    writer.submit_predictions([prediction(i) for i in range(30)])
    writer.close()
    with Spool(spool_dir) as spool:
        path = spool.files()[0]
    with path.open("ab") as f:
        f.write(b'1234abcd {"kind": "predictions", "rows": [{"request_id": "tor')
    with caplog.at_level(logging.WARNING, logger="accuguard.store"):
        writer = EventWriter(pg.url, spool_dir)
        assert wait_for(lambda: caught_up(writer), 20)
    stats = writer.stats()
    writer.close()
    assert "skipped a torn last line" in caplog.text
    assert stats["corrupt_spool_lines"] == 1 and stats["replayed"] == 30
    assert len(stored_request_ids(pg.url)) == 30


def _mount_tmpfs(path, size):
    path.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def _disk_full_run(spool_dir, when_full=None):
    """A writer whose database is down and whose spool disk fills up."""
    writer = EventWriter(closed_port_url(), spool_dir, max_batch=20, probe_interval_s=60)
    for i in range(0, 200, 20):
        writer.submit_predictions([big_prediction(j) for j in range(i, i + 20)])
    assert writer.flush(20)
    stats = writer.stats()
    assert stats["spool_full"] == 1 and not writer.ready()
    assert stats["dropped"] > 0 and stats["spooled"] > 0
    assert stats["spooled"] + stats["dropped"] == stats["accepted"] == 200
    if when_full is not None:
        when_full()  # room again
        writer.submit_predictions([big_prediction(j) for j in range(200, 220)])
        assert writer.flush(20)
        assert writer.stats()["spool_full"] == 0 and writer.ready()
        assert writer.stats()["spooled"] == stats["spooled"] + 20
    writer.close()
    return stats


def test_a_full_disk_drops_and_reports_but_never_raises(tmp_path, monkeypatch, caplog):
    spool_dir = tmp_path / "spool"
    if _mount_tmpfs(spool_dir, "64k"):  # a real 64 KiB file system
        try:

            def grow():
                subprocess.run(["mount", "-o", "remount,size=1m", str(spool_dir)], check=True)

            with caplog.at_level(logging.ERROR, logger="accuguard.store"):
                stats = _disk_full_run(spool_dir, grow)
            print(f"\nreal tmpfs: {json.dumps(stats)}")
        finally:
            subprocess.run(["umount", "-l", str(spool_dir)], check=False)
    else:  # no mount privilege: the same path through a seam in the spool's write
        real_write = Spool._write_all
        budget = {"bytes": 64 * 1024}

        def write_until_full(fd, data):
            if len(data) > budget["bytes"]:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            budget["bytes"] -= len(data)
            real_write(fd, data)

        monkeypatch.setattr(Spool, "_write_all", staticmethod(write_until_full))
        with caplog.at_level(logging.ERROR, logger="accuguard.store"):
            stats = _disk_full_run(spool_dir, lambda: budget.update(bytes=10**6))
        print(f"\nENOSPC seam: {json.dumps(stats)}")
    assert "cannot be written (No space left on device)" in caplog.text
