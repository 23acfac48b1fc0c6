"""Whole-fleet reads on SQLite (see :mod:`district_collector.store.base_fleet`).

Chain breaks and conflicts would need a scan of every event; instead ``add_batch`` keeps
them in ``seq_problems`` (:meth:`SqliteFleet._note_seq_problems`, in the batch's
transaction): the batch's conflicts are recorded, and each new event's seq and the next
one are re-checked for chain breaks with the
:meth:`~district_collector.store.sqlite.SqliteStore.seq_summary` rules (in Python when the
batch itself decides, else set-based SQL). A store that predates the table gets it filled once when opened for
writing (:meth:`SqliteFleet._init_fleet`). Gaps are counted above each station's
``through`` only (below it there are none), so a station without gaps costs one lookup.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from district_collector.store.base_fleet import FleetStore, StationAggregate
from district_collector.store.migrations.sqlite_versions import record_versions
from district_collector.store.records import (
    ACCEPTED,
    CONFLICT,
    DUPLICATE,
    Outcome,
    StatusRow,
    StoredEvent,
)

SEQ_PROBLEMS_SCHEMA = """
CREATE TABLE IF NOT EXISTS seq_problems (
    station TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL,
    PRIMARY KEY (station, seq, kind)
) WITHOUT ROWID
"""
# Each station's last airing: its highest-seq event with a started_at (the lowest payload
# hash among conflicting ones), kept by add_batch.
STATION_LAST_SCHEMA = """
CREATE TABLE IF NOT EXISTS station_last (
    station TEXT PRIMARY KEY, seq INTEGER NOT NULL, payload_sha256 TEXT NOT NULL,
    started_at TEXT, outcome TEXT, program TEXT, title TEXT
) WITHOUT ROWID
"""
_LAST_UPSERT = """
INSERT INTO station_last(station, seq, payload_sha256, started_at, outcome, program, title) VALUES (?,?,?,?,?,?,?)
ON CONFLICT(station) DO UPDATE SET seq = excluded.seq, payload_sha256 = excluded.payload_sha256,
    started_at = excluded.started_at, outcome = excluded.outcome, program = excluded.program, title = excluded.title
WHERE excluded.seq > station_last.seq
   OR (excluded.seq = station_last.seq AND excluded.payload_sha256 < station_last.payload_sha256)
"""
_LAST_FILL = """
INSERT INTO station_last(station, seq, payload_sha256, started_at, outcome, program, title)
SELECT f.station, f.seq, MIN(f.payload_sha256), f.started_at, f.outcome, f.program, f.title
FROM ack_state a JOIN event_facts f ON f.station = a.station AND f.started_at IS NOT NULL AND f.seq = (
    SELECT l.seq FROM event_facts l WHERE l.station = a.station AND l.started_at IS NOT NULL
    ORDER BY l.seq DESC LIMIT 1)
GROUP BY f.station
"""
_KEPT_LAST = "SELECT station, NULL, started_at, outcome, program, title, NULL FROM station_last"
_KEPT_JWS = """
SELECT s.station, e.jws FROM station_last s
JOIN events e ON e.station = s.station AND e.seq = s.seq AND e.payload_sha256 = s.payload_sha256
WHERE s.outcome <> 'completed'
"""
_PAIRS = "SELECT j.value ->> 0 AS station, j.value ->> 1 AS seq FROM json_each(?) j"
# CROSS JOIN keeps the candidates outermost (each one index lookup); CASE keeps the planner
# from turning "seq > 1" into an index range.
_BREAK = """
SELECT DISTINCT e.station, e.seq, 'break' AS kind FROM ({pairs}) c CROSS JOIN events e
WHERE e.station = c.station AND e.seq = c.seq AND CASE WHEN e.seq = 1 THEN e.prev IS NOT NULL ELSE
  EXISTS (SELECT 1 FROM events p WHERE p.station = e.station AND p.seq = e.seq - 1)
  AND NOT EXISTS (SELECT 1 FROM events p WHERE p.station = e.station AND p.seq = e.seq - 1
                  AND p.payload_sha256 = e.prev) END
