"""The district's evidence store on PostgreSQL (psycopg 3, a small connection pool).

:class:`PostgresStore` implements :class:`~district_collector.store.base.Store` with the
SQLite store's semantics (the contracts are in base.py); the schema is created and
upgraded by ``radio-district db migrate`` (:mod:`district_collector.store.migrations`),
and opening checks it is current. Report queries: :mod:`district_collector.store.pg_facts`.

Parts of the store (accounts, alerts...) are mixins on this class, as on SqliteStore: a
``postgres_<topic>.py`` mixin uses ``self._tx()`` for a write (one transaction, committed
when the block ends, rolled back on any exception) and ``self._read()`` for a read; both
give a connection of the one shared pool.

Concurrency: several collectors may write at once. A batch takes a transaction-scoped
advisory lock per station it touches (in one order: no deadlock), so classifying, the
inserts and ``ack_state`` of a station are serialized exactly as SQLite's ``BEGIN
IMMEDIATE`` serializes them; ``ack_state.through`` only grows (GREATEST). Durability:
COMMIT returns after the WAL is flushed (``synchronous_commit`` on, the server default).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from district_collector.scoring.facts import EventFacts, FactsRow
from district_collector.store import pg_facts
from district_collector.store.base import Store, StoreError
from district_collector.store.db_url import redact
from district_collector.store.facts import StationSummary
from district_collector.store.migrations.runner import (
    PartChange,
    check_current,
    migrate,
    stored_versions,
)
from district_collector.store.pg_acks import PostgresAcks
from district_collector.store.pg_connect import POOL_MAX, translate
from district_collector.store.pg_reads import PostgresReads
from district_collector.store.postgres_accounts import PostgresAccountsMixin
from district_collector.store.postgres_alerts import PostgresAlerts
from district_collector.store.postgres_fleet import PostgresFleet
from district_collector.store.postgres_status_log import PostgresStatusLog
from district_collector.store.records import (
    Outcome,
    QuarantineRecord,
    StatusRecord,
    StoredEvent,
    classify_batch,
)
from district_collector.store.schema import event_row, facts_row, time_text

_LOCK_STATIONS = """
SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(s, 7) AS k
FROM unnest(%s::text[]) AS s ORDER BY k) AS q
"""
_STORED_SHAS = """
SELECT e.station, e.seq, e.payload_sha256 FROM events e
JOIN unnest(%s::text[], %s::bigint[]) AS j(station, seq) ON e.station = j.station AND e.seq = j.seq
"""
_EVENT_COLUMNS = ("station, seq, payload_sha256, jws, kid, received_at, source, started_at, program, outcome,"
                  " clock_synced, slot, schedule_version, prev")
_FACTS_COLUMNS = ("station, seq, payload_sha256, kid, commune, started_at, program, outcome, clock_synced, slot,"
                  " prev, segment_id, title, played_s, started_utc_us")
_QUARANTINE_LOCK = 0x5155_4152  # advisory lock key of quarantine inserts (taken after any station lock)
# Binary COPY: each column's PostgreSQL type, in the column order above.
_EVENT_TYPES = ["text", "int8", "text", "bytea", "text", "text", "text", "text", "text", "text", "int4", "text",
                "int8", "text"]
_FACTS_TYPES = ["text", "int8", "text", "text", "text", "text", "text", "text", "int4", "text", "text", "text",
                "text", "float8", "int8"]
_QUARANTINE = """
INSERT INTO quarantine(received_at, source, station, reason, detail, raw)
SELECT %(received_at)s, %(source)s, %(station)s, %(reason)s, %(detail)s, %(raw)s
WHERE NOT EXISTS (SELECT 1 FROM quarantine WHERE reason = %(reason)s
                  AND station IS NOT DISTINCT FROM %(station)s AND raw = %(raw)s)
"""
# Each station's through: the end of the run of stored seqs that starts after the stored
# through (the stored one when the next seq is missing); never lowered.
_ADVANCE = """
INSERT INTO ack_state(station, through)
SELECT t.station, CASE
    WHEN NOT EXISTS (SELECT 1 FROM events n WHERE n.station = t.station AND n.seq = t.through + 1) THEN t.through
    ELSE (SELECT e.seq FROM events e WHERE e.station = t.station AND e.seq > t.through
          AND NOT EXISTS (SELECT 1 FROM events n WHERE n.station = e.station AND n.seq = e.seq + 1)
          ORDER BY e.seq LIMIT 1) END
