"""The store's report table: each event's scoring facts as columns (schema version 1).

``event_facts`` holds, for every ``events`` row and in the same transaction, the facts
scoring reads (:class:`~district_collector.event_facts.EventFacts`, with ``kid``, and
``started_utc_us``: ``started_at`` as integer UTC microseconds), clustered by
``(station, seq, payload_sha256)``. A report reads it alone and never decodes a JWS.
A store of an older schema gets it filled from each row's JWS once (:func:`migrate`);
the ``events`` table itself is unchanged. Functions here take the store's connection.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

from district_collector.event_facts import facts_from_payload, payload_bytes

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_FACTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS event_facts (
    station TEXT NOT NULL, seq INTEGER NOT NULL, payload_sha256 TEXT NOT NULL, kid TEXT NOT NULL,
    commune TEXT, started_at TEXT, program TEXT, outcome TEXT, clock_synced INTEGER, slot TEXT,
    prev TEXT, segment_id TEXT, title TEXT, played_s REAL, started_utc_us INTEGER,
    PRIMARY KEY (station, seq, payload_sha256)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS event_facts_started ON event_facts(station, started_utc_us, seq);
"""
FACTS_INSERT = "INSERT OR REPLACE INTO event_facts VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
# Each station's period seq range (see scoring.select_period_events) and registered kids.
_REPORT_TEMP = """
CREATE TEMP TABLE IF NOT EXISTS report_ranges (station TEXT PRIMARY KEY, lo INTEGER, hi INTEGER) WITHOUT ROWID;
CREATE TEMP TABLE IF NOT EXISTS report_keys (station TEXT NOT NULL, kid TEXT NOT NULL,
                                             PRIMARY KEY (station, kid)) WITHOUT ROWID;
DELETE FROM temp.report_ranges;
DELETE FROM temp.report_keys
"""
_RANGES_FILL = """
INSERT INTO temp.report_ranges SELECT station, MIN(seq) - 1, MAX(seq) + 1 FROM event_facts
WHERE started_utc_us >= ? AND started_utc_us < ? GROUP BY station
"""
# The facts of the events in those ranges, in EventFacts field order (signature_ok: 1
# when the row's kid is registered for its station). CROSS JOIN keeps event_facts the
# outer loop, so rows come in its key order and the ORDER BY costs no sort.
_PERIOD_QUERY = """
SELECT f.station, f.seq, f.payload_sha256,
       EXISTS (SELECT 1 FROM temp.report_keys k WHERE k.station = f.station AND k.kid = f.kid),
       f.commune, f.started_at, f.program, f.outcome, f.clock_synced, f.slot, f.prev,
       f.segment_id, f.title, f.played_s, f.started_utc_us{jws}
FROM event_facts f CROSS JOIN temp.report_ranges r{join}
WHERE f.station = r.station AND f.seq BETWEEN r.lo AND r.hi{where}
ORDER BY f.station, f.seq, f.payload_sha256
"""
_JWS_JOIN = " CROSS JOIN events e"
_JWS_WHERE = " AND e.station = f.station AND e.seq = f.seq AND e.payload_sha256 = f.payload_sha256"


def facts_row(station: str, seq: int, payload_sha256: str, jws: bytes, kid: str, started_at: str | None,
              program: str | None, outcome: str | None, clock_synced: int | None, slot: str | None,
              prev: str | None, payload: Mapping[str, Any] | None = None) -> tuple[Any, ...]:
    """The ``event_facts`` row of an ``events`` row: its columns plus what only the
    payload holds (read the way scoring reads a bundle's payload). ``payload``: the
    JWS's payload object when the caller already decoded it (else read from ``jws``)."""
    more = report_values(jws, payload)
    return (station, seq, payload_sha256, kid, more[1], started_at, program, outcome, clock_synced, slot,
            prev, more[2], more[3], more[4], more[0])


def report_values(jws: bytes, payload: Mapping[str, Any] | None = None
                  ) -> tuple[int | None, str | None, str | None, str | None, float | None]:
    """``(started_utc_us, commune, segment_id, title, played_s)`` of a stored (verified)
    event, read from its payload (``payload`` when given, else decoded from ``jws``) as
    scoring reads a bundle's; all None when unreadable."""
    try:
        f = facts_from_payload(json.loads(payload_bytes(jws)) if payload is None else payload, "", True)
    except (ValueError, TypeError, AttributeError):
        return None, None, None, None, None
    return f.utc_us, f.commune, f.segment_id, f.title, f.played_s


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring an older store to :data:`SCHEMA_VERSION`: create ``event_facts`` and fill
    it from every ``events`` row, in one transaction (a crash leaves the old schema)."""
    if int(db.execute("PRAGMA user_version").fetchone()[0]) >= SCHEMA_VERSION:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        if int(db.execute("PRAGMA user_version").fetchone()[0]) < SCHEMA_VERSION:
            for statement in _FACTS_SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            filled = 0
            cur = db.execute("SELECT station, seq, payload_sha256, jws, kid, started_at, program, outcome,"
                             " clock_synced, slot, prev FROM events")
            while chunk := cur.fetchmany(2000):
                db.executemany(FACTS_INSERT, [facts_row(r[0], r[1], r[2], bytes(r[3]), *r[4:])
                                              for r in chunk])
                filled += len(chunk)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            if filled:
                log.info("store migrated to schema %d path=%s events=%d", SCHEMA_VERSION, path, filled)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def period_rows(
    db: sqlite3.Connection,
    start_us: int,
    end_us: int,
    kids: Mapping[str, Collection[str]],
    with_jws: bool = False,
    chunk: int = 2000,
) -> Iterator[tuple[Any, ...]]:
    """The report's rows, read from ``event_facts`` (no JWS decoding), in station, seq,
    payload hash order.

    Per station, every event whose seq lies in ``[min(S) - 1, max(S) + 1]`` where S are
    the seqs of its events with ``start_us <= started_utc_us < end_us`` (integer UTC
    microseconds). Each row is ``(station, seq, payload_sha256, signature_ok (0/1:
    its kid is among ``kids[station]``), commune, started_at, program, outcome,
    clock_synced (0/1/None), slot, prev, segment_id, title, played_s, started_utc_us)``
    plus the JWS bytes with ``with_jws``. Streams in chunks: memory stays flat.
    """
    for statement in _REPORT_TEMP.split(";"):
        db.execute(statement)
    db.execute(_RANGES_FILL, (start_us, end_us))
    db.executemany("INSERT OR IGNORE INTO temp.report_keys VALUES (?,?)",
                   [(station, kid) for station, ks in kids.items() for kid in ks])
    query = _PERIOD_QUERY.format(jws=", e.jws" if with_jws else "", join=_JWS_JOIN if with_jws else "",
                                 where=_JWS_WHERE if with_jws else "")
    cur = db.execute(query)
    while rows := cur.fetchmany(chunk):
        yield from rows