"""
_CONFLICT = """
SELECT e.station, e.seq, 'conflict' AS kind FROM ({pairs}) c CROSS JOIN events e
WHERE e.station = c.station AND e.seq = c.seq GROUP BY e.station, e.seq HAVING COUNT(*) > 1
"""
_ALL = "SELECT DISTINCT station, seq FROM events"
# Per station two seeks in event_facts (clustered by station and seq: no JWS read), and
# the JWS only of a last airing that did not complete (for its reason).
_LAST = """
SELECT a.station, a.through, f.started_at, f.outcome, f.program, f.title, e.jws
FROM ack_state a
LEFT JOIN event_facts f ON f.station = a.station AND f.seq = (
    SELECT l.seq FROM event_facts l WHERE l.station = a.station AND l.started_at IS NOT NULL
    ORDER BY l.seq DESC LIMIT 1)
LEFT JOIN events e ON f.outcome <> 'completed' AND e.station = f.station AND e.seq = f.seq
    AND e.payload_sha256 = f.payload_sha256
ORDER BY a.station, f.payload_sha256
"""
# Per station with seqs above its through: missing ranges there, and its highest seq.
_GAPS = """
SELECT station, SUM(seq > before + 1), MAX(seq) FROM (
  SELECT g.station, g.seq, LAG(g.seq, 1, g.through) OVER (PARTITION BY g.station ORDER BY g.seq) AS before
  FROM (SELECT DISTINCT ev.station, ev.seq, a.through FROM ack_state a
        CROSS JOIN events ev WHERE ev.station = a.station AND ev.seq > a.through) g
) GROUP BY station
"""


class SqliteFleet(FleetStore):
    """Mixin of :class:`~district_collector.store.sqlite.SqliteStore` (uses ``self._db``)."""

    _db: sqlite3.Connection

    def _init_fleet(self) -> None:
        """Create ``seq_problems`` and ``station_last``; fill each once from the stored
        events when it is new; record the part's version (``fleet``, as on PostgreSQL)."""
        db = self._db
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if {"seq_problems", "station_last"} <= tables:
            record_versions(db, {"fleet": 1})
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            if "seq_problems" not in tables:
                db.execute(SEQ_PROBLEMS_SCHEMA)
                for query in (_BREAK, _CONFLICT):
                    db.execute("INSERT OR IGNORE INTO seq_problems(station, seq, kind) "
                               + query.format(pairs=_ALL))
            if "station_last" not in tables:
                db.execute(STATION_LAST_SCHEMA)
                db.execute(_LAST_FILL)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        record_versions(db, {"fleet": 1})

    def _note_seq_problems(self, events: Sequence[StoredEvent], outcomes: Sequence[Outcome]) -> None:
        """Record the batch's conflicts and re-check for chain breaks each new event's seq
        and the one after it (inside add_batch's transaction, after the inserts).

        A seq whose one event arrived in this batch, like the seq before it, is decided
        here (a chain ingested in order costs no query); the others are re-checked by SQL."""
        accepted: dict[tuple[str, int], StoredEvent] = {}
        conflicted: set[tuple[str, int]] = set()
        for ev, outcome in zip(events, outcomes, strict=True):
            if outcome == ACCEPTED:
                accepted[(ev.station, ev.seq)] = ev
            elif outcome == CONFLICT:
                conflicted.add((ev.station, ev.seq))
        breaks: set[tuple[str, int]] = set()
        check: set[tuple[str, int]] = set()
        for station, seq in accepted.keys() | conflicted:
            for key in ((station, seq), (station, seq + 1)):
                only = accepted.get(key) if key not in conflicted else None
                before = (station, key[1] - 1)
                if only is not None and key[1] == 1:
                    if only.facts.prev is not None:
                        breaks.add(key)
                elif only is not None and before in accepted and before not in conflicted:
                    if accepted[before].payload_sha256 != only.facts.prev:
                        breaks.add(key)
                else:
                    check.add(key)
        db = self._db
        last: dict[str, StoredEvent] = {}
        for ev, outcome in zip(events, outcomes, strict=True):
            if outcome != DUPLICATE and ev.facts.started_at is not None:
                best = last.get(ev.station)
                if best is None or (ev.seq, best.payload_sha256) > (best.seq, ev.payload_sha256):
                    last[ev.station] = ev
        db.executemany(_LAST_UPSERT, [(ev.station, ev.seq, ev.payload_sha256, ev.facts.started_at, ev.facts.outcome,
                                       ev.facts.program, ev.facts.title) for ev in last.values()])
        insert = "INSERT OR IGNORE INTO seq_problems(station, seq, kind) VALUES (?,?,?)"
        db.executemany(insert, [(st, seq, "conflict") for st, seq in sorted(conflicted)])
        db.executemany(insert, [(st, seq, "break") for st, seq in sorted(breaks)])
        pairs = sorted(check)
        for start in range(0, len(pairs), 5000):
            chunk = json.dumps(pairs[start:start + 5000])
            db.execute(f"DELETE FROM seq_problems WHERE kind = 'break' AND (station, seq) IN ({_PAIRS})", (chunk,))
            db.execute("INSERT OR IGNORE INTO seq_problems(station, seq, kind) " + _BREAK.format(pairs=_PAIRS),
                       (chunk,))

    def station_aggregates(self) -> dict[str, StationAggregate]:
        db = self._db
        last: dict[str, tuple[Any, ...]] = {}
        through = dict(db.execute("SELECT station, through FROM ack_state").fetchall())
        try:
            rows = db.execute(_KEPT_LAST).fetchall()
            jws = dict(db.execute(_KEPT_JWS).fetchall())
            rows = [(r[0], 0, r[2], r[3], r[4], r[5], jws.get(r[0])) for r in rows]
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise
            rows = db.execute(_LAST).fetchall()  # a store opened read-only that predates station_last
        for row in rows:
            last.setdefault(row[0], row)
        above = {r[0]: (int(r[1]), int(r[2])) for r in db.execute(_GAPS)}
        problems = self._seq_problem_counts()
        quarantined = dict(db.execute(
            "SELECT station, COUNT(*) FROM quarantine WHERE station IS NOT NULL GROUP BY station").fetchall())
        out: dict[str, StationAggregate] = {}
        for station in sorted(set(through) | set(last) | set(quarantined)):
            r = last.get(station) or (station, 0, None, None, None, None, None)
            gaps, highest = above.get(station, (0, 0))
            blob = r[6]
            out[station] = StationAggregate(
                station, max(int(through.get(station, 0)), highest), r[2], r[3], r[4], r[5],
                bytes(blob) if isinstance(blob, bytes | memoryview) else None,
                gaps, problems.get((station, "break"), 0),
                problems.get((station, "conflict"), 0), int(quarantined.get(station, 0)))
        return out

    def _seq_problem_counts(self) -> dict[tuple[str, str], int]:
        """``(station, kind) -> seqs``; computed from the events on a store opened
        read-only that predates ``seq_problems``."""
        query = "SELECT station, kind, COUNT(*) FROM seq_problems GROUP BY station, kind"
        try:
            rows = self._db.execute(query).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise
            every = " UNION ALL ".join(q.format(pairs=_ALL) for q in (_BREAK, _CONFLICT))
            rows = self._db.execute(f"SELECT station, kind, COUNT(*) FROM ({every})"
                                    " GROUP BY station, kind").fetchall()
        return {(r[0], r[1]): int(r[2]) for r in rows}

    def latest_statuses(self) -> dict[str, StatusRow]:
        return {r[0]: StatusRow(r[0], r[1], r[2], r[3], bytes(r[4])) for r in self._db.execute(
            "SELECT station, state, at, received_at, jws FROM status")}

    def latest_schedule_versions(self) -> dict[str, int]:
        return {str(r[0]): int(r[1]) for r in self._db.execute(
            "SELECT station, MAX(version) FROM schedules GROUP BY station")}
