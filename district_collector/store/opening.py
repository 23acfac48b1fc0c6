"""The one way a command or service opens the district's store.

``open_store(config)`` gives the backend the config names (today the SQLite file at
``config.database``); callers depend on :class:`~district_collector.store.base.Store` only,
so another backend (PostgreSQL) plugs in here without touching them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from district_collector.store.base import Store

if TYPE_CHECKING:
    from district_collector.config import DistrictConfig


def open_store(config: DistrictConfig, read_only: bool = False) -> Store:
    """The configured store. ``read_only``: nothing is created, migrated or written, and
    :class:`~district_collector.store.sqlite.NoStoreError` when the collector has not run
    yet; else the store is created or migrated as needed. StoreError when it cannot be opened."""
    from district_collector.store.sqlite import SqliteStore

    if read_only:
        return SqliteStore.open_read_only(config.database)
    return SqliteStore(config.database)
