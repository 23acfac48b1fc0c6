"""Whole-fleet reads on PostgreSQL (see :mod:`district_collector.store.base_fleet`), with
the SQLite store's semantics (:mod:`district_collector.store.sqlite_fleet`).

``add_batch`` keeps ``seq_problems`` and ``station_last`` in its transaction, under its
station locks (:meth:`PostgresFleet._note_seq_problems`): one statement per table. The
batch's conflicts, and the chain breaks the batch itself decides (a seq whose one event
arrived in this batch, like the seq before it), are computed in Python; every other new
seq, and the seq after each, is re-checked by SQL in that same statement. A database
migrated before these tables existed got them filled by ``db migrate``
(:mod:`district_collector.store.migrations.pg_fleet`).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import psycopg

from district_collector.store.base_fleet import FleetStore, StationAggregate
from district_collector.store.migrations.pg_fleet import BREAK_WHERE
from district_collector.store.records import (
    ACCEPTED,
    CONFLICT,
    DUPLICATE,
    Outcome,
    StatusRow,
    StoredEvent,
)

_LAST_UPSERT = """
INSERT INTO station_last(station, seq, payload_sha256, started_at, outcome, program, title)
SELECT * FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[])
ON CONFLICT (station) DO UPDATE SET seq = excluded.seq, payload_sha256 = excluded.payload_sha256,
    started_at = excluded.started_at, outcome = excluded.outcome, program = excluded.program, title = excluded.title
WHERE excluded.seq > station_last.seq
   OR (excluded.seq = station_last.seq AND excluded.payload_sha256 < station_last.payload_sha256)
"""
# One statement: the re-checked candidates' stale breaks deleted, their breaks now and the
# batch's decided problems inserted (the deleted and inserted keys never meet: a deleted
# break is no break now, and a decided key is never a candidate).
_PROBLEMS = f"""
WITH c(station, seq) AS (SELECT * FROM unnest(%(cs)s::text[], %(cq)s::bigint[])),
now AS (SELECT DISTINCT e.station, e.seq FROM c JOIN events e ON e.station = c.station AND e.seq = c.seq
        WHERE {BREAK_WHERE}),
gone AS (DELETE FROM seq_problems p USING c WHERE p.kind = 'break' AND p.station = c.station
         AND p.seq = c.seq AND NOT EXISTS (SELECT 1 FROM now WHERE now.station = p.station AND now.seq = p.seq))
INSERT INTO seq_problems(station, seq, kind)
SELECT station, seq, 'break' FROM now
UNION ALL SELECT * FROM unnest(%(ds)s::text[], %(dq)s::bigint[], %(dk)s::text[])
ON CONFLICT DO NOTHING
"""
_KEPT_LAST = """
SELECT s.station, s.started_at, s.outcome, s.program, s.title, e.jws FROM station_last s
LEFT JOIN events e ON s.outcome <> 'completed' AND e.station = s.station AND e.seq = s.seq
    AND e.payload_sha256 = s.payload_sha256
