"""The PostgreSQL store's plain reads (a mixin of
:class:`~district_collector.store.postgres.PostgresStore`; the same SQL and order as
SqliteStore's, so both give the same answers)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import psycopg

from district_collector.scoring.facts import EventFacts
from district_collector.scoring.period import EPOCH, US
from district_collector.store.records import QuarantineRow, SeqSummary, StatusRow, StoredEvent
from radio_protocol.timefmt import parse_rfc3339

# Stored events as records: the events columns the facts do not hold, then the facts.
_EVENTS_QUERY = """
SELECT e.jws, e.kid, e.received_at, e.source, e.schedule_version,
       f.station, f.seq, f.payload_sha256, f.commune, f.started_at, f.program, f.outcome, f.clock_synced,
       f.slot, f.prev, f.segment_id, f.title, f.played_s, f.started_utc_us
FROM events e JOIN event_facts f
  ON f.station = e.station AND f.seq = e.seq AND f.payload_sha256 = e.payload_sha256{where}
ORDER BY e.station, e.seq, e.received_at, e.payload_sha256
"""
_BREAKS = """
SELECT DISTINCT e.seq FROM events e WHERE e.station = %(s)s AND (
  (e.seq = 1 AND e.prev IS NOT NULL) OR (e.seq > 1
  AND EXISTS (SELECT 1 FROM events p WHERE p.station = e.station AND p.seq = e.seq - 1)
  AND NOT EXISTS (SELECT 1 FROM events p WHERE p.station = e.station AND p.seq = e.seq - 1
                  AND p.payload_sha256 = e.prev))) ORDER BY e.seq
"""


class PostgresReads:
    """Reads over ``self._read()`` (given by the store class)."""

    def _read(self) -> AbstractContextManager[psycopg.Connection[Any]]:
        raise NotImplementedError

    def _one(self, sql: str, params: Any = ()) -> Any:
        with self._read() as conn:
            return conn.execute(sql, params).fetchone()

    def _all(self, sql: str, params: Any = ()) -> list[Any]:
        with self._read() as conn:
            return conn.execute(sql, params).fetchall()

    def ack_position(self, station: str, max_also: int = 1000) -> tuple[int, list[int]]:
        with self._read() as conn:
            row = conn.execute("SELECT through FROM ack_state WHERE station = %s", (station,)).fetchone()
            through = int(row[0]) if row else 0
            also = [int(r[0]) for r in conn.execute(
                "SELECT DISTINCT seq FROM events WHERE station = %s AND seq > %s ORDER BY seq LIMIT %s",
                (station, through, max_also))]
        return through, also

    def acked_stations(self) -> list[str]:
        return [r[0] for r in self._all("SELECT station FROM ack_state ORDER BY station")]

    def count_events(self, station: str | None = None) -> int:
        if station is None:
            return int(self._one("SELECT COUNT(*) FROM events")[0])
        return int(self._one("SELECT COUNT(*) FROM events WHERE station = %s", (station,))[0])

    def seqs(self, station: str) -> list[int]:
        return [int(r[0]) for r in self._all("SELECT seq FROM events WHERE station = %s ORDER BY seq", (station,))]

    def seq_summary(self, station: str) -> SeqSummary:
        with self._read() as conn:
            count, last = conn.execute("SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM events WHERE station = %s",
                                       (station,)).fetchone() or (0, 0)
            row = conn.execute("SELECT through FROM ack_state WHERE station = %s", (station,)).fetchone()
            gaps: list[tuple[int, int]] = []
            expected = 1
            for (seq,) in conn.execute("SELECT DISTINCT seq FROM events WHERE station = %s ORDER BY seq",
                                       (station,)):
                if seq > expected:
                    gaps.append((expected, seq - 1))
                expected = seq + 1
            breaks = [int(r[0]) for r in conn.execute(_BREAKS, {"s": station})]
            conflicts = [int(r[0]) for r in conn.execute(
                "SELECT seq FROM events WHERE station = %s GROUP BY seq HAVING COUNT(*) > 1 ORDER BY seq",
                (station,))]
        return SeqSummary(station, int(count), int(last), int(row[0]) if row else 0,
                          tuple(gaps), tuple(breaks), tuple(conflicts))

    def iter_events(
        self,
        station: str | None = None,
        start_at: datetime | None = None,
        end_at: datetime | None = None,
    ) -> Iterator[StoredEvent]:
        conditions: list[str] = []
        params: list[object] = []
        if station is not None:
            conditions.append("e.station = %s")
            params.append(station)
        if start_at is not None or end_at is not None:
            conditions.append("f.started_utc_us IS NOT NULL")
        if start_at is not None:
            conditions.append("f.started_utc_us >= %s")
            params.append(_utc_us(start_at))
        if end_at is not None:
            conditions.append("f.started_utc_us < %s")
            params.append(_utc_us(end_at))
        where = " WHERE " + " AND ".join(conditions) if conditions else ""
        with self._read() as conn, conn.cursor(name="iter_events") as cur:
            cur.execute(_EVENTS_QUERY.format(where=where).encode(), params)
            while chunk := cur.fetchmany(500):
                for r in chunk:
                    synced = r[12]
                    facts = EventFacts(r[5], r[6], r[7], True, r[8], r[9], r[10], r[11],
                                       None if synced is None else bool(synced), *r[13:19])
                    yield StoredEvent(bytes(r[0]), r[1], parse_rfc3339(r[2]), r[3], r[4], facts)

    def latest_started_us(self) -> int | None:
        row = self._one("SELECT MAX(started_utc_us) FROM event_facts")
        return int(row[0]) if row is not None and row[0] is not None else None

    def has_events_between(self, start_us: int, end_us: int) -> bool:
        row = self._one("SELECT EXISTS(SELECT 1 FROM event_facts WHERE started_utc_us >= %s"
                        " AND started_utc_us < %s)", (start_us, end_us))
        return bool(row and row[0])

    def last_airing(self, station: str) -> str | None:
        row = self._one("SELECT started_at FROM events WHERE station = %s AND started_at IS NOT NULL"
                        " ORDER BY seq DESC LIMIT 1", (station,))
        return None if row is None else str(row[0])

    def status(self, station: str) -> StatusRow | None:
        r = self._one("SELECT station, state, at, received_at, jws FROM status WHERE station = %s", (station,))
        return None if r is None else StatusRow(r[0], r[1], r[2], r[3], bytes(r[4]))

    def quarantine_rows(self) -> list[QuarantineRow]:
        return [QuarantineRow(r[0], r[1], r[2], bytes(r[3])) for r in self._all(
            "SELECT station, reason, detail, raw FROM quarantine ORDER BY id")]

    def published_schedules(self) -> list[bytes]:
        return [bytes(r[0]) for r in self._all("SELECT jws FROM schedules ORDER BY station, version")]

    def latest_schedule(self, station: str) -> tuple[int, bytes] | None:
        r = self._one("SELECT version, jws FROM schedules WHERE station = %s ORDER BY version DESC LIMIT 1",
                      (station,))
        return None if r is None else (int(r[0]), bytes(r[1]))


def _utc_us(at: datetime) -> int:
    return (at - EPOCH) // US
