"""The station's durable outbox: every signed event, kept until a district ack covers it.

Durability: SQLite in WAL mode with ``synchronous=FULL`` (a committed event survives a
power cut), the file in ``data_dir`` (directory 0700, file 0600). :meth:`Outbox.append`
numbers, chains, signs and inserts an event in ONE ``BEGIN IMMEDIATE`` transaction, so a
crash at any moment leaves either the whole event or nothing: never a torn row, a reused
``seq`` or a broken ``prev`` chain. One connection guarded by a lock: safe from several
threads (the airing thread and the MQTT link).

A tiny ``meta`` key/value table holds other durable station state: the airing in
progress (:mod:`firmware_daemon.airing.in_progress`, cleared in the same transaction
that commits the airing's event) and, after a reset, where the new chain starts.

Next to the file, a small marker (:mod:`firmware_daemon.airing.outbox_marker`) holds the
last seq and payload hash, rewritten durably right after each commit: it outlives a
lost or truncated outbox, so the station never reuses a seq
(:mod:`firmware_daemon.airing.outbox_recovery`).

Disk full: ``on_full`` (the station's :class:`~firmware_daemon.service.storage.StorageGuard`
releases its reserve file) is called when SQLite reports a full disk, and the write is
tried once more, so the event of an airing that went out can still be recorded.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from firmware_daemon.airing.outbox_marker import (
    MarkerWriter,
    OutboxMarker,
    marker_path,
    read_marker,
)
from radio_protocol.clock import Clock, SystemClock
from radio_protocol.durable import ensure_private_dir
from radio_protocol.errors import CommuneRadioError
from radio_protocol.jose import Signer, canonical_json
from radio_protocol.names import EVENT_TYP
from radio_protocol.timefmt import format_rfc3339

log = logging.getLogger(__name__)

_BATCH = 500
CHAIN_START_KEY = "chain_start"
"""meta key: ``seq prev`` where a reset chain starts (used while the events table is empty)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    jws BLOB NOT NULL,
    payload_sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    acked_at TEXT
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

MakePayload = Callable[[int, str | None], dict[str, Any]]
OnFull = Callable[[], bool]
"""Called when the disk is full; True when it freed space (the write is tried again)."""


class OutboxError(CommuneRadioError):
    """The outbox file cannot be opened or written, or a payload breaks the chain."""


_T = TypeVar("_T")


@dataclass(frozen=True)
class _Committed:
    seq: int
    jws: bytes
    payload: dict[str, Any]
    payload_sha256: str


@dataclass(frozen=True)
class OutboxEntry:
    """One committed event: its seq, the JWS bytes as stored, and the payload it signs."""

    seq: int
    jws: bytes
    payload: dict[str, Any]


