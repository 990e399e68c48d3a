"""An append-only local spool for batches the database could not take, and their replay.

Layout: a directory holding ``batches-<time>-<seq>.jsonl`` files and a ``.lock``. Each
line is one batch::

    <crc32 of the payload, 8 hex digits> <payload: {"kind": "predictions", "rows": [...]}>

written in one ``write`` and followed by ``fsync``, so an acknowledged batch survives a
crash or a power cut. A crash in the middle of a write leaves a *torn* last line
(no newline, or a checksum that does not match); replay skips it with a warning and
never fails on it. Each process writes to files of its own (a new file after every
replay, after a write error and past 64 MiB), so a torn line is always the last line of
a file no one appends to again.

``Spool.replay(repository)`` inserts every spooled batch (idempotent: the repository
inserts with ``ON CONFLICT DO NOTHING``) and deletes a file only after all its batches
are committed; if the database fails in the middle, the file stays and the next replay
starts it again, without duplicates. A batch the database rejects for good (not a
connection problem) is moved to ``rejected-*.jsonl`` next to the spool, logged, and
counted, so one bad row cannot block the rest.

The directory is locked (``flock``) while a :class:`Spool` is open: one process per
spool directory. The lock goes away with the process, even after ``SIGKILL``.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import logging
import os
import time
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from accuguard.errors import InputError
from accuguard.store.engine import dumps_json
from accuguard.store.models import KINDS
from accuguard.store.repository import EventRepository

log = logging.getLogger("accuguard.store")

MAX_FILE_BYTES = 64 * 1024 * 1024
REPLAY_STEP_ROWS = 1000  # rows per replay transaction (about)


def is_transient(exc: BaseException) -> bool:
    """True when a database error means "unreachable for now" (retry later, keep the data)."""
    from sqlalchemy.exc import (
        DBAPIError,
        DisconnectionError,
        InterfaceError,
        OperationalError,
    )
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeout):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OSError | ConnectionError)


def encode_batch(kind: str, rows: Sequence[Mapping[str, Any]]) -> bytes:
    """One spool line (checksum, space, JSON payload, newline) for a batch.

    >>> line = encode_batch("feedback", [{"request_id": "r1", "label": 1, "created_at": 0.0}])
    >>> line[:9], decode_batch(line)
    (b'f8df0661 ', ('feedback', [{'request_id': 'r1', 'label': 1, 'created_at': 0.0}]))
    """
    payload = dumps_json({"kind": kind, "rows": list(rows)}).encode()
    return b"%08x %s\n" % (zlib.crc32(payload), payload)


def decode_batch(line: bytes) -> tuple[str, list[dict[str, Any]]] | None:
    """The ``(kind, rows)`` of a spool line; None when the line is torn or corrupt."""
    if not line.endswith(b"\n") or len(line) < 10 or line[8:9] != b" ":
        return None
    payload = line[9:-1]
    try:
        if int(line[:8], 16) != zlib.crc32(payload):
            return None
        batch = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(batch, dict) or batch.get("kind") not in KINDS:
        return None
    rows = batch.get("rows")
    if not isinstance(rows, list):
        return None
    return str(batch["kind"]), rows


class Spool:
    """The spool directory of one process: append batches, replay them into the store."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise InputError(
                f"spool directory {str(self.directory)!r} cannot be used: {exc.strerror}"
            ) from exc
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(self._lock_fd)
            raise InputError(
                f"spool directory {str(self.directory)!r} is in use by another accuguard "
                "process; give each process (each gateway worker) its own spool directory"
            ) from exc
        self._fd: int | None = None
        self._path = self.directory  # the file behind _fd
        self._file_bytes = 0
        self._seq = itertools.count()
        self._progress: dict[str, int] = {}  # file name -> bytes committed by a replay
        self.replayed_rows = 0  # rows committed by replays
        self.corrupt_lines = 0  # torn or corrupt lines skipped by replay
        self.rejected_rows = 0  # rows the database refused for good (set aside)
        self.size_bytes = sum(p.stat().st_size for p in self.files())

    # -- files -------------------------------------------------------------------

    def files(self) -> list[Path]:
        """The spool files, oldest first."""
        return sorted(self.directory.glob("batches-*.jsonl"))

    def is_empty(self) -> bool:
        """True when no batch waits for replay."""
        return self.size_bytes == 0 and not self.files()

    def _new_name(self, prefix: str) -> Path:
        return self.directory / f"{prefix}-{time.time_ns():020d}-{next(self._seq):06d}.jsonl"

    def _fsync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _close_file(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    # -- writing -----------------------------------------------------------------

    def append(self, kind: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Append one batch durably (write + fsync). Raises ``OSError`` (e.g. disk full).

        On an error the partial line is cut off again when possible, and the next batch
        goes to a new file, so a failed write never corrupts a batch already spooled.
        """
        self._write_line(encode_batch(kind, rows))

    def _write_line(self, line: bytes) -> None:
        if self._fd is None or self._file_bytes >= MAX_FILE_BYTES:
            self._close_file()
            path = self._new_name("batches")
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._path = path
            self._file_bytes = 0
            self._fsync_directory()
        fd = self._fd
        start = self._file_bytes
        try:
            self._write_all(fd, line)
            os.fsync(fd)
        except OSError:
            with contextlib.suppress(OSError):  # if it fails, replay skips the torn line
                os.ftruncate(fd, start)
                if start == 0:  # a full disk must not leave one empty file per batch
                    self._path.unlink()
            self._close_file()
            self.size_bytes = sum(p.stat().st_size for p in self.files())
            raise
        self._file_bytes += len(line)
        self.size_bytes += len(line)

    @staticmethod
    def _write_all(fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]

    # -- replay ------------------------------------------------------------------

    def replay(self, repository: EventRepository) -> int:
        """Insert every spooled batch into the store; return the number of rows committed.

        Batches are committed in groups of about 1,000 rows. A file is deleted only
        after all its batches are committed. A connection error propagates: the files
        stay, and the next replay in this process resumes after the last committed
        group (a new process starts the files again; the inserts are idempotent). A
        batch the database refuses for another reason is set aside in
        ``rejected-*.jsonl``.
        """
        before = self.replayed_rows
        while self.replay_step(repository):
            pass
        return self.replayed_rows - before

    def replay_step(self, repository: EventRepository, max_rows: int = REPLAY_STEP_ROWS) -> bool:
        """Commit the next group of about ``max_rows`` spooled rows; False when none was left.

        The writer calls this between batches of live events, so a long spool drains
        without holding up new events, and a connection lost in the middle costs one
        group at most.
        """
        self._close_file()  # new batches go to a new file from now on
        files = self.files()
        if not files:
            self.size_bytes = 0
            return False
        path = files[0]
        if self._replay_file(path, repository, max_rows):
            size = path.stat().st_size
            path.unlink()
            self._fsync_directory()
            self._progress.pop(path.name, None)
            self.size_bytes = max(0, self.size_bytes - size)
        return True

    def _replay_file(self, path: Path, repository: EventRepository, max_rows: int) -> bool:
        """Commit the next group of ``path``; True when the whole file is committed."""
        group: list[tuple[str, list[dict[str, Any]]]] = []
        rows_in_group = 0
        offset = self._progress.get(path.name, 0)
        with path.open("rb") as file:
            file.seek(offset)
            for line in file:
                offset += len(line)
                batch = decode_batch(line)
                if batch is None:
                    self.corrupt_lines += 1
                    where = "torn last line" if not line.endswith(b"\n") else "corrupt line"
                    log.warning(
                        "spool %s: skipped a %s (at byte %d, %d bytes), left by a crash "
                        "during a write",
                        path.name,
                        where,
                        offset - len(line),
                        len(line),
                    )
                    continue
                group.append(batch)
                rows_in_group += len(batch[1])
                if rows_in_group >= max_rows:
                    break
            at_end = not file.read(1)
        self._insert_group(group, repository)
        self._progress[path.name] = offset
        return at_end

    def _insert_group(
        self, group: list[tuple[str, list[dict[str, Any]]]], repository: EventRepository
    ) -> None:
        if not group:
            return
        try:
            repository.insert_batches(group)
        except SQLAlchemyError as exc:
            if is_transient(exc):
                raise
            self._insert_singly(group, repository)
        else:
            self.replayed_rows += sum(len(rows) for _, rows in group)

    def _insert_singly(
        self, group: list[tuple[str, list[dict[str, Any]]]], repository: EventRepository
    ) -> None:
        """Insert batch by batch after a group was refused; set refused batches aside."""
        for kind, rows in group:
            try:
                repository.insert_rows(kind, rows)
            except SQLAlchemyError as exc:
                if is_transient(exc):
                    raise
                self.reject(kind, rows, exc)
            else:
                self.replayed_rows += len(rows)

    def reject(self, kind: str, rows: Sequence[Mapping[str, Any]], exc: BaseException) -> None:
        """Set a batch the database refused for good aside in ``rejected-*.jsonl``."""
        path = self._new_name("rejected")
        with path.open("ab") as file:
            file.write(encode_batch(kind, rows))
            file.flush()
            os.fsync(file.fileno())
        self.rejected_rows += len(rows)
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:300]
        log.error(
            "the store refused a batch of %d %s rows (%s: %s); set aside in %s",
            len(rows),
            kind,
            type(exc).__name__,
            reason,
            path,
        )

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the current file and release the directory lock (idempotent)."""
        self._close_file()
        if self._lock_fd >= 0:
            fd, self._lock_fd = self._lock_fd, -1
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
