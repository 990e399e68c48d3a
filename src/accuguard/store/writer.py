"""The background event writer: the gateway's :class:`~accuguard.store.records.EventSink`.

``submit_*`` appends the caller's list to an in-memory deque under a tiny lock and
returns (no I/O, no copy, no serialisation): it never blocks the request path and
never raises. A background thread wakes every ``max_wait_ms`` (at once when
``max_batch`` records are queued, or on ``flush``/``close``), drains the queue and
writes it in batches of at most ``max_batch`` rows, one transaction each.

States:

- *starting*: the thread creates or upgrades the schema (``migrate=True``), then goes
  *normal*; if the database cannot be reached it goes *spooling*.
- *normal*: batches go to the database. If the spool holds batches (from an outage,
  or left by an earlier process that was killed), they are replayed in groups of
  about 1,000 rows between batches of live events, so a long spool never holds up new
  events. A connection error (server down, connection terminated, SQLite locked past
  its busy timeout) spools the batch and switches to *spooling*.
- *spooling*: batches go to the local spool (fsynced). Every ``probe_interval_s`` the
  writer tries the database; when it answers, the writer is *normal* again and
  replays the spool (idempotently: replays never duplicate).

Nothing accepted is lost silently: each accepted record ends up ``written`` (in the
database), ``spooled`` (on disk, replayed later) or, only when both the database and
the spool disk fail (disk full) or the queue is over ``queue_max``, ``dropped``, which
is counted and logged; ``dropped`` is 0 in normal operation. ``close`` drains
everything accepted before it into the database or the spool.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from accuguard.errors import InputError
from accuguard.store.engine import EncodedJSON, make_engine
from accuguard.store.migrate import upgrade
from accuguard.store.records import BusinessEventRecord, FeedbackRecord, PredictionRecord
from accuguard.store.repository import EventRepository, event_row, feedback_row, prediction_row
from accuguard.store.spool import Spool, is_transient

log = logging.getLogger("accuguard.store")

STARTING, NORMAL, SPOOLING = "starting", "normal", "spooling"
_TO_ROW: dict[str, Callable[[Any], dict[str, Any]]] = {
    "predictions": prediction_row,
    "feedback": feedback_row,
    "business_events": event_row,
}


class EventWriter:
    """Batch events into the event log in the background; spool them when it is down.

    ``url_or_engine``: an event-log URL (see :func:`~accuguard.store.make_engine`;
    None means ``sqlite:///accuguard.db``) or an engine (not disposed by ``close``).
    ``spool_dir``: this process's spool directory (locked while the writer is open).
    ``migrate``: create/upgrade the schema when the database is first reached.

    Lists passed to ``submit_*`` are kept as they are (not copied): do not change them
    afterwards.
    """

    def __init__(
        self,
        url_or_engine: str | Engine | None,
        spool_dir: str | Path,
        max_batch: int = 500,
        max_wait_ms: float = 50,
        queue_max: int = 100_000,
        *,
        probe_interval_s: float = 2.0,
        migrate: bool = True,
    ) -> None:
        for name, value in (("max_batch", max_batch), ("queue_max", queue_max)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name, number in (("max_wait_ms", max_wait_ms), ("probe_interval_s", probe_interval_s)):
            if not number > 0:
                raise ValueError(f"{name} must be a positive number, got {number!r}")
        if isinstance(url_or_engine, Engine):
            self._engine, self._owns_engine = url_or_engine, False
        else:
            self._engine, self._owns_engine = make_engine(url_or_engine), True
        self._repository = EventRepository(self._engine)
        try:
            self._spool = Spool(spool_dir)
        except InputError:
            if self._owns_engine:
                self._engine.dispose()
            raise
        self._max_batch = max_batch
        self._max_wait = max_wait_ms / 1000.0
        self._queue_max = queue_max
        self._probe_interval = probe_interval_s
        self._migrate = migrate

        self._queue: deque[tuple[str, Sequence[Any]]] = deque()
        self._lock = threading.Lock()  # guards the counters below and _accepting
        self._accepting = True
        self._depth = 0  # records queued
        self._enqueued = 0  # submit calls queued
        self.accepted = 0
        self.dropped = 0
        self._processed = 0  # submit calls handled by the thread (guarded by _done)
        self._done = threading.Condition()
        self._wake = threading.Event()
        self._stop = threading.Event()

        # written by the background thread only
        self._state = STARTING
        self._migrated = False
        self._next_probe = 0.0
        self.written = 0
        self.spooled = 0
        self.failed_batches = 0
        self.recoveries = 0
        self._backlog = False  # spooled rows wait for replay while the store is up
        self._last_notice = -1e9  # when the last state change was logged as a warning
        self._spool_full = False

        self._thread = threading.Thread(
            target=self._run, name="accuguard-event-writer", daemon=True
        )
        self._thread.start()
        atexit.register(self.close)

    # -- the request path --------------------------------------------------------

    def _submit(self, kind: str, records: Sequence[Any]) -> None:
        n = len(records)
        if not n:
            return
        with self._lock:
            if not self._accepting or self._depth + n > self._queue_max:
                self.dropped += n
                return
            self._queue.append((kind, records))
            self._depth += n
            self._enqueued += 1
            self.accepted += n
            if self._depth >= self._max_batch and not self._wake.is_set():
                self._wake.set()

    def submit_predictions(self, records: list[PredictionRecord]) -> None:
        """Queue predictions for the event log; O(1), never blocks, never raises."""
        self._submit("predictions", records)

    def submit_feedback(self, records: list[FeedbackRecord]) -> None:
        """Queue feedback labels; O(1), never blocks, never raises."""
        self._submit("feedback", records)

    def submit_events(self, records: list[BusinessEventRecord]) -> None:
        """Queue business events; O(1), never blocks, never raises."""
        self._submit("business_events", records)

    # -- status ------------------------------------------------------------------

    @property
    def state(self) -> str:
        """``starting``, ``normal`` or ``spooling``."""
        return self._state

    def stats(self) -> dict[str, float]:
        """Counters for ``/metrics``; every value is a number.

        queue_depth (records waiting in memory), spool_bytes, spooling (0/1),
        spool_full (0/1: the store is down and the last spool write failed, e.g. disk
        full; back to 0 when the store answers again), accepted,
        written, spooled, replayed (spooled rows committed to the store), failed_batches
        (database writes that failed and were spooled), dropped (records neither stored
        nor spooled: queue over ``queue_max``, after ``close``, or spool write failed),
        rejected (rows the database refused for good, set aside in ``rejected-*.jsonl``),
        corrupt_spool_lines (torn lines skipped by replay), recoveries (times the store
        came back after spooling).
        """
        return {
            "queue_depth": float(self._depth),
            "spool_bytes": float(self._spool.size_bytes),
            "spooling": float(self._state == SPOOLING),
            "spool_full": float(self._spool_full),
            "accepted": float(self.accepted),
            "written": float(self.written),
            "spooled": float(self.spooled),
            "replayed": float(self._spool.replayed_rows),
            "failed_batches": float(self.failed_batches),
            "dropped": float(self.dropped),
            "rejected": float(self._spool.rejected_rows),
            "corrupt_spool_lines": float(self._spool.corrupt_lines),
            "recoveries": float(self.recoveries),
        }

    def ready(self) -> bool:
        """True when the store is reachable, or it is not and the spool takes the batches.

        False while starting, after ``close``, when the queue is full, or when the store
        is down and the spool cannot be written (disk full).
        """
        if not self._accepting or not self._thread.is_alive():
            return False
        if self._depth >= self._queue_max:
            return False
        return self._state == NORMAL or (self._state == SPOOLING and not self._spool_full)

    def flush(self, timeout: float = 10.0) -> bool:
        """Write everything queued so far to the store or the spool; True if done in time."""
        with self._lock:
            target = self._enqueued
        self._wake.set()
        deadline = time.monotonic() + timeout
        with self._done:
            while self._processed < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._thread.is_alive():
                    return self._processed >= target
                self._done.wait(remaining)
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Stop accepting, drain the queue into the store or the spool, stop the thread.

        Idempotent. Records still queued when ``timeout`` runs out are reported in the
        log (the thread keeps draining while the process lives).
        """
        with self._lock:
            already = not self._accepting
            self._accepting = False
        if already and not self._thread.is_alive():
            return
        atexit.unregister(self.close)
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error(
                "event writer: %d records still queued after %.1f s; not yet stored or spooled",
                self._depth,
                timeout,
            )
            return
        self._spool.close()
        if self._owns_engine:
            self._engine.dispose()
        if self.dropped:
            log.error("event writer closed; %d records were dropped", self.dropped)

    # -- the background thread ---------------------------------------------------

    def _run(self) -> None:
        self._probe()
        while True:
            stopping = self._stop.is_set()
            if self._state == SPOOLING and not stopping and time.monotonic() >= self._next_probe:
                self._probe()
            items = self._take()
            if items:
                try:
                    self._write(items)
                except Exception:  # a bug must not stop the writer; count what it cost
                    n = sum(len(records) for _, records in items)
                    log.exception("event writer: unexpected error; up to %d records dropped", n)
                    with self._lock:
                        self.dropped += n
                finally:
                    with self._done:
                        self._processed += len(items)
                        self._done.notify_all()
            if self._backlog and self._state == NORMAL and not stopping:
                self._replay_step()
                continue
            if items:
                continue
            if stopping:
                return
            wait = self._max_wait
            if self._state == SPOOLING:
                wait = min(wait, max(0.0, self._next_probe - time.monotonic()))
            self._wake.wait(wait)
            self._wake.clear()

    def _take(self) -> list[tuple[str, Sequence[Any]]]:
        items = []
        queue = self._queue
        for _ in range(len(queue)):
            items.append(queue.popleft())
        if items:
            n = sum(len(records) for _, records in items)
            with self._lock:
                self._depth -= n
        return items

    def _write(self, items: list[tuple[str, Sequence[Any]]]) -> None:
        rows: dict[str, list[dict[str, Any]]] = {kind: [] for kind in _TO_ROW}
        # a shadow's record shares the features dict of the champion's: serialise it once
        # (the records are alive until the end of this call, so their ids are unique)
        encoded: dict[int, EncodedJSON] = {}
        for kind, records in items:
            to_row = _TO_ROW[kind]
            if kind != "predictions":
                rows[kind].extend(to_row(r) for r in records)
                continue
            out = rows[kind]
            for r in records:
                row = to_row(r)
                features = r.features
                key = id(features)
                shared = encoded.get(key)
                if shared is None:
                    shared = encoded[key] = EncodedJSON(features)
                row["features"] = shared
                out.append(row)
        for kind, kind_rows in rows.items():
            for start in range(0, len(kind_rows), self._max_batch):
                self._write_batch(kind, kind_rows[start : start + self._max_batch])

    def _write_batch(self, kind: str, rows: list[dict[str, Any]]) -> None:
        if self._state == NORMAL:
            try:
                self._repository.insert_rows(kind, rows)
            except SQLAlchemyError as exc:
                self.failed_batches += 1
                if not is_transient(exc):
                    try:
                        self._spool.reject(kind, rows, exc)
                    except OSError:
                        log.exception("event writer: cannot set a refused batch aside")
                        with self._lock:
                            self.dropped += len(rows)
                    return
                self._enter_spooling(exc)
            else:
                self.written += len(rows)
                return
        self._spool_batch(kind, rows)

    def _spool_batch(self, kind: str, rows: list[dict[str, Any]]) -> None:
        try:
            self._spool.append(kind, rows)
        except OSError as exc:
            with self._lock:
                self.dropped += len(rows)
            if not self._spool_full:
                log.error(
                    "event writer: the spool in %s cannot be written (%s); dropping %d "
                    "%s rows and any further rows until it can",
                    self._spool.directory,
                    exc.strerror or exc,
                    len(rows),
                    kind,
                )
            self._spool_full = True
            return
        if self._spool_full:
            log.warning("event writer: the spool in %s is writable again", self._spool.directory)
        self._spool_full = False
        self.spooled += len(rows)

    def _notice(self) -> int:
        """WARNING for a state change, DEBUG when the last warning is under 10 s old."""
        now = time.monotonic()
        if now - self._last_notice < 10.0:
            return logging.DEBUG
        self._last_notice = now
        return logging.WARNING

    def _enter_spooling(self, exc: BaseException) -> None:
        if self._state != SPOOLING:
            log.log(
                self._notice(),
                "event writer: the event log is unreachable (%s); spooling to %s and "
                "retrying every %.1f s",
                type(exc).__name__,
                self._spool.directory,
                self._probe_interval,
            )
        self._state = SPOOLING
        self._next_probe = time.monotonic() + self._probe_interval

    def _probe(self) -> None:
        """Reach the database (creating the schema once); then write to it again."""
        try:
            if self._migrate and not self._migrated:
                upgrade(self._engine)
                self._migrated = True
            else:
                with self._engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
        except Exception as exc:  # any failure: keep spooling, try again later
            log.debug("event writer: probe failed: %s", type(exc).__name__, exc_info=True)
            self._enter_spooling(exc)
            return
        if self._state == SPOOLING:
            self.recoveries += 1
            log.log(self._notice(), "event writer: the event log is reachable again")
        self._state = NORMAL
        self._spool_full = False  # batches go to the store again; a full spool is moot
        self._backlog = not self._spool.is_empty()

    def _replay_step(self) -> None:
        """Replay one group of spooled rows (between batches of live events)."""
        try:
            more = self._spool.replay_step(self._repository)
        except Exception as exc:
            log.debug("event writer: replay failed: %s", type(exc).__name__, exc_info=True)
            self._enter_spooling(exc)
            return
        if not more:
            self._backlog = False
            log.info(
                "event writer: the spool is replayed (%d rows in all so far)",
                self._spool.replayed_rows,
            )
