"""Move a district from its SQLite store into PostgreSQL: copy every table, then verify.

:func:`copy_sqlite` copies each table of the SQLite file that the PostgreSQL schema also
has (all columns, by name; tables other parts add later are copied the same way) in ONE
transaction with COPY in batches: a failure leaves the target as it was. A target that
already holds rows is refused unless ``replace`` (then its tables are emptied in that same
transaction). A source older than ``event_facts`` gets its facts filled from the JWS, one
older than the fleet tables gets them filled from the events; ``event_order`` (PostgreSQL
only) takes the SQLite rowids, so the alert engine's saved cursors stay valid.
:func:`verify_copy` then reads both back: rows per table, each event's key and JWS
SHA-256, and every station's ack position.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from district_collector.store.base import StoreError
from district_collector.store.migrations.pg_core import _fill_facts
from district_collector.store.migrations.pg_fleet import fill_fleet

BATCH = 5000
_SKIP = {"schema_version"}  # each database keeps its own


@dataclass
class CopyResult:
    """Rows copied per table (table -> count), and what the verification found."""

    rows: dict[str, int] = field(default_factory=dict)
    filled_facts: int = 0
    events_checked: int = 0
    stations_checked: int = 0
    problems: list[str] = field(default_factory=list)


def open_source(path: Path) -> sqlite3.Connection:
    """The SQLite store at ``path``, read-only. StoreError when it is not one."""
    if not path.is_file():
        raise StoreError(f"{path}: no such SQLite store")
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot read it as a SQLite store: {exc}") from exc
    if "events" not in tables:
        db.close()
        raise StoreError(f"{path}: not a collector store (no events table)")
    return db


def _source_tables(db: sqlite3.Connection) -> list[str]:
    names = [r[0] for r in db.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    return [n for n in names if n not in _SKIP]


def _target_tables(conn: psycopg.Connection[Any]) -> set[str]:
    return {r[0] for r in conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        " AND table_type = 'BASE TABLE'")}


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in db.execute(f'PRAGMA table_info("{table}")')]


def copy_sqlite(db: sqlite3.Connection, conn: psycopg.Connection[Any], where: str, replace: bool) -> CopyResult:
    """Copy every table (see the module docstring); committed on return."""
    result = CopyResult()
    with conn.transaction():
        target = _target_tables(conn)
        tables = _source_tables(db)
        missing = [t for t in tables if t not in target]
        if missing:
            raise StoreError(f"{where}: has no table {', '.join(missing)}: run `db migrate` with this version "
                             "first (or the SQLite store is from a newer version)")
        filled = [t for t in sorted(target - _SKIP) if conn.execute(f'SELECT EXISTS (SELECT 1 FROM "{t}")')
                  .fetchone() == (True,)]
        if filled and not replace:
            raise StoreError(f"{where}: already holds rows (tables {', '.join(filled)}); copy into an empty "
                             "database, or add --force to empty these tables first")
        if filled:
            conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in filled))
        for table in tables:
            result.rows[table] = _copy_table(db, conn, table)
        if "event_facts" not in tables:
            result.filled_facts = _fill_facts(conn)
        if not {"seq_problems", "station_last"} <= set(tables):  # a source older than the fleet tables
            conn.execute("TRUNCATE seq_problems, station_last")
            fill_fleet(conn)
        _copy_event_order(db, conn)
        _reset_identities(conn)
    return result


def _copy_table(db: sqlite3.Connection, conn: psycopg.Connection[Any], table: str) -> int:
    columns = _columns(db, table)
    names = ", ".join(f'"{c}"' for c in columns)
    copied = 0
    cur = db.execute(f'SELECT {names} FROM "{table}"')
    with conn.cursor() as out, out.copy(f'COPY "{table}" ({names}) FROM STDIN'.encode()) as copy:
        while chunk := cur.fetchmany(BATCH):
            for row in chunk:
                copy.write_row(row)
            copied += len(chunk)
    return copied


def _copy_event_order(db: sqlite3.Connection, conn: psycopg.Connection[Any]) -> None:
    """``event_order`` (PostgreSQL only) from the SQLite rowids: the alert engine's event
    cursors stay valid across the move."""
    cur = db.execute("SELECT rowid, station, seq, payload_sha256 FROM events ORDER BY rowid")
    with conn.cursor() as out, out.copy("COPY event_order (id, station, seq, payload_sha256) FROM STDIN") as copy:
        while chunk := cur.fetchmany(BATCH):
            for row in chunk:
                copy.write_row(row)


def _reset_identities(conn: psycopg.Connection[Any]) -> None:
    """Identity columns continue after the copied ids (quarantine ids keep their order)."""
    for table, column in conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND is_identity = 'YES'").fetchall():
        conn.execute(f'SELECT setval(pg_get_serial_sequence(%s, %s), COALESCE((SELECT MAX("{column}")'
                     f' FROM "{table}"), 0) + 1, false)'.encode(), (table, column))


def _event_keys_sqlite(db: sqlite3.Connection) -> Iterator[tuple[str, int, str, str]]:
    cur = db.execute("SELECT station, seq, payload_sha256, jws FROM events ORDER BY station, seq, payload_sha256")
    while chunk := cur.fetchmany(BATCH):
        for station, seq, sha, jws in chunk:
            yield station, seq, sha, hashlib.sha256(bytes(jws)).hexdigest()


def _event_keys_pg(conn: psycopg.Connection[Any]) -> Iterator[tuple[str, int, str, str]]:
    with conn.cursor(name="verify_events") as cur:
        cur.execute("SELECT station, seq, payload_sha256, encode(sha256(jws), 'hex') FROM events"
                    " ORDER BY station, seq, payload_sha256")
        while chunk := cur.fetchmany(BATCH):
            yield from chunk


def verify_copy(db: sqlite3.Connection, conn: psycopg.Connection[Any], result: CopyResult) -> CopyResult:
    """Compare the copy with its source: rows per table, every event (key and JWS
    SHA-256, in key order) and each station's ack position; problems listed in ``result``."""
    with conn.transaction():
        for table in _source_tables(db):
            here = int(db.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0])
            counted = conn.execute(f'SELECT COUNT(*) FROM "{table}"'.encode()).fetchone()
            there = int(counted[0]) if counted else 0
            if here != there:
                result.problems.append(f"{table}: {here} rows in the SQLite store, {there} copied")
        checked = 0
        pairs = zip(_event_keys_sqlite(db), _event_keys_pg(conn), strict=False)
        for src, dst in pairs:
            if tuple(src) != tuple(dst):
                result.problems.append(f"event {src[0]} seq {src[1]}: differs after the copy ({dst[0]} {dst[1]})")
                break
            checked += 1
        result.events_checked = checked
        src_acks = sorted(db.execute("SELECT station, through FROM ack_state").fetchall())
        dst_acks = sorted((r[0], int(r[1])) for r in conn.execute("SELECT station, through FROM ack_state"))
        if src_acks != dst_acks:
            result.problems.append("ack positions differ after the copy")
        result.stations_checked = len(dst_acks)
    return result
