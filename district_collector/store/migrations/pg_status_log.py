"""The ``status_log`` part's PostgreSQL schema (the same table and columns as the SQLite
store's :data:`~district_collector.store.sqlite_status_log.STATUS_LOG_SCHEMA`, so ``db
copy`` moves it by column name).

- 1: ``status_log``. Nothing to fill: the log starts when the part is added (the
  ``status`` table keeps only each station's latest state), as on SQLite.
"""

from __future__ import annotations

from district_collector.store.migrations.step import Step

T = 'TEXT COLLATE "C"'

V1 = f"""
CREATE TABLE status_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, station {T} NOT NULL, state {T} NOT NULL,
    at {T}, received_at {T} NOT NULL
);
CREATE INDEX status_log_station ON status_log(station, id)
"""

STEPS = [
    Step("status_log", 1, "status_log (state changes, from now on)", V1),
]
