"""``radio-district db migrate|copy``: the store's schema, and moving a district to PostgreSQL.

``db migrate`` creates or upgrades the configured store's schema and prints each part's
version before and after (SQLite upgrades itself on opening too; PostgreSQL only here).
``db copy --from OLD.sqlite3`` copies a SQLite store into the configured PostgreSQL
database (migrated first), in one transaction, then verifies the copy and prints it.
Database URLs are printed without any password.
"""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path
from typing import Any

from district_collector.config import DistrictConfig, load_district_config
from district_collector.store.base import StoreError
from radio_protocol.cli_base import require_config

PROG = "radio-district"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("db", help="the store's schema (migrate) and moving a SQLite store to PostgreSQL",
                                   description="The district's store: create or upgrade its schema, copy a "
                                               "SQLite store into PostgreSQL.")
    sub = parser.add_subparsers(dest="db_command", metavar="ACTION")
    sub.required = True
    mig = sub.add_parser("migrate", help="create or upgrade the configured store's schema (prints from -> to)",
                         description="Create the schema of the store named by `database:` or bring it to "
                                     "this version (versioned steps, one transaction). A database newer "
                                     "than this program is refused and left unchanged.")
    mig.set_defaults(func=cmd_migrate)
    cp = sub.add_parser("copy", help="copy a SQLite store into the configured PostgreSQL database, then verify",
                        description="Copy every table of a SQLite store into the PostgreSQL database named by "
                                    "`database:` (migrated first), in one transaction, then verify: rows per "
                                    "table, every event's JWS SHA-256, every station's ack position. The "
                                    "target must be empty unless --force.")
    cp.add_argument("--from", dest="source", required=True, metavar="OLD.sqlite3", help="the SQLite store")
    cp.add_argument("--force", action="store_true",
                    help="empty the target's tables first (in the same transaction) when it holds rows")
    cp.set_defaults(func=cmd_copy)


def _versions_text(before: int, after: int) -> str:
    if before == after:
        return f"{after} (up to date)"
    return f"{before} -> {after}" + (" (created)" if before == 0 else "")


def cmd_migrate(args: argparse.Namespace) -> int:
    config = load_district_config(require_config(args, PROG))
    if config.database_url is None:
        return _migrate_sqlite(config)
    from district_collector.store.opening import open_postgres
    from district_collector.store.postgres import PostgresStore

    store = open_postgres(config, check_schema=False)
    assert isinstance(store, PostgresStore)
    try:
        changes = store.migrate_schema()
    finally:
        store.close()
    print(f"store {store.where} (PostgreSQL)")
    for change in changes:
        print(f"  {change.part}: schema {_versions_text(change.before, change.after)}")
    return 0


def _sqlite_versions(path: Path) -> dict[str, int]:
    if not path.is_file():
        return {}
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "schema_version" in tables:
            return dict(db.execute("SELECT part, version FROM schema_version").fetchall())
        return {"core": int(db.execute("PRAGMA user_version").fetchone()[0]) + 1} if "events" in tables else {}
    finally:
        db.close()


def _migrate_sqlite(config: DistrictConfig) -> int:
    from district_collector.store.opening import open_store

    before = _sqlite_versions(config.database)
    open_store(config).close()  # SQLite creates and upgrades its schema on opening
    after = _sqlite_versions(config.database)
    print(f"store {config.database} (SQLite)")
    for part in sorted(after):
        print(f"  {part}: schema {_versions_text(before.get(part, 0), after[part])}")
    return 0


def cmd_copy(args: argparse.Namespace) -> int:
    config = load_district_config(require_config(args, PROG))
    if config.database_url is None:
        raise StoreError(f"{config.source}: database: names a SQLite file; db copy copies INTO PostgreSQL "
                         "(set database: postgresql://USER@HOST/DB first)")
    from district_collector.store.opening import open_postgres
    from district_collector.store.pg_copy import copy_sqlite, open_source, verify_copy
    from district_collector.store.postgres import PostgresStore

    source_path = Path(args.source)
    db = open_source(source_path)
    store = open_postgres(config, check_schema=False)
    assert isinstance(store, PostgresStore)
    try:
        for change in store.migrate_schema():
            if change.before != change.after:
                print(f"migrated {store.where}: {change.part} schema {_versions_text(change.before, change.after)}")
        try:
            with store.admin_connection("copy failed, the target is unchanged") as conn:
                result = copy_sqlite(db, conn, store.where, args.force)
            with store.admin_connection("the copy is committed, but verifying it failed") as conn:
                verify_copy(db, conn, result)
        except sqlite3.Error as exc:
            raise StoreError(f"{source_path}: cannot read the SQLite store: {exc}") from exc
    finally:
        store.close()
        db.close()
    print(f"copied {source_path} -> {store.where}")
    for table, count in result.rows.items():
        print(f"  {table:<16} {count:>10} rows")
    if result.filled_facts:
        print(f"  event_facts filled from {result.filled_facts} events (the SQLite store predates it)")
    if result.problems:
        for problem in result.problems:
            print(f"  MISMATCH: {problem}")
        print("verification FAILED: do not switch the collector to this database")
        return 1
    print(f"verified: rows per table equal, {result.events_checked} events with equal JWS SHA-256, "
          f"ack positions of {result.stations_checked} stations equal")
    return 0