class OutboxFullError(OutboxError):
    """The disk holding the outbox is full (SQLITE_FULL): nothing was written."""


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or its cause) says the disk is full (SQLite or ENOSPC)."""
    while exc is not None:
        if isinstance(exc, OutboxFullError):
            return True
        if isinstance(exc, sqlite3.Error) and "full" in str(exc).lower():
            return True
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            return True
        exc = exc.__cause__  # type: ignore[assignment]
    return False


@contextmanager
def _translated(path: Path, action: str) -> Iterator[None]:
    """SQLite failures (disk full, I/O error, locked past the timeout) as OutboxError."""
    try:
        yield
    except sqlite3.Error as exc:
        kind = OutboxFullError if is_disk_full(exc) else OutboxError
        raise kind(f"{path}: outbox {action} failed: {exc}") from exc


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open: SQLite already rolled back after some
    errors (a full disk), and a second ROLLBACK would hide the real error."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _utc_text(at: datetime) -> str:
    """A sortable UTC timestamp for the bookkeeping columns."""
    return format_rfc3339(at.astimezone(UTC))


class Outbox:
    """Signed events in a SQLite file. ``signer`` is needed only to :meth:`append`."""

    def __init__(self, path: Path | str, signer: Signer | None = None,
                 clock: Clock | None = None, *, on_full: OnFull | None = None) -> None:
        self.path = Path(path)
        self.marker_path = marker_path(self.path)
        self._marker = MarkerWriter(self.marker_path)
        self._signer = signer
        self._clock: Clock = clock or SystemClock()
        self._on_full = on_full
        self._lock = threading.Lock()
        try:
            ensure_private_dir(self.path.parent)
            if not self.path.exists():
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
            self._conn = sqlite3.connect(self.path, isolation_level=None,
                                         check_same_thread=False, timeout=30.0)
            mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise OutboxError(f"{self.path}: SQLite refused WAL mode (got {mode!r})")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise OutboxError(f"{self.path}: cannot open outbox: {exc}") from exc
        if signer is not None and read_marker(self.marker_path) is None:
            self._write_marker()  # an outbox from before markers existed: start one now

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            self._marker.close()

    def durability(self) -> tuple[str, int]:
        """This connection's ``(journal_mode, synchronous)``: ``("wal", 2)`` is WAL + FULL."""
        with self._lock:
            mode = self._conn.execute("PRAGMA journal_mode").fetchone()[0]
            sync = self._conn.execute("PRAGMA synchronous").fetchone()[0]
        return str(mode).lower(), int(sync)

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing ---------------------------------------------------------------------

    def append(self, make_payload: MakePayload, *, done_meta: str | None = None) -> OutboxEntry:
        """Number, chain, sign and commit one event; return it once it is durable.

        ``make_payload(seq, prev)`` builds the payload, where ``prev`` is the hex SHA-256
        of the previous event's payload bytes (None for seq 1). It runs inside the
        write transaction, so two appenders can never take the same seq. ``done_meta``
        names a meta key deleted in the same transaction (the airing in progress whose
        event this is). On a full disk ``on_full`` is asked to free space and the write
        is tried once more; then OutboxFullError.
        """
        if self._signer is None:
            raise OutboxError("outbox opened without a signing key: cannot append")
        entry = self._retry_full(lambda: self._append(make_payload, done_meta))
        self._write_marker(entry.seq, entry.payload_sha256)
        return OutboxEntry(entry.seq, entry.jws, entry.payload)

    def _retry_full(self, write: Callable[[], _T]) -> _T:
        """``write()``; once more after ``on_full`` freed space if the disk was full."""
        try:
            return write()
        except OutboxFullError:
            if self._on_full is None or not self._on_full():
                raise
            log.warning("outbox disk full path=%s: reserve released, writing again", self.path)
            return write()

    def _append(self, make_payload: MakePayload, done_meta: str | None) -> _Committed:
        assert self._signer is not None
        with self._lock, _translated(self.path, "append"):
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(
                    "SELECT seq, payload_sha256 FROM events ORDER BY seq DESC LIMIT 1"
                ).fetchone()
                if row is None:
                    seq, prev = self._chain_start(conn)
                else:
                    seq, prev = int(row[0]) + 1, str(row[1])
                payload = make_payload(seq, prev)
                if payload.get("seq") != seq or payload.get("prev") != prev:
                    raise OutboxError(f"payload seq/prev do not match the outbox (seq {seq})")
                payload_bytes = canonical_json(payload)
                jws = self._signer.sign(payload_bytes, EVENT_TYP)
                digest = hashlib.sha256(payload_bytes).hexdigest()
                conn.execute(
                    "INSERT INTO events (seq, jws, payload_sha256, created_at) VALUES (?,?,?,?)",
                    (seq, jws, digest, _utc_text(self._clock.now())),
                )
                if done_meta is not None:
                    conn.execute("DELETE FROM meta WHERE key = ?", (done_meta,))
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
        return _Committed(seq, jws, payload, digest)

    @staticmethod
    def _chain_start(conn: sqlite3.Connection) -> tuple[int, str | None]:
        """Seq and prev of the first event: 1 and None, or where a reset said to go on."""
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (CHAIN_START_KEY,)).fetchone()
        if row is None:
            return 1, None
        seq_text, _, prev = str(row[0]).partition(" ")
        return int(seq_text), (prev or None)

    def start_chain_at(self, seq: int, prev: str | None) -> None:
        """Make an EMPTY outbox number its first event ``seq`` with ``prev`` (a reset
        outbox continuing a lost one's chain). Raises OutboxError if it holds events."""
        if seq < 1:
            raise ValueError(f"seq must be >= 1, got {seq}")
        if self.last_seq():
            raise OutboxError(f"{self.path}: chain start only for an empty outbox")
        self.set_meta(CHAIN_START_KEY, f"{seq} {prev or ''}".strip())

    def _write_marker(self, seq: int | None = None, sha256: str | None = None) -> None:
        """Record the last seq and payload hash beside the file; a failure only logs
        (a marker behind the outbox is harmless, see the module doc)."""
        if seq is None:
            try:
                with self._lock:
                    row = self._conn.execute(
                        "SELECT seq, payload_sha256 FROM events ORDER BY seq DESC LIMIT 1").fetchone()
            except sqlite3.Error:  # a damaged file: the recovery at start deals with it
                return
            if row is None:
                return
            seq, sha256 = int(row[0]), str(row[1])
        try:
            with self._lock:
                self._marker.write(OutboxMarker(seq, sha256))
        except OSError as exc:
            log.warning("outbox marker not written path=%s seq=%d error=%s", self.marker_path, seq, exc)

    def apply_ack(self, through: int, also: Iterable[int] = ()) -> int:
        """Mark seqs ``1..through`` and each of ``also`` as acked; return how many were new."""
        extra = sorted({int(s) for s in also})
        now_text = _utc_text(self._clock.now())
        with self._lock, _translated(self.path, "ack"):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                count = self._conn.execute(
                    "UPDATE events SET acked_at = ? WHERE acked_at IS NULL AND seq <= ?",
                    (now_text, int(through)),
                ).rowcount
                for start in range(0, len(extra), _BATCH):
                    chunk = extra[start:start + _BATCH]
                    marks = ",".join("?" * len(chunk))
                    count += self._conn.execute(
                        f"UPDATE events SET acked_at = ? WHERE acked_at IS NULL AND seq IN ({marks})",
                        (now_text, *chunk),
                    ).rowcount
                self._conn.execute("COMMIT")
            except BaseException:
                _rollback(self._conn)
                raise
        return int(count)

    def prune(self, now_at: datetime, retention_days: int) -> int:
        """Delete acked events created more than ``retention_days`` before ``now_at``.

        Never deletes an unacked event, and always keeps the last event so that seq and
        prev continue. Returns how many were deleted.
        """
        cutoff = _utc_text(now_at - timedelta(days=retention_days))
        with self._lock, _translated(self.path, "prune"):
            deleted = self._conn.execute(
                "DELETE FROM events WHERE acked_at IS NOT NULL AND created_at < ? "
                "AND seq < (SELECT MAX(seq) FROM events)",
                (cutoff,),
            ).rowcount
        if deleted:
            log.info("outbox pruned events=%d retention_days=%d", deleted, retention_days)
        return int(deleted)

    # --- reading ---------------------------------------------------------------------

    def last_seq(self) -> int:
        """The highest seq ever committed (0 when empty)."""
        with self._lock:
            row = self._conn.execute("SELECT MAX(seq) FROM events").fetchone()
        return int(row[0] or 0)

    def pending_count(self) -> int:
        """How many events no ack covers yet."""
        with self._lock:
            row = self._conn.execute("SELECT COUNT(*) FROM events WHERE acked_at IS NULL").fetchone()
        return int(row[0])

    def unacked(self, limit: int = 1000, after: int = 0) -> list[tuple[int, bytes]]:
        """The oldest ``limit`` unacked events with seq > ``after`` as ``(seq, jws)``, in
        seq order: a reader pages through a backlog by passing the last seq it got."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, jws FROM events WHERE acked_at IS NULL AND seq > ? ORDER BY seq LIMIT ?",
                (int(after), int(limit)),
            ).fetchall()
        return [(int(seq), bytes(jws)) for seq, jws in rows]

    def events(self, since_seq: int = 0) -> Iterator[bytes]:
        """The stored JWS bytes of every event with seq > ``since_seq``, in seq order."""
        after = int(since_seq)
        while True:
            with self._lock:
                rows = self._conn.execute(
                    "SELECT seq, jws FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                    (after, _BATCH),
                ).fetchall()
            if not rows:
                return
            for _seq, jws in rows:
                yield bytes(jws)
            after = int(rows[-1][0])

    # --- meta ------------------------------------------------------------------------

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Store ``value`` under ``key`` durably (committed when this returns); a full
        disk is handled as in :meth:`append`."""

        def write() -> None:
            with self._lock, _translated(self.path, "set_meta"):
                self._conn.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )

        self._retry_full(write)

    def delete_meta(self, key: str) -> None:
        """Remove ``key`` durably (no error when absent)."""
        with self._lock, _translated(self.path, "delete_meta"):
            self._conn.execute("DELETE FROM meta WHERE key = ?", (key,))

    def quick_check(self) -> list[str]:
        """SQLite's ``PRAGMA quick_check``: [] when the file is sound, else what is wrong."""
        with self._lock, _translated(self.path, "quick_check"):
            rows = self._conn.execute("PRAGMA quick_check").fetchall()
        found = [str(row[0]) for row in rows]
        return [] if found == ["ok"] else found
