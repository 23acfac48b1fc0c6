"""The status log on SQLite (see :mod:`district_collector.store.base_status_log`).

:data:`STATUS_LOG_SCHEMA` is run by ``SqliteStore.__init__`` (:meth:`SqliteStatusLog._init_status_log`); :meth:`SqliteStatusLog._log_status`
is called by ``add_batch`` inside its transaction when a status changes a station's state.
"""

from __future__ import annotations

import sqlite3

from district_collector.store.base_status_log import StatusLogRow, StatusLogStore
from district_collector.store.migrations.sqlite_versions import record_versions

STATUS_LOG_SCHEMA = """
CREATE TABLE IF NOT EXISTS status_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, station TEXT NOT NULL, state TEXT NOT NULL,
    at TEXT, received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS status_log_station ON status_log(station, id);
"""

_COLUMNS = "station, state, at, received_at"


class SqliteStatusLog(StatusLogStore):
    """Mixin of :class:`~district_collector.store.sqlite.SqliteStore` (uses ``self._db``)."""

    _db: sqlite3.Connection

    def _init_status_log(self) -> None:
        """Create ``status_log`` and record its version (part ``status_log``, as on PostgreSQL)."""
        self._db.executescript(STATUS_LOG_SCHEMA)
        record_versions(self._db, {"status_log": 1})

    def _log_status(self, station: str, state: str, at: str | None, received_at: str) -> None:
        """Append one change (inside the caller's transaction)."""
        self._db.execute(f"INSERT INTO status_log({_COLUMNS}) VALUES (?,?,?,?)",
                         (station, state, at, received_at))

    def status_log(self, station: str, limit: int = 1000) -> list[StatusLogRow]:
        try:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM status_log WHERE station=? ORDER BY id DESC LIMIT ?",
                (station, limit)).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # a store opened read-only that predates the log
                return []
            raise
        return [StatusLogRow(*r) for r in reversed(rows)]
