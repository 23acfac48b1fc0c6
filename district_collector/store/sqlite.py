"""The district's evidence store on one SQLite file (WAL, ``synchronous=FULL``).

:class:`SqliteStore` implements :class:`~district_collector.store.base.Store` (its
contracts are there); tables and rows are in :mod:`district_collector.store.schema`,
the report queries in :mod:`district_collector.store.facts`.

Durability: every batch is one transaction committed with ``synchronous=FULL`` in WAL
mode, so a batch survives a power cut once :meth:`SqliteStore.add_batch` returns.
One ``SqliteStore`` per thread (SQLite connections are not shared between threads).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path

from district_collector.scoring.facts import EventFacts, FactsRow
from district_collector.scoring.period import EPOCH, US
from district_collector.store import facts as store_facts
from district_collector.store.base import RecordRefused, Store, StoreError
from district_collector.store.facts import StationSummary
from district_collector.store.migrations.sqlite_versions import record_versions
from district_collector.store.records import (
    Outcome,
    QuarantineRecord,
    QuarantineRow,
    SeqSummary,
    StatusRecord,
    StatusRow,
    StoredEvent,
    classify_batch,
)
from district_collector.store.schema import (
    EVENT_INSERT,
    FACTS_INSERT,
    SCHEMA,
    event_row,
    facts_row,
    migrate,
    time_text,
)
from district_collector.store.sqlite_accounts import SqliteAccountsMixin
from district_collector.store.sqlite_acks import SqliteAcks
from district_collector.store.sqlite_alerts import SqliteAlertsMixin
from district_collector.store.sqlite_fleet import SqliteFleet
from district_collector.store.sqlite_status_log import SqliteStatusLog
from radio_protocol.timefmt import parse_rfc3339


class NoStoreError(StoreError):
    """A read-only command found no store: the collector has not run (or not here)."""


# The stored payload hashes of a batch's (station, seq) pairs, given as a JSON array of pairs.
_STORED_SHAS = """
SELECT e.station, e.seq, e.payload_sha256 FROM json_each(?) j CROSS JOIN events e
WHERE e.station = j.value ->> 0 AND e.seq = j.value ->> 1
"""
# Stored events as records: the events columns the facts do not hold, then the facts.
_EVENTS_QUERY = """
SELECT e.jws, e.kid, e.received_at, e.source, e.schedule_version,
       f.station, f.seq, f.payload_sha256, f.commune, f.started_at, f.program, f.outcome, f.clock_synced,
       f.slot, f.prev, f.segment_id, f.title, f.played_s, f.started_utc_us
FROM events e JOIN event_facts f
  ON f.station = e.station AND f.seq = e.seq AND f.payload_sha256 = e.payload_sha256{where}
