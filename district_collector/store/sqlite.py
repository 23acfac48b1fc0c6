"""The district's evidence store: one SQLite file (WAL, ``synchronous=FULL``).

Tables (docs/ARCHITECTURE.md): ``events`` keyed ``(station, seq, payload_sha256)`` holding
the JWS verbatim as received plus denormalized columns for fast reports; ``quarantine``
(rejected messages with the reason); ``status`` (latest station status); ``schedules``.
Extra: ``ack_state(station, through)``, the highest seq N such that every seq 1..N is
stored, kept in the same transaction as the events so an ack never claims more than
what is committed.

Report table ``event_facts`` (schema version 1, see ``store_facts``): each event's
scoring facts as columns, written with the event in the same transaction; opening an
older store fills it once from the stored JWS.

Durability: every batch is one transaction committed with ``synchronous=FULL`` in WAL
mode, so a batch survives a power cut once :meth:`Store.add_batch` returns.
One ``Store`` per thread (SQLite connections are not shared between threads).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from district_collector.store import facts as store_facts
from radio_protocol.errors import CommuneRadioError
from radio_protocol.timefmt import parse_rfc3339

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
CONFLICT = "conflict"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    station TEXT NOT NULL, seq INTEGER NOT NULL, payload_sha256 TEXT NOT NULL,
    jws BLOB NOT NULL, kid TEXT NOT NULL, received_at TEXT NOT NULL, source TEXT NOT NULL,
    started_at TEXT, program TEXT, outcome TEXT, clock_synced INTEGER, slot TEXT,
    schedule_version INTEGER, prev TEXT,
    PRIMARY KEY (station, seq, payload_sha256)
);
CREATE INDEX IF NOT EXISTS events_started ON events(started_at);
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT, received_at TEXT NOT NULL, source TEXT NOT NULL,
    station TEXT, reason TEXT NOT NULL, detail TEXT, raw BLOB
);
CREATE INDEX IF NOT EXISTS quarantine_reason ON quarantine(reason, station);
CREATE TABLE IF NOT EXISTS status (
    station TEXT PRIMARY KEY, state TEXT NOT NULL, at TEXT, received_at TEXT NOT NULL,
    jws BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS schedules (
    station TEXT NOT NULL, version INTEGER NOT NULL, jws BLOB NOT NULL,
    payload_sha256 TEXT NOT NULL, published_at TEXT NOT NULL,
    PRIMARY KEY (station, version)
);
CREATE TABLE IF NOT EXISTS ack_state (
    station TEXT PRIMARY KEY, through INTEGER NOT NULL DEFAULT 0
);
"""

_EVENT_INSERT = "INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING"
# The stored payload hashes of a batch's (station, seq) pairs, given as a JSON array of pairs.
_STORED_SHAS = """
SELECT e.station, e.seq, e.payload_sha256 FROM json_each(?) j CROSS JOIN events e
WHERE e.station = j.value ->> 0 AND e.seq = j.value ->> 1
"""


class StoreError(CommuneRadioError):
    """The store cannot be opened or written."""


@dataclass(frozen=True)
class EventRecord:
    """A verified event ready to store. ``jws`` is exactly the bytes received.

    ``payload``: the payload object the ingestor already verified and decoded, when it
    has it; the store then builds the report facts from it instead of decoding the JWS
    again (not part of the record's identity: two records of the same bytes are equal).
    """

    station: str
    seq: int
    payload_sha256: str
    jws: bytes
    kid: str
    source: str
    started_at: str | None
    program: str | None
    outcome: str | None
    clock_synced: bool | None
    slot: str | None
    schedule_version: int | None
    prev: str | None
    payload: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class QuarantineRecord:
    source: str
    station: str | None
    reason: str
    detail: str
    raw: bytes


@dataclass(frozen=True)
class StatusRecord:
    station: str
    state: str
    at: str | None
    jws: bytes


