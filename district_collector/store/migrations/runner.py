"""Apply and check the PostgreSQL schema versions (see :mod:`district_collector.store.migrations`).

:func:`migrate` brings a database to the code's versions in ONE transaction under an
advisory lock (two ``db migrate`` at once: the second waits, then finds nothing to do);
:func:`check_current` is what opening the store runs: SchemaBehind when ``db migrate``
is needed, SchemaAhead when the database is newer than this code (never touched then).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from district_collector.store.base import StoreError
from district_collector.store.migrations import PG_PARTS
from district_collector.store.migrations.step import Step

if TYPE_CHECKING:
    import psycopg

VERSION_TABLE = 'CREATE TABLE IF NOT EXISTS schema_version (part TEXT COLLATE "C" PRIMARY KEY, version INTEGER NOT NULL)'
_LOCK_KEY = 0x52414449_4F444200  # pg_advisory_xact_lock key of migrations ("RADIODB")


class SchemaBehind(StoreError):
    """The database's schema is older than the code (or absent): run ``db migrate``."""


class SchemaAhead(StoreError):
    """The database's schema is newer than this code: upgrade the code, never downgrade the data."""


@dataclass(frozen=True)
class PartChange:
    """One part's versions before and after a migration (equal: nothing to do)."""

    part: str
    before: int
    after: int


def steps() -> dict[str, list[Step]]:
    """Every part's steps, by part, in version order (checked: 1, 2, ... without holes)."""
    parts: dict[str, list[Step]] = {}
    for name in PG_PARTS:
        for step in importlib.import_module(name).STEPS:
            parts.setdefault(step.part, []).append(step)
    for part, items in parts.items():
        items.sort(key=lambda s: s.version)
        if [s.version for s in items] != list(range(1, len(items) + 1)):
            raise RuntimeError(f"migration steps of part {part!r} are not numbered 1..N")
    return parts


def code_versions() -> dict[str, int]:
    """The version each part has in this code."""
    return {part: len(items) for part, items in steps().items()}


def stored_versions(conn: psycopg.Connection[tuple[object, ...]]) -> dict[str, int] | None:
    """The database's versions by part; None when it has no ``schema_version`` table."""
    row = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    if row is None or not row[0]:
        return None
    return {str(p): int(v) for p, v in conn.execute("SELECT part, version FROM schema_version")}  # type: ignore[call-overload]


def _ahead(stored: dict[str, int], code: dict[str, int], where: str) -> None:
    newer = {p: v for p, v in stored.items() if v > code.get(p, 0)}
    if newer:
        listed = ", ".join(f"{p} {v} (this code knows {code.get(p, 0)})" for p, v in sorted(newer.items()))
        raise SchemaAhead(f"{where}: the database schema is newer than this program: {listed}; "
                          "upgrade radio-district to a version that knows it")


def check_current(conn: psycopg.Connection[tuple[object, ...]], where: str) -> None:
    """Raise unless the database's schema is exactly the code's (SchemaBehind, SchemaAhead)."""
    stored = stored_versions(conn) or {}
    code = code_versions()
    _ahead(stored, code, where)
    behind = {p: (stored.get(p, 0), v) for p, v in code.items() if stored.get(p, 0) < v}
    if behind:
        listed = ", ".join(f"{p} {a} -> {b}" for p, (a, b) in sorted(behind.items()))
        raise SchemaBehind(f"{where}: the database schema is behind this program ({listed}): "
                           "run `radio-district -c CONFIG db migrate` first")


def migrate(conn: psycopg.Connection[tuple[object, ...]], where: str) -> list[PartChange]:
    """Apply every missing step, all in one transaction (committed on return; rolled back,
    changing nothing, on any error). SchemaAhead when the database is newer than the code."""
    all_steps = steps()
    changes: list[PartChange] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute(VERSION_TABLE)
        stored = stored_versions(conn) or {}
        _ahead(stored, {p: len(s) for p, s in all_steps.items()}, where)
        for part, items in sorted(all_steps.items(), key=lambda kv: (kv[0] != "core", kv[0])):
            before = stored.get(part, 0)
            for step in items[before:]:
                for statement in step.sql.split(";"):
                    if statement.strip():
                        conn.execute(statement.encode())
                if step.fill is not None:
                    step.fill(conn)
            after = len(items)
            if after != before:
                conn.execute("INSERT INTO schema_version(part, version) VALUES (%s, %s) ON CONFLICT (part)"
                             " DO UPDATE SET version = excluded.version", (part, after))
            changes.append(PartChange(part, before, after))
    return changes