"""
# Per station with seqs above its through: missing ranges there, and its highest seq.
_GAPS = """
SELECT station, COUNT(*) FILTER (WHERE seq > before + 1), MAX(seq) FROM (
  SELECT g.station, g.seq, LAG(g.seq, 1, g.through) OVER (PARTITION BY g.station ORDER BY g.seq) AS before
  FROM (SELECT DISTINCT ev.station, ev.seq, a.through FROM ack_state a
        JOIN events ev ON ev.station = a.station AND ev.seq > a.through) g
) AS q GROUP BY station
"""


class PostgresFleet(FleetStore):
    """Mixin of :class:`~district_collector.store.postgres.PostgresStore`."""

    def _read(self) -> AbstractContextManager[psycopg.Connection[Any]]:
        raise NotImplementedError

    @staticmethod
    def _note_seq_problems(conn: psycopg.Connection[Any], events: Sequence[StoredEvent],
                           outcomes: Sequence[Outcome]) -> None:
        """Keep ``seq_problems`` and ``station_last`` (in add_batch's transaction, after the
        inserts), as :meth:`~district_collector.store.sqlite_fleet.SqliteFleet._note_seq_problems`."""
        accepted: dict[tuple[str, int], StoredEvent] = {}
        conflicted: set[tuple[str, int]] = set()
        for ev, outcome in zip(events, outcomes, strict=True):
            if outcome == ACCEPTED:
                accepted[(ev.station, ev.seq)] = ev
            elif outcome == CONFLICT:
                conflicted.add((ev.station, ev.seq))
        decided: set[tuple[str, int, str]] = {(st, seq, "conflict") for st, seq in conflicted}
        check: set[tuple[str, int]] = set()
        for station, seq in accepted.keys() | conflicted:
            for key in ((station, seq), (station, seq + 1)):
                only = accepted.get(key) if key not in conflicted else None
                before = (station, key[1] - 1)
                if only is not None and key[1] == 1:
                    if only.facts.prev is not None:
                        decided.add((*key, "break"))
                elif only is not None and before in accepted and before not in conflicted:
                    if accepted[before].payload_sha256 != only.facts.prev:
                        decided.add((*key, "break"))
                else:
                    check.add(key)
        last: dict[str, StoredEvent] = {}
        for ev, outcome in zip(events, outcomes, strict=True):
            if outcome != DUPLICATE and ev.facts.started_at is not None:
                best = last.get(ev.station)
                if best is None or (ev.seq, best.payload_sha256) > (best.seq, ev.payload_sha256):
                    last[ev.station] = ev
        if last:
            rows = [(ev.station, ev.seq, ev.payload_sha256, ev.facts.started_at, ev.facts.outcome, ev.facts.program,
                     ev.facts.title) for ev in sorted(last.values(), key=lambda e: e.station)]
            conn.execute(_LAST_UPSERT, tuple([r[i] for r in rows] for i in range(7)))
        if decided or check:
            pairs, problems = sorted(check), sorted(decided)
            conn.execute(_PROBLEMS, {"cs": [p[0] for p in pairs], "cq": [p[1] for p in pairs],
                                     "ds": [p[0] for p in problems], "dq": [p[1] for p in problems],
                                     "dk": [p[2] for p in problems]})

    def station_aggregates(self) -> dict[str, StationAggregate]:
        with self._read() as conn:
            through = {str(r[0]): int(r[1]) for r in conn.execute("SELECT station, through FROM ack_state")}
            last = {str(r[0]): r for r in conn.execute(_KEPT_LAST)}
            above = {str(r[0]): (int(r[1]), int(r[2])) for r in conn.execute(_GAPS)}
            problems = {(str(r[0]), str(r[1])): int(r[2]) for r in conn.execute(
                "SELECT station, kind, COUNT(*) FROM seq_problems GROUP BY station, kind")}
            quarantined = {str(r[0]): int(r[1]) for r in conn.execute(
                "SELECT station, COUNT(*) FROM quarantine WHERE station IS NOT NULL GROUP BY station")}
        out: dict[str, StationAggregate] = {}
        for station in sorted(set(through) | set(last) | set(quarantined)):
            r = last.get(station) or (station, None, None, None, None, None)
            gaps, highest = above.get(station, (0, 0))
            out[station] = StationAggregate(
                station, max(through.get(station, 0), highest), r[1], r[2], r[3], r[4],
                None if r[5] is None else bytes(r[5]), gaps, problems.get((station, "break"), 0),
                problems.get((station, "conflict"), 0), quarantined.get(station, 0))
        return out

    def latest_statuses(self) -> dict[str, StatusRow]:
        with self._read() as conn:
            return {str(r[0]): StatusRow(r[0], r[1], r[2], r[3], bytes(r[4])) for r in conn.execute(
                "SELECT station, state, at, received_at, jws FROM status")}

    def latest_schedule_versions(self) -> dict[str, int]:
        with self._read() as conn:
            return {str(r[0]): int(r[1]) for r in conn.execute(
                "SELECT station, MAX(version) FROM schedules GROUP BY station")}
