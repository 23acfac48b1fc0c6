"""Alerts on PostgreSQL (:class:`~district_collector.store.base_alerts.AlertsStore`; the
contracts are there), with the SQLite store's semantics
(:mod:`district_collector.store.sqlite_alerts`).

The engine's event cursor is ``event_order.id``: ``add_batch`` gives each new event its
place there (:meth:`PostgresAlerts._note_event_order`, one COPY, last in the batch's
transaction and under a lock held until it commits, so places become visible in order
and a reader's cursor never passes an event still to commit). SQLite uses its rowid.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import psycopg

from district_collector.alerts.model import Alert, AlertKey, Notification, detail_text
from district_collector.store.base_alerts import AlertChange, AlertsStore, StoredEventRef, utc_text
from district_collector.store.records import StatusRow, StoredEvent

_ORDER_LOCK = 0x4F52_4445  # advisory lock key of event_order inserts (taken last in a batch)
_ALERT_COLUMNS = ("id, kind, subject, occurrence, station, commune, state, since, opened_at, updated_at, "
                  "resolved_at, detail, acked_at, acked_by, ack_note, reminded_at")
_NOTE_COLUMNS = ("id, channel, transition, alert_id, payload, created_at, not_before, attempts, next_try_at, "
                 "last_error, delivered_at")
_BROKEN = """
SELECT 1 FROM events e WHERE e.station = %(s)s AND e.seq BETWEEN %(lo)s AND %(hi)s AND (
  (e.seq = 1 AND e.prev IS NOT NULL) OR (e.seq > 1
  AND EXISTS (SELECT 1 FROM events p WHERE p.station = e.station AND p.seq = e.seq - 1)
  AND NOT EXISTS (SELECT 1 FROM events p WHERE p.station = e.station AND p.seq = e.seq - 1
                  AND p.payload_sha256 = e.prev))) LIMIT 1