@dataclass(frozen=True)
class EventRow:
    """One stored event as :meth:`Store.iter_events` yields it.

    ``jws`` is the flattened JWS bytes as received (verify or decode them for the full
    payload); the other members are copies of payload members (``started_at``, ``slot``
    as the RFC 3339 text of the payload; ``program`` is ``segment.program``).
    """

    station: str
    seq: int
    payload_sha256: str
    jws: bytes
    kid: str
    received_at: str
    source: str
    started_at: str | None
    program: str | None
    outcome: str | None
    clock_synced: bool | None
    slot: str | None
    schedule_version: int | None
    prev: str | None


@dataclass(frozen=True)
class SeqSummary:
    """Per-station view of the seq space.

    ``through``: every seq 1..through is stored. ``gaps``: inclusive ranges of missing
    seqs below ``last_seq``. ``chain_breaks``: seqs whose ``prev`` does not match the
    stored payload of seq-1 (or seq 1 with a non-null prev). ``conflicts``: seqs stored
    with more than one distinct payload.
    """

    station: str
    count: int
    last_seq: int
    through: int
    gaps: tuple[tuple[int, int], ...]
    chain_breaks: tuple[int, ...]
    conflicts: tuple[int, ...]


@dataclass(frozen=True)
class StatusRow:
    station: str
    state: str
    at: str | None
    received_at: str
    jws: bytes