FROM (SELECT s.station, COALESCE(a.through, 0) AS through FROM unnest(%s::text[]) AS s(station)
      LEFT JOIN ack_state a ON a.station = s.station) AS t
ON CONFLICT (station) DO UPDATE SET through = GREATEST(ack_state.through, excluded.through)
"""


class PostgresStore(PostgresAccountsMixin, PostgresAlerts, PostgresAcks, PostgresStatusLog, PostgresFleet, PostgresReads,
                    Store):
    """The collector's store in the PostgreSQL database at ``url`` (no password in it; see
    :mod:`district_collector.store.pg_connect`). The schema must be current (else
    SchemaBehind: run ``db migrate``; SchemaAhead: the database is newer than the code).
    ``read_only``: every transaction is read-only. StoreError when it cannot be opened."""

    def __init__(self, url: str, password: str | None = None, read_only: bool = False,
                 check_schema: bool = True, max_size: int = POOL_MAX) -> None:
        self.url = url
        self.where = redact(url)
        kwargs: dict[str, Any] = {}
        if password is not None:
            kwargs["password"] = password
        if read_only:
            kwargs["options"] = "-c default_transaction_read_only=on"
        try:  # one plain connection first: a refusal is reported at once, with its reason
            psycopg.connect(url, connect_timeout=15, **kwargs).close()
        except psycopg.Error as exc:
            raise StoreError(f"{self.where}: cannot connect to the store: {redact(str(exc)).strip()}"
                             " (check the host, the role, pg_hba.conf and the password)") from exc
        self._pool = ConnectionPool(url, min_size=1, max_size=max_size, kwargs=kwargs, open=False,
                                    name="district-store")
        try:
            self._pool.open(wait=True, timeout=30.0)
        except (PoolTimeout, psycopg.Error) as exc:
            self._pool.close()
            raise StoreError(f"{self.where}: cannot connect to the store: {redact(str(exc)) or type(exc).__name__}"
                             " (check the host, the role, pg_hba.conf and ~/.pgpass)") from exc
        if check_schema:
            try:
                with self._read() as conn:
                    check_current(conn, self.where)
            except BaseException:
                self._pool.close()
                raise

    def close(self) -> None:
        self._pool.close()

    def schema_versions(self) -> dict[str, int]:
        """The database's schema versions by part (empty when never migrated)."""
        with self._read() as conn:
            return stored_versions(conn) or {}

    def migrate_schema(self) -> list[PartChange]:
        """Apply the missing migration steps, in one transaction (see
        :func:`~district_collector.store.migrations.runner.migrate`); each part's versions."""
        with self.admin_connection("migration failed, nothing changed") as conn:
            return migrate(conn, self.where)

    @contextmanager
    def admin_connection(self, doing: str) -> Iterator[psycopg.Connection[Any]]:
        """A pool connection for maintenance (``db migrate``, ``db copy``); a database error
        becomes a StoreError saying what was being done."""
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise StoreError(f"{self.where}: {doing}: {redact(str(exc)).strip()}") from exc

    # --- connections for this class and its mixins -------------------------------------

    @contextmanager
    def _tx(self, doing: str = "write failed") -> Iterator[psycopg.Connection[Any]]:
        """A connection in a transaction, committed when the block ends; on any exception
        rolled back and translated (RecordRefused / StoreError)."""
        try:
            with self._pool.connection() as conn, conn.transaction():
                yield conn
        except BaseException as exc:
            mapped = translate(exc, self.where, doing)
            if mapped is exc:
                raise
            raise mapped from exc

    @contextmanager
    def _read(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection for reads (its transaction ends when the block does)."""
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise StoreError(f"{self.where}: cannot read the store: {redact(str(exc)).strip()}") from exc
        except PoolTimeout as exc:
            raise StoreError(f"{self.where}: no database connection: {exc}") from exc

    # --- writing ------------------------------------------------------------------------

    def add_batch(
        self,
        events: Sequence[StoredEvent],
        rejects: Sequence[QuarantineRecord] = (),
        statuses: Sequence[StatusRecord] = (),
    ) -> list[Outcome]:
        """See :meth:`Store.add_batch`: the batch's stations (of its events and statuses)
        locked and classified in two queries, the new rows written with COPY, the fleet
        tables, the statuses and their log, through and the events' order kept in one
        statement per table."""
        with self._tx("batch not stored") as conn:
            stations = sorted({ev.station for ev in events} | {st.station for st in statuses})
            outcomes: list[Outcome] = []
            new: list[StoredEvent] = []
            if stations:
                conn.execute(_LOCK_STATIONS, (stations,))
            if events:
                outcomes, new = _classify(conn, events)
            if new:
                with conn.cursor() as cur:
                    with cur.copy(f"COPY events ({_EVENT_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
                        copy.set_types(_EVENT_TYPES)
                        for ev in new:
                            copy.write_row(tuple(event_row(ev).values()))
                    with cur.copy(f"COPY event_facts ({_FACTS_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
                        copy.set_types(_FACTS_TYPES)
                        for ev in new:
                            copy.write_row(tuple(facts_row(ev).values()))
                self._note_seq_problems(conn, events, outcomes)
            if rejects:  # rare: one lock for every writer's quarantine, so a replay is never stored twice
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_QUARANTINE_LOCK,))
                with conn.cursor() as cur:
                    cur.executemany(_QUARANTINE, [
                        {"received_at": time_text(q.received_at), "source": q.source, "station": q.station,
                         "reason": q.reason, "detail": q.detail.replace("\x00", "\\u0000"), "raw": q.raw}
                        for q in rejects])
            if statuses:
                self._put_statuses(conn, statuses)
            if new:
                conn.execute(_ADVANCE, (sorted({ev.station for ev in new}),))
                self._note_event_order(conn, new)  # last: its lock is held until the commit
        return outcomes

    def add_schedule(self, station: str, version: int, jws: bytes, payload_sha256: str,
                     published_at: datetime) -> bool:
        with self._tx("schedule not stored") as conn:
            cur = conn.execute(
                "INSERT INTO schedules VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (station, version, jws, payload_sha256, time_text(published_at)))
            return cur.rowcount == 1

    # --- the report queries -------------------------------------------------------------

    def _streamed(self, make: Any, *args: Any) -> Iterator[Any]:
        """Rows of ``make(conn, *args)`` (an iterator), the connection held until they end."""
        with self._read() as conn:
            yield from make(conn, *args)

    def period_rows(self, start_us: int, end_us: int, kids: Mapping[str, Collection[str]]) -> Iterator[FactsRow]:
        return self._streamed(pg_facts.period_rows, start_us, end_us, kids)

    def period_events(self, start_us: int, end_us: int,
                      kids: Mapping[str, Collection[str]]) -> Iterator[StoredEvent]:
        make = EventFacts._make
        n = len(EventFacts._fields)
        for row in self._streamed(pg_facts.period_events, start_us, end_us, kids):
            yield StoredEvent(bytes(row[16]), row[15], _parse_time(row[17]), row[18], row[19], make(row[:n]))

    def grouped_period(
        self,
        start_us: int,
        end_us: int,
        kids: Mapping[str, Collection[str]],
        offset_us: int,
        first_monday: int,
        month_starts: list[int],
        eligible: Collection[str],
        program: str,
    ) -> tuple[list[StationSummary], Iterator[FactsRow]]:
        cm = self._read()
        conn = cm.__enter__()
        try:
            summaries, rest = pg_facts.grouped_period(conn, start_us, end_us, kids, offset_us, first_monday,
                                                      month_starts, eligible, program)
        except BaseException as exc:
            cm.__exit__(type(exc), exc, exc.__traceback__)
            raise

        def rows() -> Iterator[FactsRow]:
            try:
                yield from rest
            finally:
                cm.__exit__(None, None, None)
        return summaries, rows()


def _classify(conn: psycopg.Connection[Any], events: Sequence[StoredEvent]) -> tuple[list[Outcome], list[StoredEvent]]:
    """Each event's outcome against the store and the batch's earlier events (one query),
    and the events to insert (accepted and conflicts)."""
    keys = sorted({(ev.station, ev.seq) for ev in events})
    known: dict[tuple[str, int], set[str]] = {}
    for station, seq, sha in conn.execute(_STORED_SHAS, ([k[0] for k in keys], [k[1] for k in keys])):
        known.setdefault((station, seq), set()).add(sha)
    return classify_batch(events, known)


def _parse_time(text: str) -> datetime:
    from radio_protocol.timefmt import parse_rfc3339

    return parse_rfc3339(text)
