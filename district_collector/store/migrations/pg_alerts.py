"""The ``alerts`` part's PostgreSQL schema (the same tables and columns as the SQLite
store's :data:`~district_collector.store.sqlite_alerts.ALERTS_SCHEMA`, so ``db copy``
moves them by column name), plus ``event_order``: the events' storage order, which
SQLite reads from its rowid (the alert engine's event cursor).

- 1: ``alerts``, ``alert_notifications``, ``alert_state``, ``event_order`` (filled from
  the stored events in receipt order).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from district_collector.store.migrations.step import Step

if TYPE_CHECKING:
    import psycopg

T = 'TEXT COLLATE "C"'

V1 = f"""
CREATE TABLE alerts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, kind {T} NOT NULL, subject {T} NOT NULL,
    occurrence {T} NOT NULL, station {T}, commune {T}, state {T} NOT NULL, since {T} NOT NULL,
    opened_at {T} NOT NULL, updated_at {T} NOT NULL, resolved_at {T}, detail {T} NOT NULL,
    acked_at {T}, acked_by {T}, ack_note {T}, reminded_at {T},
    UNIQUE (kind, subject, occurrence)
);
CREATE INDEX alerts_open ON alerts(state, kind);
CREATE TABLE alert_notifications (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, channel {T} NOT NULL, transition {T} NOT NULL,
    alert_id BIGINT, payload {T} NOT NULL, created_at {T} NOT NULL, not_before {T} NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_try_at {T} NOT NULL, last_error {T},
    delivered_at {T}, dedupe {T},
    UNIQUE (channel, dedupe)
);
CREATE INDEX alert_notifications_due ON alert_notifications(channel, delivered_at, id);
CREATE TABLE alert_state (key {T} PRIMARY KEY, value {T} NOT NULL);
CREATE TABLE event_order (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, station {T} NOT NULL, seq BIGINT NOT NULL,
    payload_sha256 {T} NOT NULL, UNIQUE (station, seq, payload_sha256)
)
"""


def fill_event_order(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    """Give every stored event without a place in ``event_order`` one, in receipt order:
    how many were added."""
    return max(conn.execute(
        "INSERT INTO event_order(station, seq, payload_sha256) SELECT e.station, e.seq, e.payload_sha256"
        " FROM events e WHERE NOT EXISTS (SELECT 1 FROM event_order o WHERE o.station = e.station"
        " AND o.seq = e.seq AND o.payload_sha256 = e.payload_sha256)"
        " ORDER BY e.received_at, e.station, e.seq, e.payload_sha256").rowcount, 0)


STEPS = [
    Step("alerts", 1, "alerts, alert_notifications, alert_state, event_order", V1, fill_event_order),
]
