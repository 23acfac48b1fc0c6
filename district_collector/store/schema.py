"""The SQLite store's tables, and the one place an event record becomes rows.

Tables: ``events`` keyed ``(station, seq, payload_sha256)`` holding the JWS verbatim as
received plus denormalized columns for fast views; ``quarantine`` (rejected messages
with the reason); ``status`` (latest station status); ``schedules``; ``ack_state(station,
through)``, the highest seq N such that every seq 1..N is stored, kept in the same
transaction as the events so an ack never claims more than what is committed.

Report table ``event_facts`` (schema version 1): each event's scoring facts as columns
(:class:`~district_collector.scoring.facts.EventFacts` with ``kid``, and
``started_utc_us``: ``started_at`` as integer UTC microseconds), clustered by
``(station, seq, payload_sha256)`` and written with the event in the same transaction;
a report reads it alone and never decodes a JWS. A store of an older schema gets it
filled from each row's JWS once (:func:`migrate`); the ``events`` table is unchanged.

Rows are typed dicts built from a :class:`~district_collector.store.records.StoredEvent`
by column name (:func:`event_row`, :func:`facts_row`); the INSERT statements name the
same columns, taken from the row types.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import TypedDict

from district_collector.scoring.facts import EventFacts, facts_from_payload, payload_bytes
from district_collector.store.records import StoredEvent
from radio_protocol.timefmt import parse_rfc3339

log = logging.getLogger(__name__)

SCHEMA = """
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

SCHEMA_VERSION = 1
FACTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS event_facts (
    station TEXT NOT NULL, seq INTEGER NOT NULL, payload_sha256 TEXT NOT NULL, kid TEXT NOT NULL,
    commune TEXT, started_at TEXT, program TEXT, outcome TEXT, clock_synced INTEGER, slot TEXT,
    prev TEXT, segment_id TEXT, title TEXT, played_s REAL, started_utc_us INTEGER,
    PRIMARY KEY (station, seq, payload_sha256)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS event_facts_started ON event_facts(station, started_utc_us, seq);
"""


class EventsRow(TypedDict):
    """One ``events`` row (times as RFC 3339 text, ``clock_synced`` 0/1)."""

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
    clock_synced: int | None
    slot: str | None
    schedule_version: int | None
    prev: str | None


class EventFactsRow(TypedDict):
    """One ``event_facts`` row (``started_utc_us``: integer UTC microseconds)."""

    station: str
    seq: int
    payload_sha256: str
    kid: str
    commune: str | None
    started_at: str | None
    program: str | None
    outcome: str | None
    clock_synced: int | None
    slot: str | None
    prev: str | None
    segment_id: str | None
    title: str | None
    played_s: float | None
    started_utc_us: int | None


def _insert(table: str, columns: list[str], conflict: str) -> str:
    names = ", ".join(columns)
    values = ", ".join(f":{c}" for c in columns)
    return f"INSERT {conflict}INTO {table} ({names}) VALUES ({values})"


EVENT_INSERT = _insert("events", list(EventsRow.__annotations__), "") + " ON CONFLICT DO NOTHING"
FACTS_INSERT = _insert("event_facts", list(EventFactsRow.__annotations__), "OR REPLACE ")


def time_text(at: datetime) -> str:
    """How the store writes an aware time: RFC 3339 with milliseconds."""
    return at.isoformat(timespec="milliseconds")


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(value)


def event_row(ev: StoredEvent) -> EventsRow:
    """The ``events`` row of an event."""
    f = ev.facts
    return EventsRow(
        station=f.station, seq=f.seq, payload_sha256=f.payload_sha256, jws=ev.jws, kid=ev.kid,
        received_at=time_text(ev.received_at), source=ev.source, started_at=f.started_at, program=f.program,
        outcome=f.outcome, clock_synced=_flag(f.clock_synced), slot=f.slot,
        schedule_version=ev.schedule_version, prev=f.prev,
    )


def facts_row(ev: StoredEvent) -> EventFactsRow:
    """The ``event_facts`` row of an event."""
    f = ev.facts
    return EventFactsRow(
        station=f.station, seq=f.seq, payload_sha256=f.payload_sha256, kid=ev.kid, commune=f.commune,
        started_at=f.started_at, program=f.program, outcome=f.outcome, clock_synced=_flag(f.clock_synced),
        slot=f.slot, prev=f.prev, segment_id=f.segment_id, title=f.title, played_s=f.played_s,
        started_utc_us=f.utc_us,
    )


def _legacy_event(row: sqlite3.Row) -> StoredEvent:
    """The record of an ``events`` row of a store without ``event_facts``: the columns it
    has, and what only the payload holds read from the JWS (None when unreadable)."""
    jws = bytes(row["jws"])
    try:
        p: EventFacts | None = facts_from_payload(json.loads(payload_bytes(jws)), "", True)
    except (ValueError, TypeError, AttributeError):
        p = None
    synced = row["clock_synced"]
    facts = EventFacts(
        station=row["station"], seq=row["seq"], payload_sha256=row["payload_sha256"], signature_ok=True,
        commune=p.commune if p else None, started_at=row["started_at"], program=row["program"],
        outcome=row["outcome"], clock_synced=None if synced is None else bool(synced), slot=row["slot"],
        prev=row["prev"], segment_id=p.segment_id if p else None, title=p.title if p else None,
        played_s=p.played_s if p else None, utc_us=p.utc_us if p else None,
    )
    return StoredEvent(jws, row["kid"], parse_rfc3339(row["received_at"]), row["source"],
                       row["schedule_version"], facts)


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring an older store to :data:`SCHEMA_VERSION`: create ``event_facts`` and fill
    it from every ``events`` row, in one transaction (a crash leaves the old schema)."""
    if int(db.execute("PRAGMA user_version").fetchone()[0]) >= SCHEMA_VERSION:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        if int(db.execute("PRAGMA user_version").fetchone()[0]) < SCHEMA_VERSION:
            for statement in FACTS_SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            filled = 0
            cur = db.cursor()
            cur.row_factory = sqlite3.Row
            cur.execute("SELECT * FROM events")
            while chunk := cur.fetchmany(2000):
                db.executemany(FACTS_INSERT, [facts_row(_legacy_event(r)) for r in chunk])
                filled += len(chunk)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            if filled:
                log.info("store migrated to schema %d path=%s events=%d", SCHEMA_VERSION, path, filled)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