"""


def _alert(r: Sequence[Any]) -> Alert:
    return Alert(int(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], json.loads(r[11]),
                 r[12], r[13], r[14], r[15])


def _note(r: Sequence[Any]) -> Notification:
    return Notification(int(r[0]), r[1], r[2], None if r[3] is None else int(r[3]), json.loads(r[4]), r[5], r[6],
                        int(r[7]), r[8], r[9], r[10])


class PostgresAlerts(AlertsStore):
    """Mixin of :class:`~district_collector.store.postgres.PostgresStore`."""

    def _read(self) -> AbstractContextManager[psycopg.Connection[Any]]:
        raise NotImplementedError

    def _tx(self, doing: str = "write failed") -> AbstractContextManager[psycopg.Connection[Any]]:
        raise NotImplementedError

    def _alert_rows(self, sql: str | bytes, params: Any = ()) -> Iterator[Sequence[Any]]:
        with self._read() as conn:
            yield from conn.execute(sql, params).fetchall()

    @staticmethod
    def _note_event_order(conn: psycopg.Connection[Any], new: Sequence[StoredEvent]) -> None:
        """Give the batch's new events their places (the batch's last statement)."""
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_ORDER_LOCK,))
        with conn.cursor() as cur, cur.copy("COPY event_order (station, seq, payload_sha256) FROM STDIN") as copy:
            for ev in new:
                copy.write_row((ev.station, ev.seq, ev.payload_sha256))

    # --- alerts -------------------------------------------------------------------------

    def record_alert_changes(self, changes: Sequence[AlertChange], channels: Sequence[str],
                             at: datetime) -> list[Alert]:
        now = utc_text(at)
        touched: list[int] = []
        with self._tx("alert changes not stored") as conn:
            for ch in changes:
                f = ch.finding
                if ch.action == "open" and f is not None:
                    row = conn.execute(
                        "INSERT INTO alerts(kind, subject, occurrence, station, commune, state, since, opened_at,"
                        " updated_at, detail) VALUES (%s, %s, %s, %s, %s, 'open', %s, %s, %s, %s)"
                        " ON CONFLICT (kind, subject, occurrence) DO NOTHING RETURNING id",
                        (f.kind, f.subject, f.occurrence, f.station, f.commune, f.since, now, now,
                         detail_text(f.detail))).fetchone()
                    if row is None:
                        continue
                    alert_id = int(row[0])
                elif ch.action == "update" and ch.alert_id is not None and f is not None:
                    cur = conn.execute("UPDATE alerts SET detail = %s, updated_at = %s WHERE id = %s"
                                       " AND state = 'open'", (detail_text(f.detail), now, ch.alert_id))
                    if cur.rowcount == 1:
                        touched.append(ch.alert_id)
                    continue
                elif ch.action == "resolve" and ch.alert_id is not None:
                    found = conn.execute(
                        "UPDATE alerts SET state = 'resolved', resolved_at = %s, updated_at = %s WHERE id = %s"
                        " AND state = 'open' RETURNING detail", (now, now, ch.alert_id)).fetchone()
                    if found is None:
                        continue
                    if ch.note:
                        detail = dict(json.loads(found[0]), resolution=ch.note)
                        conn.execute("UPDATE alerts SET detail = %s WHERE id = %s", (detail_text(detail), ch.alert_id))
                    alert_id = ch.alert_id
                else:
                    continue
                touched.append(alert_id)
                if ch.not_before is not None and channels:
                    stored = conn.execute(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE id = %s", (alert_id,)).fetchone()
                    assert stored is not None
                    payload = json.dumps(_alert(stored).as_json(), ensure_ascii=False)
                    nb = utc_text(ch.not_before)
                    with conn.cursor() as cur:
                        cur.executemany(
                            "INSERT INTO alert_notifications(channel, transition, alert_id, payload, created_at,"
                            " not_before, next_try_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                            [(c, ch.action if ch.action == "open" else "resolved", alert_id, payload, now, nb, nb)
                             for c in channels])
        order = {alert_id: k for k, alert_id in enumerate(touched)}
        rows = map(_alert, self._alert_rows(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE id = ANY(%s::bigint[])",
                                            (sorted(order),)))
        return sorted(rows, key=lambda a: order[a.id])

    def open_alert_rows(self, kinds: Sequence[str] | None = None) -> list[Alert]:
        rows = self._alert_rows(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE state = 'open' ORDER BY id DESC")
        wanted = None if kinds is None else set(kinds)
        return [a for a in map(_alert, rows) if wanted is None or a.kind in wanted]

    def open_alert_keys(self) -> list[AlertKey]:
        return [AlertKey(int(r[0]), *r[1:]) for r in self._alert_rows(
            "SELECT id, kind, subject, occurrence, since, detail, opened_at, acked_at, reminded_at FROM alerts"
            " WHERE state = 'open' ORDER BY id")]

    def alert_rows_since(self, since: datetime | None) -> list[Alert]:
        if since is None:
            return [_alert(r) for r in self._alert_rows(f"SELECT {_ALERT_COLUMNS} FROM alerts ORDER BY id DESC")]
        s = utc_text(since)
        return [_alert(r) for r in self._alert_rows(
            f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE opened_at >= %s OR resolved_at >= %s ORDER BY id DESC", (s, s))]

    def alert_row(self, alert_id: int) -> Alert | None:
        rows = list(self._alert_rows(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE id = %s", (alert_id,)))
        return _alert(rows[0]) if rows else None

    def acknowledge_alert(self, alert_id: int, actor: str, note: str | None, at: datetime) -> Alert | None:
        with self._tx("acknowledgement not stored") as conn:
            conn.execute("UPDATE alerts SET acked_at = %s, acked_by = %s, ack_note = %s WHERE id = %s",
                         (utc_text(at), actor, note, alert_id))
        return self.alert_row(alert_id)

    def mark_reminded(self, alert_ids: Sequence[int], at: datetime) -> None:
        with self._tx("reminder not stored") as conn:
            conn.execute("UPDATE alerts SET reminded_at = %s WHERE id = ANY(%s::bigint[])",
                         (utc_text(at), list(alert_ids)))

    # --- notifications ------------------------------------------------------------------

    def queue_notification(self, transition: str, payload: Mapping[str, Any], channels: Sequence[str],
                           at: datetime, not_before: datetime, alert_id: int | None = None,
                           dedupe: str | None = None) -> bool:
        body = json.dumps(dict(payload), ensure_ascii=False)
        nb = utc_text(not_before)
        added = False
        with self._tx("notification not queued") as conn:
            for c in channels:
                cur = conn.execute(
                    "INSERT INTO alert_notifications(channel, transition, alert_id, payload, created_at, not_before,"
                    " next_try_at, dedupe) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    (c, transition, alert_id, body, utc_text(at), nb, nb, dedupe))
                added = added or cur.rowcount == 1
        return added

    def due_notifications(self, channel: str, now: datetime, limit: int = 50) -> list[Notification]:
        return [_note(r) for r in self._alert_rows(
            f"SELECT {_NOTE_COLUMNS} FROM alert_notifications WHERE channel = %s AND delivered_at IS NULL"
            " AND not_before <= %s ORDER BY id LIMIT %s", (channel, utc_text(now), limit))]

    def mark_notification(self, notification_id: int, at: datetime, error: str | None,
                          next_try_at: datetime | None) -> None:
        with self._tx("delivery not stored") as conn:
            if error is None:
                conn.execute("UPDATE alert_notifications SET delivered_at = %s, attempts = attempts + 1,"
                             " last_error = NULL WHERE id = %s AND delivered_at IS NULL",
                             (utc_text(at), notification_id))
            else:
                conn.execute("UPDATE alert_notifications SET attempts = attempts + 1, last_error = %s,"
                             " next_try_at = %s WHERE id = %s",
                             (error[:500].replace("\x00", ""), utc_text(next_try_at or at), notification_id))

    def notification_rows(self, channel: str | None = None, delivered: bool | None = None) -> list[Notification]:
        where: list[str] = []
        params: list[object] = []
        if channel is not None:
            where.append("channel = %s")
            params.append(channel)
        if delivered is not None:
            where.append("delivered_at IS NOT NULL" if delivered else "delivered_at IS NULL")
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        return [_note(r) for r in self._alert_rows(
            f"SELECT {_NOTE_COLUMNS} FROM alert_notifications{clause} ORDER BY id".encode(), params)]

    # --- the engine's state -------------------------------------------------------------

    def alert_state(self) -> dict[str, Any]:
        return {str(k): json.loads(v) for k, v in self._alert_rows("SELECT key, value FROM alert_state")}

    def save_alert_state(self, values: Mapping[str, Any]) -> None:
        with self._tx("alert state not stored") as conn, conn.cursor() as cur:
            cur.executemany("INSERT INTO alert_state(key, value) VALUES (%s, %s)"
                            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                            [(k, json.dumps(v)) for k, v in values.items()])

    # --- bulk reads ---------------------------------------------------------------------

    def all_statuses(self) -> list[StatusRow]:
        return [StatusRow(r[0], r[1], r[2], r[3], bytes(r[4])) for r in self._alert_rows(
            "SELECT station, state, at, received_at, jws FROM status ORDER BY station")]

    def events_after(self, cursor: int, limit: int = 5000) -> list[StoredEventRef]:
        return [StoredEventRef(int(r[0]), bytes(r[1]), str(r[2])) for r in self._alert_rows(
            "SELECT o.id, e.jws, e.received_at FROM event_order o JOIN events e ON e.station = o.station"
            " AND e.seq = o.seq AND e.payload_sha256 = o.payload_sha256 WHERE o.id > %s ORDER BY o.id LIMIT %s",
            (cursor, limit))]

    def event_cursor(self) -> int:
        return int(next(iter(self._alert_rows("SELECT COALESCE(MAX(id), 0) FROM event_order")))[0])

    def event_slots(self, station: str) -> set[str]:
        return {str(r[0]) for r in self._alert_rows(
            "SELECT DISTINCT slot FROM events WHERE station = %s AND slot IS NOT NULL", (station,))}

    def latest_published(self) -> dict[str, tuple[int, str]]:
        return {str(r[0]): (int(r[1]), str(r[2])) for r in self._alert_rows(
            "SELECT DISTINCT ON (station) station, version, published_at FROM schedules"
            " ORDER BY station, version DESC")}

    def seq_health(self, station: str, lo_seq: int, hi_seq: int) -> tuple[bool, bool, bool]:
        with self._read() as conn:
            counted = conn.execute("SELECT COUNT(*), COUNT(DISTINCT seq), COALESCE(MAX(seq), 0) FROM events"
                                   " WHERE station = %s", (station,)).fetchone()
            broken = conn.execute(_BROKEN, {"s": station, "lo": lo_seq, "hi": hi_seq}).fetchone()
        count, distinct, last = counted or (0, 0, 0)
        return int(distinct) < int(last), int(count) > int(distinct), broken is not None

    def quarantine_after(self, cursor: int) -> list[tuple[int, str | None, str, str]]:
        return [(int(r[0]), r[1], str(r[2]), str(r[3])) for r in self._alert_rows(
            "SELECT id, station, reason, received_at FROM quarantine WHERE id > %s ORDER BY id", (cursor,))]
