"""The ``core`` part's PostgreSQL schema, step by step (the same tables and columns as the
SQLite store's :mod:`district_collector.store.schema`).

Every text column is ``COLLATE "C"``: text sorts bytewise, as in SQLite, whatever the
database's locale, so ``ORDER BY`` gives the same rows in the same order on both stores.
Times are RFC 3339 text, as written by the SQLite store; integers are 64-bit.

- 1: ``events``, ``quarantine``, ``status``, ``schedules``, ``ack_state`` (SQLite's first schema).
- 2: ``event_facts`` (the report's columns), filled from every stored event's JWS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from district_collector.store.migrations.step import Step
from district_collector.store.schema import FACTS_INSERT, _legacy_event, facts_row

if TYPE_CHECKING:
    import psycopg

T = 'TEXT COLLATE "C"'

V1 = f"""
CREATE TABLE events (
    station {T} NOT NULL, seq BIGINT NOT NULL, payload_sha256 {T} NOT NULL,
    jws BYTEA NOT NULL, kid {T} NOT NULL, received_at {T} NOT NULL, source {T} NOT NULL,
    started_at {T}, program {T}, outcome {T}, clock_synced INTEGER, slot {T},
    schedule_version BIGINT, prev {T},
    PRIMARY KEY (station, seq, payload_sha256)
);
CREATE INDEX events_started ON events(started_at);
CREATE TABLE quarantine (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, received_at {T} NOT NULL, source {T} NOT NULL,
    station {T}, reason {T} NOT NULL, detail {T}, raw BYTEA
);
CREATE INDEX quarantine_reason ON quarantine(reason, station);
CREATE TABLE status (
    station {T} PRIMARY KEY, state {T} NOT NULL, at {T}, received_at {T} NOT NULL, jws BYTEA NOT NULL
);
CREATE TABLE schedules (
    station {T} NOT NULL, version BIGINT NOT NULL, jws BYTEA NOT NULL,
    payload_sha256 {T} NOT NULL, published_at {T} NOT NULL,
    PRIMARY KEY (station, version)
);
CREATE TABLE ack_state (station {T} PRIMARY KEY, through BIGINT NOT NULL DEFAULT 0)
"""

V2 = f"""
CREATE TABLE event_facts (
    station {T} NOT NULL, seq BIGINT NOT NULL, payload_sha256 {T} NOT NULL, kid {T} NOT NULL,
    commune {T}, started_at {T}, program {T}, outcome {T}, clock_synced INTEGER, slot {T},
    prev {T}, segment_id {T}, title {T}, played_s DOUBLE PRECISION, started_utc_us BIGINT,
    PRIMARY KEY (station, seq, payload_sha256)
);
CREATE INDEX event_facts_started ON event_facts(started_utc_us) INCLUDE (station, seq)
"""


def _fill_facts(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    """``event_facts`` of every stored event, read from its JWS (as the SQLite store's
    migration does): how many rows were filled."""
    from psycopg.rows import dict_row

    insert = FACTS_INSERT.replace("OR REPLACE ", "")
    for name in ("station", "seq", "payload_sha256", "kid", "commune", "started_at", "program", "outcome",
                 "clock_synced", "slot", "prev", "segment_id", "title", "played_s", "started_utc_us"):
        insert = insert.replace(f":{name}", f"%({name})s")
    filled = 0
    with conn.cursor(name="fill_facts", row_factory=dict_row) as cur, conn.cursor() as out:
        cur.execute("SELECT * FROM events")
        while chunk := cur.fetchmany(2000):
            out.executemany(insert, [dict(facts_row(_legacy_event(r))) for r in chunk])  # type: ignore[arg-type]
            filled += len(chunk)
    return filled


STEPS = [
    Step("core", 1, "events, quarantine, status, schedules, ack_state", V1),
    Step("core", 2, "event_facts, filled from the stored events", V2, _fill_facts),
]