ORDER BY e.station, e.seq, e.received_at
"""
_N_FACTS = len(EventFacts._fields)
# What a bad value raises in a statement (a record at fault, not the store): an int beyond
# 64 bits (OverflowError), a NOT NULL or CHECK constraint, a type SQLite cannot bind.
_RECORD_FAULTS = (OverflowError, ValueError, TypeError, sqlite3.IntegrityError, sqlite3.DataError,
                  sqlite3.InterfaceError)


class SqliteStore(
    SqliteAccountsMixin,
    SqliteAlertsMixin,
    SqliteAcks,
    SqliteStatusLog,
    SqliteFleet,
    Store,
):
    """The collector's store in the SQLite file at ``path`` (created, with its directory,
    when missing; an older schema is migrated on opening). StoreError when it cannot be opened."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._db = sqlite3.connect(str(self.path), isolation_level=None, timeout=30.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
            self._open_accounts()
            self._init_alerts()
            migrate(self._db, self.path)
            record_versions(self._db)
            self._init_status_log()
            self._init_fleet()
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the store: {exc}") from exc

    @classmethod
    def open_read_only(cls, path: Path | str) -> SqliteStore:
        """The existing store at ``path``, for reading only: nothing is created, migrated or
        written (what ``stations``, ``report``, ``evidence`` and ``schedule show`` use).

        NoStoreError when there is no store at ``path``; StoreError when it cannot be read."""
        path = Path(path)
        if not path.is_file():
            raise NoStoreError(f"no store at {path} (the collector has not run yet)")
        store = cls.__new__(cls)
        store.path = path
        try:
            store._db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                        isolation_level=None, timeout=30.0)
            tables = {row[0] for row in store._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot read the store: {exc}") from exc
        if "events" not in tables:
            store._db.close()
            raise NoStoreError(f"no store at {path} (the file has no collector tables: the collector "
                               "has not run yet)")
        return store

    def close(self) -> None:
        self._db.close()

    # --- writing ------------------------------------------------------------------------

    def add_batch(
        self,
        events: Sequence[StoredEvent],
        rejects: Sequence[QuarantineRecord] = (),
        statuses: Sequence[StatusRecord] = (),
    ) -> list[Outcome]:
        """See :meth:`Store.add_batch`: one classifying query for the batch, then one
        ``executemany`` per table."""
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            outcomes, new = self._classify(events)
            if new:
                db.executemany(EVENT_INSERT, [event_row(ev) for ev in new])
                db.executemany(FACTS_INSERT, [facts_row(ev) for ev in new])
                self._note_seq_problems(events, outcomes)
            touched = {ev.station for ev in new}
            for q in rejects:
                seen = db.execute(
                    "SELECT 1 FROM quarantine WHERE reason=? AND station IS ? AND raw=? LIMIT 1",
                    (q.reason, q.station, q.raw),
                ).fetchone()
                if seen is None:
                    db.execute(
                        "INSERT INTO quarantine(received_at, source, station, reason, detail, raw)"
                        " VALUES (?,?,?,?,?,?)",
                        (time_text(q.received_at), q.source, q.station, q.reason, q.detail, q.raw),
                    )
            for st in statuses:
                self._put_status(st)
            for station in touched:
                self._advance_through(station)
            db.execute("COMMIT")
        except BaseException as exc:
            self._rollback()
            if isinstance(exc, _RECORD_FAULTS):
                raise RecordRefused(f"{self.path}: batch not stored, a record is out of range: "
                                    f"{type(exc).__name__}: {exc}") from exc
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"{self.path}: batch not stored: {exc}") from exc
            raise
        return outcomes

    def _rollback(self) -> None:
        """End the batch's transaction whatever broke it, so the next batch can begin."""
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the connection is gone; the next call reports it

    def _classify(self, events: Sequence[StoredEvent]) -> tuple[list[Outcome], list[StoredEvent]]:
        """Each event's outcome against the store and the batch's earlier events (one
        query for the whole batch), and the events to insert (accepted and conflicts)."""
        known: dict[tuple[str, int], set[str]] = {}
        keys = sorted({(ev.station, ev.seq) for ev in events})
        for start in range(0, len(keys), 5000):
            for station, seq, sha in self._db.execute(_STORED_SHAS, (json.dumps(keys[start:start + 5000]),)):
                known.setdefault((station, seq), set()).add(sha)
        return classify_batch(events, known)

    def _put_status(self, st: StatusRecord) -> None:
        """Latest status wins; ``received_at`` is when the current state was first seen."""
        received_at = time_text(st.received_at)
        row = self._db.execute("SELECT state, received_at, jws FROM status WHERE station=?",
                               (st.station,)).fetchone()
        if row is not None and bytes(row[2]) == st.jws:
            return  # a retained status delivered again
        since = row[1] if row is not None and row[0] == st.state else received_at
        if row is None or row[0] != st.state:
            self._log_status(st.station, st.state, st.at, received_at)
        self._db.execute(
            "INSERT OR REPLACE INTO status(station, state, at, received_at, jws) VALUES (?,?,?,?,?)",
            (st.station, st.state, st.at, since, st.jws),
        )

    def _advance_through(self, station: str) -> None:
        row = self._db.execute("SELECT through FROM ack_state WHERE station=?", (station,)).fetchone()
        through = int(row[0]) if row else 0
        while True:
            seqs = [r[0] for r in self._db.execute(
                "SELECT DISTINCT seq FROM events WHERE station=? AND seq>? ORDER BY seq LIMIT 1000",
                (station, through))]
            advanced = False
            for seq in seqs:
                if seq != through + 1:
                    break
                through, advanced = seq, True
            if not advanced or len(seqs) < 1000 or seqs[-1] != through:
                break
        self._db.execute(
            "INSERT INTO ack_state(station, through) VALUES (?,?)"
            " ON CONFLICT(station) DO UPDATE SET through=excluded.through", (station, through))

    def add_schedule(self, station: str, version: int, jws: bytes, payload_sha256: str,
                     published_at: datetime) -> bool:
        cur = self._db.execute(
            "INSERT OR IGNORE INTO schedules VALUES (?,?,?,?,?)",
            (station, version, jws, payload_sha256, time_text(published_at)))
        return cur.rowcount == 1

    # --- reading ------------------------------------------------------------------------

    def ack_position(self, station: str, max_also: int = 1000) -> tuple[int, list[int]]:
        row = self._db.execute("SELECT through FROM ack_state WHERE station=?", (station,)).fetchone()
        through = int(row[0]) if row else 0
        also = [r[0] for r in self._db.execute(
            "SELECT DISTINCT seq FROM events WHERE station=? AND seq>? ORDER BY seq LIMIT ?",
            (station, through, max_also))]
        return through, also

    def acked_stations(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT station FROM ack_state ORDER BY station")]

    def count_events(self, station: str | None = None) -> int:
        if station is None:
            return int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0])
        return int(self._db.execute("SELECT COUNT(*) FROM events WHERE station=?", (station,)).fetchone()[0])

    def seqs(self, station: str) -> list[int]:
        return [r[0] for r in self._db.execute(
            "SELECT seq FROM events WHERE station=? ORDER BY seq", (station,))]

    def seq_summary(self, station: str) -> SeqSummary:
        db = self._db
        count, last = db.execute(
            "SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM events WHERE station=?", (station,)).fetchone()
        row = db.execute("SELECT through FROM ack_state WHERE station=?", (station,)).fetchone()
        gaps: list[tuple[int, int]] = []
        expected = 1
        for (seq,) in db.execute(
            "SELECT DISTINCT seq FROM events WHERE station=? ORDER BY seq", (station,)
        ):
            if seq > expected:
                gaps.append((expected, seq - 1))
            expected = seq + 1
        breaks = [r[0] for r in db.execute(
            "SELECT DISTINCT e.seq FROM events e WHERE e.station=? AND ("
            " (e.seq = 1 AND e.prev IS NOT NULL) OR (e.seq > 1"
            "  AND EXISTS (SELECT 1 FROM events p WHERE p.station=e.station AND p.seq=e.seq-1)"
            "  AND NOT EXISTS (SELECT 1 FROM events p WHERE p.station=e.station AND p.seq=e.seq-1"
            "                  AND p.payload_sha256 = e.prev))) ORDER BY e.seq", (station,))]
        conflicts = [r[0] for r in db.execute(
            "SELECT seq FROM events WHERE station=? GROUP BY seq HAVING COUNT(*) > 1 ORDER BY seq",
            (station,))]
        return SeqSummary(station, int(count), int(last), int(row[0]) if row else 0,
                          tuple(gaps), tuple(breaks), tuple(conflicts))

    def iter_events(
        self,
        station: str | None = None,
        start_at: datetime | None = None,
        end_at: datetime | None = None,
    ) -> Iterator[StoredEvent]:
        query = _EVENTS_QUERY.format(where="" if station is None else " WHERE e.station=?")
        cur = self._db.execute(query, () if station is None else (station,))
        start_us = None if start_at is None else _utc_us(start_at)
        end_us = None if end_at is None else _utc_us(end_at)
        while chunk := cur.fetchmany(500):
            for r in chunk:
                ts = r[18]
                if start_at is not None or end_at is not None:
                    if ts is None or (start_us is not None and ts < start_us) or (end_us is not None and ts >= end_us):
                        continue
                synced = r[12]
                facts = EventFacts(r[5], r[6], r[7], True, r[8], r[9], r[10], r[11],
                                   None if synced is None else bool(synced), *r[13:19])
                yield StoredEvent(bytes(r[0]), r[1], parse_rfc3339(r[2]), r[3], r[4], facts)

    def period_rows(self, start_us: int, end_us: int, kids: Mapping[str, Collection[str]]) -> Iterator[FactsRow]:
        return store_facts.period_rows(self._db, start_us, end_us, kids)

    def period_events(self, start_us: int, end_us: int,
                      kids: Mapping[str, Collection[str]]) -> Iterator[StoredEvent]:
        make = EventFacts._make
        for row in store_facts.period_events(self._db, start_us, end_us, kids):
            # row: the facts (EventFacts field order), kid, jws, received_at, source, schedule_version
            yield StoredEvent(bytes(row[16]), row[15], parse_rfc3339(row[17]), row[18], row[19],
                              make(row[:_N_FACTS]))

    def grouped_period(
        self,
        start_us: int,
        end_us: int,
        kids: Mapping[str, Collection[str]],
        offset_us: int,
        first_monday: int,
        month_starts: list[int],
        eligible: Collection[str],
        program: str,
    ) -> tuple[list[StationSummary], Iterator[FactsRow]]:
        return store_facts.grouped_period(self._db, start_us, end_us, kids, offset_us, first_monday,
                                          month_starts, eligible, program)

    def latest_started_us(self) -> int | None:
        row = self._facts_query("SELECT MAX(started_utc_us) FROM event_facts")
        return row[0] if row is not None and isinstance(row[0], int) else None

    def has_events_between(self, start_us: int, end_us: int) -> bool:
        row = self._facts_query("SELECT EXISTS(SELECT 1 FROM event_facts WHERE started_utc_us >= ?"
                                " AND started_utc_us < ?)", (start_us, end_us))
        return bool(row and row[0])

    def _facts_query(self, sql: str, params: tuple[int, ...] = ()) -> tuple[object, ...] | None:
        """One row from ``event_facts``; None when a store opened read-only predates that
        table (it is added when the collector next opens the store for writing)."""
        try:
            return self._db.execute(sql, params).fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return None
            raise StoreError(f"{self.path}: cannot read the store: {exc}") from exc

    def last_airing(self, station: str) -> str | None:
        row = self._db.execute(
            "SELECT started_at FROM events WHERE station=? AND started_at IS NOT NULL"
            " ORDER BY seq DESC LIMIT 1", (station,)).fetchone()
        return None if row is None else str(row[0])

    def status(self, station: str) -> StatusRow | None:
        r = self._db.execute("SELECT station, state, at, received_at, jws FROM status WHERE station=?",
                             (station,)).fetchone()
        return None if r is None else StatusRow(r[0], r[1], r[2], r[3], bytes(r[4]))

    def quarantine_rows(self) -> list[QuarantineRow]:
        return [QuarantineRow(r[0], r[1], r[2], bytes(r[3])) for r in self._db.execute(
            "SELECT station, reason, detail, raw FROM quarantine ORDER BY id")]

    def published_schedules(self) -> list[bytes]:
        return [bytes(r[0]) for r in self._db.execute("SELECT jws FROM schedules ORDER BY station, version")]

    def latest_schedule(self, station: str) -> tuple[int, bytes] | None:
        r = self._db.execute("SELECT version, jws FROM schedules WHERE station=? ORDER BY version DESC"
                             " LIMIT 1", (station,)).fetchone()
        return None if r is None else (int(r[0]), bytes(r[1]))


def _utc_us(at: datetime) -> int:
    """An aware time as integer microseconds since the Unix epoch (as ``started_utc_us``)."""
    return (at - EPOCH) // US
