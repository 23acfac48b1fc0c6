"""Both store backends for the store's tests: the ``store_backend`` fixture.

A test that takes ``store_backend`` runs twice, ``[sqlite]`` and ``[postgres]`` (a fresh,
migrated database on the session's real server of tests/pg_server.py). It opens stores
with ``store_backend.open(path)`` (the path is the SQLite file; PostgreSQL ignores it and
opens the test's database, the same one each time) and gives commands a config naming
that store with ``store_backend.configure(config)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from district_collector.config import DistrictConfig, load_district_config
from district_collector.store.base import Store
from district_collector.store.migrations.runner import migrate

BACKENDS = ["sqlite", "postgres"]


class StoreBackend:
    """One backend for one test."""

    def __init__(self, name: str, url: str | None = None) -> None:
        self.name = name
        self.url = url

    def open(self, path: Path | str) -> Store:
        if self.url is None:
            from district_collector.store.sqlite import SqliteStore

            return SqliteStore(path)
        from district_collector.store.postgres import PostgresStore

        return PostgresStore(self.url)

    def configure(self, config: DistrictConfig) -> DistrictConfig:
        """``config`` naming this backend's store (unchanged for SQLite)."""
        if self.url is None:
            return config
        return dataclasses.replace(config, database_url=self.url, database=Path(self.url))

    def configure_file(self, config_path: Path) -> DistrictConfig:
        """Rewrite the district config file at ``config_path`` to name this backend's store
        (unchanged for SQLite), so commands run with ``-c`` use it; the config, reloaded."""
        if self.url is not None:
            text = config_path.read_text(encoding="utf-8")
            lines = [f"database: {self.url}" if line.startswith("database:") else line for line in text.splitlines()]
            config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return load_district_config(config_path)

    def rows(self, path: Path | str, sql: str) -> list[tuple[Any, ...]]:
        """Rows of a plain SQL query on the store (for tests that look at tables directly)."""
        if self.url is None:
            import sqlite3

            db = sqlite3.connect(path)
            try:
                return db.execute(sql).fetchall()
            finally:
                db.close()
        with psycopg.connect(self.url) as conn:
            return conn.execute(sql.encode()).fetchall()

    def __repr__(self) -> str:
        return self.name


def migrated_database(pg_server: Any) -> str:
    """A fresh database on the test server with the current schema: its URL (a copy of a
    template migrated once per session)."""
    template = getattr(pg_server, "migrated_template", None)
    if template is None:
        url: str = pg_server.new_database()
        with psycopg.connect(url) as conn:
            migrate(conn, url)
        template = pg_server.migrated_template = url.rsplit("/", 1)[1]
    fresh: str = pg_server.new_database(template)
    return fresh


@pytest.fixture(params=BACKENDS)
def store_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[StoreBackend]:
    """Each backend in turn; PostgreSQL stores a test leaves open are closed at its end
    (their pools hold connections and threads)."""
    if request.param == "sqlite":
        yield StoreBackend("sqlite")
        return
    from district_collector.store.postgres import PostgresStore

    opened: list[PostgresStore] = []
    real_init = PostgresStore.__init__

    def tracked(self: PostgresStore, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        opened.append(self)

    monkeypatch.setattr(PostgresStore, "__init__", tracked)
    yield StoreBackend("postgres", migrated_database(request.getfixturevalue("pg_server")))
    for store in opened:
        store.close()
