"""Ack sections on PostgreSQL (:class:`~district_collector.store.base_acks.AcksStore`).

A section is one short transaction on a pooled connection: transaction-scoped advisory
locks, one per station (keys in one sorted order, so two sections never deadlock; a key
space apart from the batch locks of ``add_batch``, so committing goes on), then the
positions of every station in one statement. Both statements and the BEGIN go in one
pipeline: one round trip. The read is a separate statement after the lock on purpose:
under READ COMMITTED each statement takes its snapshot when it starts, so a read in the
locking statement could predate the previous holder's section. Leaving the section
commits (it wrote nothing), which releases the locks; a dead worker's locks go with its
connection.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from district_collector.store.base import StoreError
from district_collector.store.base_acks import ACK_SECTION_MAX, AckPositions
from district_collector.store.db_url import redact

_ACK_LOCK_SEED = 11  # hashtextextended seed of ack locks (the batch locks use 7)
_LOCK = """
SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(s, %s) AS k
FROM unnest(%s::text[]) AS s ORDER BY k) AS q
"""
_POSITIONS = """
SELECT s.station, COALESCE(a.through, 0),
       ARRAY(SELECT DISTINCT e.seq FROM events e WHERE e.station = s.station
             AND e.seq > COALESCE(a.through, 0) ORDER BY e.seq LIMIT %s)
FROM unnest(%s::text[]) AS s(station) LEFT JOIN ack_state a ON a.station = s.station
"""


class PostgresAcks:
    """Mixin of PostgresStore: ``self._pool`` is its connection pool."""

    _pool: ConnectionPool
    where: str

    @contextmanager
    def ack_section(self, stations: Collection[str], max_also: int = 1000) -> Iterator[AckPositions]:
        if len(stations) > ACK_SECTION_MAX:
            raise ValueError(f"an ack section holds at most {ACK_SECTION_MAX} stations")
        names = sorted(stations)
        try:
            with self._pool.connection() as conn:
                positions = _lock_and_read(conn, names, max_also)
                try:
                    yield positions
                finally:
                    conn.rollback()  # wrote nothing: ends the transaction, releases the locks
        except psycopg.Error as exc:
            raise StoreError(f"{self.where}: cannot read the ack positions: {redact(str(exc)).strip()}") from exc
        except PoolTimeout as exc:
            raise StoreError(f"{self.where}: no database connection: {exc}") from exc


def _lock_and_read(conn: psycopg.Connection[Any], names: list[str], max_also: int) -> AckPositions:
    """BEGIN, the locks and the read, pipelined (one round trip); the transaction stays open."""
    with conn.pipeline():
        conn.execute(_LOCK, (_ACK_LOCK_SEED, names))
        cur = conn.execute(_POSITIONS, (max_also, names))
    return {str(station): (int(through), [int(s) for s in also]) for station, through, also in cur.fetchall()}