class Store:
    """The collector's SQLite store. Times given to it are aware datetimes."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._db = sqlite3.connect(str(self.path), isolation_level=None, timeout=30.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            store_facts.migrate(self._db, self.path)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the store: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing ------------------------------------------------------------------------

    def add_batch(
        self,
        events: Sequence[EventRecord],
        received_at: datetime,
        rejects: Sequence[QuarantineRecord] = (),
        statuses: Sequence[StatusRecord] = (),
    ) -> list[str]:
        """Store a batch in ONE transaction; return per-event outcomes in order.

        Outcomes: ``accepted`` (new), ``duplicate`` (same station, seq and bytes of payload
        already stored: nothing written), ``conflict`` (same station and seq, other payload:
        stored as a second row). Quarantine rows identical to one already stored (same
        reason, station and raw bytes) are not repeated, so re-imports change nothing.
        """
        at = received_at.isoformat(timespec="milliseconds")
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            outcomes, new = self._classify(events)
            rows = []
            facts = []
            for ev in new:
                synced = None if ev.clock_synced is None else int(ev.clock_synced)
                rows.append((ev.station, ev.seq, ev.payload_sha256, ev.jws, ev.kid, at, ev.source,
                             ev.started_at, ev.program, ev.outcome, synced, ev.slot, ev.schedule_version,
                             ev.prev))
                facts.append(store_facts.facts_row(
                    ev.station, ev.seq, ev.payload_sha256, ev.jws, ev.kid, ev.started_at, ev.program,
                    ev.outcome, synced, ev.slot, ev.prev, ev.payload))
            if rows:
                db.executemany(_EVENT_INSERT, rows)
                db.executemany(store_facts.FACTS_INSERT, facts)
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
                        (at, q.source, q.station, q.reason, q.detail, q.raw),
                    )
            for st in statuses:
                self._put_status(st, at)
            for station in touched:
                self._advance_through(station)
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise StoreError(f"{self.path}: batch not stored: {exc}") from exc
        return outcomes

    def _classify(self, events: Sequence[EventRecord]) -> tuple[list[str], list[EventRecord]]:
        """Each event's outcome against the store and the batch's earlier events (one
        query for the whole batch), and the events to insert (accepted and conflicts)."""
        known: dict[tuple[str, int], set[str]] = {}
        keys = sorted({(ev.station, ev.seq) for ev in events})
        for start in range(0, len(keys), 5000):
            for station, seq, sha in self._db.execute(_STORED_SHAS, (json.dumps(keys[start:start + 5000]),)):
                known.setdefault((station, seq), set()).add(sha)
        outcomes: list[str] = []
        new: list[EventRecord] = []
        for ev in events:
            shas = known.setdefault((ev.station, ev.seq), set())
            if ev.payload_sha256 in shas:
                outcomes.append(DUPLICATE)
                continue
            outcomes.append(CONFLICT if shas else ACCEPTED)
            shas.add(ev.payload_sha256)
            new.append(ev)
        return outcomes, new

    def _put_status(self, st: StatusRecord, received_at: str) -> None:
        """Latest status wins; ``received_at`` is when the current state was first seen."""
        row = self._db.execute("SELECT state, received_at, jws FROM status WHERE station=?",
                               (st.station,)).fetchone()
        if row is not None and bytes(row[2]) == st.jws:
            return  # a retained status delivered again
        since = row[1] if row is not None and row[0] == st.state else received_at
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
        """Record a published schedule; False when that (station, version) already exists."""
        cur = self._db.execute(
            "INSERT OR IGNORE INTO schedules VALUES (?,?,?,?,?)",
            (station, version, jws, payload_sha256, published_at.isoformat(timespec="milliseconds")))
        return cur.rowcount == 1

    # --- reading ------------------------------------------------------------------------

    def ack_position(self, station: str, max_also: int = 1000) -> tuple[int, list[int]]:
        """``(through, also)`` for an ack: ``also`` lists the lowest ``max_also`` stored
        seqs above ``through`` (the rest are covered by later acks as gaps fill)."""
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
        """Every stored seq of a station, ascending, repeated for conflicts."""
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
    ) -> Iterator[EventRow]:
        """Stored events (conflicting rows included), ordered by station then seq.

        With ``start_at``/``end_at`` (aware datetimes) only events whose payload
        ``started_at`` lies in ``[start_at, end_at)`` are yielded (events without
        ``started_at`` are then skipped). Reads in chunks; memory stays flat.
        """
        query = "SELECT * FROM events"
        params: tuple[str, ...] = ()
        if station is not None:
            query += " WHERE station=?"
            params = (station,)
        query += " ORDER BY station, seq, received_at"
        cur = self._db.execute(query, params)
        while True:
            chunk = cur.fetchmany(500)
            if not chunk:
                return
            for r in chunk:
                row = EventRow(r[0], r[1], r[2], bytes(r[3]), r[4], r[5], r[6], r[7], r[8], r[9],
                               None if r[10] is None else bool(r[10]), r[11], r[12], r[13])
                if start_at is not None or end_at is not None:
                    if row.started_at is None:
                        continue
                    at = parse_rfc3339(row.started_at)
                    if (start_at is not None and at < start_at) or (end_at is not None and at >= end_at):
                        continue
                yield row

    def period_rows(
        self,
        start_us: int,
        end_us: int,
        kids: Mapping[str, Collection[str]],
        with_jws: bool = False,
    ) -> Iterator[tuple[Any, ...]]:
        """The report's rows of a period, from ``event_facts`` (see :func:`store_facts.period_rows`)."""
        return store_facts.period_rows(self._db, start_us, end_us, kids, with_jws)

    def last_airing(self, station: str) -> str | None:
        """``started_at`` of the station's highest-seq event that has one."""
        row = self._db.execute(
            "SELECT started_at FROM events WHERE station=? AND started_at IS NOT NULL"
            " ORDER BY seq DESC LIMIT 1", (station,)).fetchone()
        return None if row is None else str(row[0])

    def status(self, station: str) -> StatusRow | None:
        r = self._db.execute("SELECT station, state, at, received_at, jws FROM status WHERE station=?",
                             (station,)).fetchone()
        return None if r is None else StatusRow(r[0], r[1], r[2], r[3], bytes(r[4]))

    def quarantine_rows(self) -> list[tuple[str | None, str, str, bytes]]:
        """``(station, reason, detail, raw)`` of every quarantined message, oldest first."""
        return [(r[0], r[1], r[2], bytes(r[3])) for r in self._db.execute(
            "SELECT station, reason, detail, raw FROM quarantine ORDER BY id")]

    def latest_schedule(self, station: str) -> tuple[int, bytes] | None:
        r = self._db.execute("SELECT version, jws FROM schedules WHERE station=? ORDER BY version DESC"
                             " LIMIT 1", (station,)).fetchone()
        return None if r is None else (int(r[0]), bytes(r[1]))
