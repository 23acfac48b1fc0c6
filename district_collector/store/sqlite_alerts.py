"""SQLite implementation of :class:`~district_collector.store.base_alerts.AlertsStore`
(a mixin of :class:`~district_collector.store.sqlite.SqliteStore`; contracts there).

Tables: ``alerts`` (UNIQUE kind, subject, occurrence), ``alert_notifications`` (one row
per transition and channel; undelivered rows indexed by channel), ``alert_state`` (key ->
JSON). Each write is its own ``BEGIN IMMEDIATE`` .. ``COMMIT``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from district_collector.alerts.model import Alert, AlertKey, Notification, detail_text
from district_collector.store.base_alerts import AlertChange, StoredEventRef, utc_text
from district_collector.store.migrations.sqlite_versions import record_versions
from district_collector.store.records import StatusRow

ALERTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, subject TEXT NOT NULL,
    occurrence TEXT NOT NULL, station TEXT, commune TEXT, state TEXT NOT NULL, since TEXT NOT NULL,
    opened_at TEXT NOT NULL, updated_at TEXT NOT NULL, resolved_at TEXT, detail TEXT NOT NULL,
    acked_at TEXT, acked_by TEXT, ack_note TEXT, reminded_at TEXT,
    UNIQUE (kind, subject, occurrence)
);
CREATE INDEX IF NOT EXISTS alerts_open ON alerts(state, kind);
CREATE TABLE IF NOT EXISTS alert_notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL, transition TEXT NOT NULL,
    alert_id INTEGER, payload TEXT NOT NULL, created_at TEXT NOT NULL, not_before TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_try_at TEXT NOT NULL, last_error TEXT,
    delivered_at TEXT, dedupe TEXT,
    UNIQUE (channel, dedupe)
);
CREATE INDEX IF NOT EXISTS alert_notifications_due ON alert_notifications(channel, delivered_at, id);
CREATE TABLE IF NOT EXISTS alert_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_ALERT_COLUMNS = ("id, kind, subject, occurrence, station, commune, state, since, opened_at, updated_at, "
                  "resolved_at, detail, acked_at, acked_by, ack_note, reminded_at")
_NOTE_COLUMNS = ("id, channel, transition, alert_id, payload, created_at, not_before, attempts, next_try_at, "
                 "last_error, delivered_at")


def _alert(r: Sequence[Any]) -> Alert:
    return Alert(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], json.loads(r[11]),
                 r[12], r[13], r[14], r[15])


def _note(r: Sequence[Any]) -> Notification:
    return Notification(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6], r[7], r[8], r[9], r[10])


class SqliteAlertsMixin:
    """Alert tables on the SqliteStore's connection ``self._db``."""

    _db: sqlite3.Connection

    def _init_alerts(self) -> None:
        """Create the alert tables and record their version (part ``alerts``, as on PostgreSQL)."""
        self._db.executescript(ALERTS_SCHEMA)
        record_versions(self._db, {"alerts": 1})

    @contextmanager
    def _alert_tx(self) -> Iterator[sqlite3.Connection]:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    # --- alerts -------------------------------------------------------------------------

    def record_alert_changes(self, changes: Sequence[AlertChange], channels: Sequence[str],
                             at: datetime) -> list[Alert]:
        now = utc_text(at)
        touched: list[int] = []
        with self._alert_tx() as db:
            for ch in changes:
                f = ch.finding
                if ch.action == "open" and f is not None:
                    cur = db.execute(
                        "INSERT OR IGNORE INTO alerts(kind, subject, occurrence, station, commune, state, since,"
                        " opened_at, updated_at, detail) VALUES (?,?,?,?,?,'open',?,?,?,?)",
                        (f.kind, f.subject, f.occurrence, f.station, f.commune, f.since, now, now,
                         detail_text(f.detail)))
                    if cur.rowcount != 1:
                        continue
                    alert_id = int(cur.lastrowid or 0)
                elif ch.action == "update" and ch.alert_id is not None and f is not None:
                    cur = db.execute("UPDATE alerts SET detail=?, updated_at=? WHERE id=? AND state='open'",
                                     (detail_text(f.detail), now, ch.alert_id))
                    if cur.rowcount == 1:
                        touched.append(ch.alert_id)
                    continue
                elif ch.action == "resolve" and ch.alert_id is not None:
                    cur = db.execute("UPDATE alerts SET state='resolved', resolved_at=?, updated_at=? WHERE id=?"
                                     " AND state='open'", (now, now, ch.alert_id))
                    if cur.rowcount != 1:
                        continue
                    if ch.note:
                        row = db.execute("SELECT detail FROM alerts WHERE id=?", (ch.alert_id,)).fetchone()
                        detail = dict(json.loads(row[0]), resolution=ch.note)
                        db.execute("UPDATE alerts SET detail=? WHERE id=?", (detail_text(detail), ch.alert_id))
                    alert_id = ch.alert_id
                else:
                    continue
                touched.append(alert_id)
                if ch.not_before is not None and channels:
                    row = db.execute(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE id=?", (alert_id,)).fetchone()
                    payload = json.dumps(_alert(row).as_json(), ensure_ascii=False)
                    nb = utc_text(ch.not_before)
                    db.executemany(
                        "INSERT INTO alert_notifications(channel, transition, alert_id, payload, created_at,"
                        " not_before, next_try_at) VALUES (?,?,?,?,?,?,?)",
                        [(c, ch.action if ch.action == "open" else "resolved", alert_id, payload, now, nb, nb)
                         for c in channels])
        out: list[Alert] = []
        for start in range(0, len(touched), 500):
            ids = touched[start:start + 500]
            rows = self._db.execute(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE id IN ({','.join('?' * len(ids))})",
                                    ids)
            out += map(_alert, rows)
        order = {alert_id: k for k, alert_id in enumerate(touched)}
        return sorted(out, key=lambda a: order[a.id])

    def _alerts_table(self) -> bool:
        """Whether the alert tables exist (a store opened read-only may predate them)."""
        return self._db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='alerts'").fetchone() is not None

    def open_alert_rows(self, kinds: Sequence[str] | None = None) -> list[Alert]:
        if not self._alerts_table():
            return []
        rows = self._db.execute(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE state='open' ORDER BY id DESC")
        wanted = None if kinds is None else set(kinds)
        return [a for a in map(_alert, rows) if wanted is None or a.kind in wanted]

    def open_alert_keys(self) -> list[AlertKey]:
        return [AlertKey(*r) for r in self._db.execute(
            "SELECT id, kind, subject, occurrence, since, detail, opened_at, acked_at, reminded_at FROM alerts"
            " WHERE state='open' ORDER BY id")]

    def alert_rows_since(self, since: datetime | None) -> list[Alert]:
        if not self._alerts_table():
            return []
        if since is None:
            rows = self._db.execute(f"SELECT {_ALERT_COLUMNS} FROM alerts ORDER BY id DESC")
        else:
            s = utc_text(since)
            rows = self._db.execute(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE opened_at >= ? OR resolved_at >= ?"
                                    " ORDER BY id DESC", (s, s))
        return [_alert(r) for r in rows]

    def alert_row(self, alert_id: int) -> Alert | None:
        r = self._db.execute(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE id=?", (alert_id,)).fetchone()
        return None if r is None else _alert(r)

    def acknowledge_alert(self, alert_id: int, actor: str, note: str | None, at: datetime) -> Alert | None:
        with self._alert_tx() as db:
            db.execute("UPDATE alerts SET acked_at=?, acked_by=?, ack_note=? WHERE id=?",
                       (utc_text(at), actor, note, alert_id))
        return self.alert_row(alert_id)

    def mark_reminded(self, alert_ids: Sequence[int], at: datetime) -> None:
        with self._alert_tx() as db:
            db.executemany("UPDATE alerts SET reminded_at=? WHERE id=?", [(utc_text(at), i) for i in alert_ids])

    # --- notifications ------------------------------------------------------------------

    def queue_notification(self, transition: str, payload: Mapping[str, Any], channels: Sequence[str],
                           at: datetime, not_before: datetime, alert_id: int | None = None,
                           dedupe: str | None = None) -> bool:
        body = json.dumps(dict(payload), ensure_ascii=False)
        nb = utc_text(not_before)
        added = False
        with self._alert_tx() as db:
            for c in channels:
                cur = db.execute(
                    "INSERT OR IGNORE INTO alert_notifications(channel, transition, alert_id, payload, created_at,"
                    " not_before, next_try_at, dedupe) VALUES (?,?,?,?,?,?,?,?)",
                    (c, transition, alert_id, body, utc_text(at), nb, nb, dedupe))
                added = added or cur.rowcount == 1
        return added

    def due_notifications(self, channel: str, now: datetime, limit: int = 50) -> list[Notification]:
        rows = self._db.execute(
            f"SELECT {_NOTE_COLUMNS} FROM alert_notifications WHERE channel=? AND delivered_at IS NULL"
            " AND not_before <= ? ORDER BY id LIMIT ?", (channel, utc_text(now), limit))
        return [_note(r) for r in rows]

    def mark_notification(self, notification_id: int, at: datetime, error: str | None,
                          next_try_at: datetime | None) -> None:
        with self._alert_tx() as db:
            if error is None:
                db.execute("UPDATE alert_notifications SET delivered_at=?, attempts=attempts+1, last_error=NULL"
                           " WHERE id=? AND delivered_at IS NULL", (utc_text(at), notification_id))
            else:
                db.execute("UPDATE alert_notifications SET attempts=attempts+1, last_error=?, next_try_at=?"
                           " WHERE id=?", (error[:500], utc_text(next_try_at or at), notification_id))

    def notification_rows(self, channel: str | None = None, delivered: bool | None = None) -> list[Notification]:
        where, params = [], []
        if channel is not None:
            where.append("channel=?")
            params.append(channel)
        if delivered is not None:
            where.append("delivered_at IS NOT NULL" if delivered else "delivered_at IS NULL")
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        return [_note(r) for r in self._db.execute(
            f"SELECT {_NOTE_COLUMNS} FROM alert_notifications{clause} ORDER BY id", params)]

    # --- the engine's state -------------------------------------------------------------

    def alert_state(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self._db.execute("SELECT key, value FROM alert_state")}

    def save_alert_state(self, values: Mapping[str, Any]) -> None:
        with self._alert_tx() as db:
            db.executemany("INSERT OR REPLACE INTO alert_state(key, value) VALUES (?,?)",
                           [(k, json.dumps(v)) for k, v in values.items()])

    # --- bulk reads ---------------------------------------------------------------------

    def all_statuses(self) -> list[StatusRow]:
        return [StatusRow(r[0], r[1], r[2], r[3], bytes(r[4])) for r in self._db.execute(
            "SELECT station, state, at, received_at, jws FROM status ORDER BY station")]

    def events_after(self, cursor: int, limit: int = 5000) -> list[StoredEventRef]:
        return [StoredEventRef(int(r[0]), bytes(r[1]), str(r[2])) for r in self._db.execute(
            "SELECT rowid, jws, received_at FROM events WHERE rowid > ? ORDER BY rowid LIMIT ?", (cursor, limit))]

    def event_cursor(self) -> int:
        return int(self._db.execute("SELECT COALESCE(MAX(rowid), 0) FROM events").fetchone()[0])

    def event_slots(self, station: str) -> set[str]:
        return {str(r[0]) for r in self._db.execute(
            "SELECT DISTINCT slot FROM events WHERE station=? AND slot IS NOT NULL", (station,))}

    def latest_published(self) -> dict[str, tuple[int, str]]:
        return {r[0]: (int(r[1]), str(r[2])) for r in self._db.execute(
            "SELECT s.station, s.version, s.published_at FROM schedules s WHERE s.version ="
            " (SELECT MAX(version) FROM schedules t WHERE t.station = s.station)")}

    def seq_health(self, station: str, lo_seq: int, hi_seq: int) -> tuple[bool, bool, bool]:
        count, distinct, last = self._db.execute(
            "SELECT COUNT(*), COUNT(DISTINCT seq), COALESCE(MAX(seq), 0) FROM events WHERE station=?",
            (station,)).fetchone()
        broken = self._db.execute(
            "SELECT 1 FROM events e WHERE e.station=? AND e.seq BETWEEN ? AND ? AND ("
            " (e.seq = 1 AND e.prev IS NOT NULL) OR (e.seq > 1"
            "  AND EXISTS (SELECT 1 FROM events p WHERE p.station=e.station AND p.seq=e.seq-1)"
            "  AND NOT EXISTS (SELECT 1 FROM events p WHERE p.station=e.station AND p.seq=e.seq-1"
            "                  AND p.payload_sha256 = e.prev))) LIMIT 1", (station, lo_seq, hi_seq)).fetchone()
        return int(distinct) < int(last), int(count) > int(distinct), broken is not None

    def quarantine_after(self, cursor: int) -> list[tuple[int, str | None, str, str]]:
        return [(int(r[0]), r[1], str(r[2]), str(r[3])) for r in self._db.execute(
            "SELECT id, station, reason, received_at FROM quarantine WHERE id > ? ORDER BY id", (cursor,))]
