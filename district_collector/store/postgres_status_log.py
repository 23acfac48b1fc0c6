"""The status and its log on PostgreSQL (see :mod:`district_collector.store.base_status_log`).

:meth:`PostgresStatusLog._put_statuses` is what ``PostgresStore.add_batch`` runs for the
batch's statuses, inside its transaction and under its station locks (so the state read
is the one the write replaces): one read of the stored states, then the SQLite store's
rules applied in order in Python (a retained status delivered again changes nothing;
``received_at`` is when the current state was first seen; a change of state, the first
status included, is logged), then one statement for ``status`` and one for ``status_log``.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import psycopg

from district_collector.store.base_status_log import StatusLogRow, StatusLogStore
from district_collector.store.records import StatusRecord
from district_collector.store.schema import time_text

_COLUMNS = "station, state, at, received_at"
_STORED = "SELECT station, state, received_at, jws FROM status WHERE station = ANY(%s::text[])"
_STATUS = """
INSERT INTO status(station, state, at, received_at, jws)
SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::bytea[])
ON CONFLICT (station) DO UPDATE SET state = excluded.state, at = excluded.at,
    received_at = excluded.received_at, jws = excluded.jws
"""
_LOG = f"""
INSERT INTO status_log({_COLUMNS})
SELECT {_COLUMNS} FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[]) WITH ORDINALITY AS u({_COLUMNS}, n)
ORDER BY n
"""


class PostgresStatusLog(StatusLogStore):
    """Mixin of :class:`~district_collector.store.postgres.PostgresStore`."""

    def _read(self) -> AbstractContextManager[psycopg.Connection[Any]]:
        raise NotImplementedError

    @staticmethod
    def _put_statuses(conn: psycopg.Connection[Any], statuses: Sequence[StatusRecord]) -> None:
        """Store the batch's statuses and log the changes of state (the caller holds the
        stations' batch locks, in its transaction)."""
        stations = sorted({st.station for st in statuses})
        current: dict[str, tuple[str, str | None, str, bytes]] = {
            str(r[0]): (str(r[1]), None, str(r[2]), bytes(r[3])) for r in conn.execute(_STORED, (stations,))}
        changed: set[str] = set()
        log: list[tuple[str, str, str | None, str]] = []
        for st in statuses:
            row = current.get(st.station)
            if row is not None and row[3] == st.jws:
                continue  # a retained status delivered again
            received_at = time_text(st.received_at)
            since = row[2] if row is not None and row[0] == st.state else received_at
            if row is None or row[0] != st.state:
                log.append((st.station, st.state, st.at, received_at))
            current[st.station] = (st.state, st.at, since, st.jws)
            changed.add(st.station)
        if not changed:
            return
        rows = [(s, *current[s]) for s in sorted(changed)]
        conn.execute(_STATUS, ([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
                               [r[3] for r in rows], [r[4] for r in rows]))
        if log:
            conn.execute(_LOG, tuple([r[i] for r in log] for i in range(4)))

    def status_log(self, station: str, limit: int = 1000) -> list[StatusLogRow]:
        with self._read() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM status_log WHERE station = %s ORDER BY id DESC LIMIT %s",
                                (station, limit)).fetchall()
        return [StatusLogRow(*r) for r in reversed(rows)]
