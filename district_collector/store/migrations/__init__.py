"""Versioned schema migrations, per store part and per backend.

The store is made of parts (``core``: events, facts, quarantine, status, schedules, acks;
later ``accounts``, ``alerts``, ``status_log``...), each with its own linear version, so
parts added in parallel never compete for one version number. The table
``schema_version(part, version)`` records where a database is.

PostgreSQL: :mod:`district_collector.store.migrations.runner` applies the steps of every
part listed in :data:`PG_PARTS` (a module ``pg_<part>`` with ``STEPS``) in one
transaction under an advisory lock (``radio-district db migrate``); the collector only
checks the versions and asks for ``db migrate`` when the database is behind, and refuses
a database newer than the code. SQLite migrates itself on opening (as it always did) and
records its versions in the same table (:mod:`district_collector.store.migrations.sqlite_versions`).

A part adds a step by appending ``Step(version=N+1, ...)`` to its module's ``STEPS``; a
new part adds its module name to :data:`PG_PARTS` (one line).
"""

from __future__ import annotations

PG_PARTS: list[str] = [
    "district_collector.store.migrations.pg_core",
    "district_collector.store.migrations.pg_accounts",
    "district_collector.store.migrations.pg_status_log",
    "district_collector.store.migrations.pg_fleet",
    "district_collector.store.migrations.pg_alerts",
]
