"""The one way a command or service opens the district's store.

``open_store(config)`` gives the backend the config names: the SQLite file at
``config.database``, or the PostgreSQL database of ``config.database_url``
(``database: postgresql://...``). Callers depend on
:class:`~district_collector.store.base.Store` only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from district_collector.store.base import Store

if TYPE_CHECKING:
    from district_collector.config import DistrictConfig


def open_store(config: DistrictConfig, read_only: bool = False) -> Store:
    """The configured store. ``read_only``: nothing is created, migrated or written, and
    :class:`~district_collector.store.sqlite.NoStoreError` when the collector has not run
    yet (SQLite) or the database was never migrated (PostgreSQL); else the SQLite store is
    created or migrated as needed, and a PostgreSQL one must be current (SchemaBehind:
    run ``db migrate``). StoreError when it cannot be opened."""
    if config.database_url is not None:
        return open_postgres(config, read_only=read_only)
    from district_collector.store.sqlite import SqliteStore

    if read_only:
        return SqliteStore.open_read_only(config.database)
    return SqliteStore(config.database)


def open_postgres(config: DistrictConfig, read_only: bool = False, check_schema: bool = True) -> Store:
    """The PostgreSQL store of ``config`` (``check_schema=False``: for ``db migrate``)."""
    from district_collector.store.migrations.runner import SchemaBehind, check_current
    from district_collector.store.pg_connect import read_password
    from district_collector.store.postgres import PostgresStore
    from district_collector.store.sqlite import NoStoreError

    assert config.database_url is not None
    store = PostgresStore(config.database_url, read_password(config.database_password_file), read_only=read_only,
                          check_schema=False)
    if not check_schema:
        return store
    try:
        with store._read() as conn:
            check_current(conn, store.where)
    except SchemaBehind as exc:
        empty = not store.schema_versions()
        store.close()
        if read_only and empty:
            raise NoStoreError(f"no store at {store.where} (the database has no collector tables: "
                               "run `radio-district -c CONFIG db migrate`)") from exc
        raise
    except BaseException:
        store.close()
        raise
    return store
