"""Ack sections on SQLite (:class:`~district_collector.store.base_acks.AcksStore`).

SQLite has one write lock per database: a section is a ``BEGIN IMMEDIATE`` transaction
that writes nothing. It holds every station's ack lock at once (and every writer's, so
several workers on one SQLite file take turns: correct, not parallel), its reads see
everything committed before the lock, and its COMMIT writes nothing (no fsync).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

from district_collector.store.base import StoreError
from district_collector.store.base_acks import ACK_SECTION_MAX, AckPositions


class SqliteAcks:
    """Mixin of SqliteStore: ``self._db`` is its autocommit connection."""

    _db: sqlite3.Connection
    path: Path

    @contextmanager
    def ack_section(self, stations: Collection[str], max_also: int = 1000) -> Iterator[AckPositions]:
        if len(stations) > ACK_SECTION_MAX:
            raise ValueError(f"an ack section holds at most {ACK_SECTION_MAX} stations")
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            positions: AckPositions = {}
            for station in sorted(stations):
                row = db.execute("SELECT through FROM ack_state WHERE station=?", (station,)).fetchone()
                through = int(row[0]) if row else 0
                also = [int(r[0]) for r in db.execute(
                    "SELECT DISTINCT seq FROM events WHERE station=? AND seq>? ORDER BY seq LIMIT ?",
                    (station, through, max_also))]
                positions[station] = (through, also)
        except sqlite3.Error as exc:
            _end(db)
            raise StoreError(f"{self.path}: cannot read the ack positions: {exc}") from exc
        try:
            yield positions
        finally:
            _end(db)


def _end(db: sqlite3.Connection) -> None:
    """End the section's transaction (it wrote nothing)."""
    try:
        if db.in_transaction:
            db.execute("ROLLBACK")
    except sqlite3.Error:
        pass  # the connection is gone; the next call reports it
