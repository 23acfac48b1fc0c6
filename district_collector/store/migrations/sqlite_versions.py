"""The SQLite store records its parts' versions in ``schema_version``, as PostgreSQL does.

SQLite migrates itself on opening (:func:`district_collector.store.schema.migrate`); this
only records where each part now is, so ``db copy`` and the tools read one table on both
backends. ``core`` is the SQLite schema's ``user_version`` + 1 (version 2: ``event_facts``,
the same numbering as the PostgreSQL steps).
"""

from __future__ import annotations

import sqlite3

SQLITE_VERSION_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (part TEXT PRIMARY KEY, version INTEGER NOT NULL)"


def record_versions(db: sqlite3.Connection, versions: dict[str, int] | None = None) -> None:
    """Record ``versions`` (default: ``core`` from ``user_version``) when they differ from
    what is stored; one small transaction, nothing when already recorded."""
    if versions is None:
        versions = {"core": int(db.execute("PRAGMA user_version").fetchone()[0]) + 1}
    db.execute(SQLITE_VERSION_TABLE)
    stored = dict(db.execute("SELECT part, version FROM schema_version").fetchall())
    if all(stored.get(p) == v for p, v in versions.items()):
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        db.executemany("INSERT OR REPLACE INTO schema_version(part, version) VALUES (?, ?)",
                       sorted(versions.items()))
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
