"""The store's part for alerts: the alerts, their durable notification queue, the engine's
cursors, and the bulk reads the rules need.

Contracts every backend keeps:

- **Identity.** An alert is unique by ``(kind, subject, occurrence)``: opening one that
  exists (open or resolved) writes nothing and queues nothing.
- **One transaction per change set.** :meth:`AlertsStore.record_alert_changes` writes the
  alert rows AND their notification rows (one per channel) in one transaction, so a
  transition is either stored with its notifications or not at all; a restart never sends
  a transition twice nor loses one.
- **Queue order.** Notifications of a channel are delivered in ``id`` order among those
  due (``not_before <= now``); a delivered one is never handed out again.
- **Times** are written as RFC 3339 UTC text with milliseconds, so text order is time order.
- **Threads.** One instance per thread (as the rest of the store).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from district_collector.alerts.model import Alert, AlertKey, Finding, Notification
from district_collector.store.records import StatusRow


def utc_text(at: datetime) -> str:
    """How the alert tables write a time: UTC, RFC 3339, milliseconds (text order = time order)."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class AlertChange:
    """One change of a change set. ``action``: ``open`` (``finding`` set), ``update`` or
    ``resolve`` (``alert_id`` set; ``finding`` the new detail for an update, optional for a
    resolve). ``not_before``: when its notifications may go out (None: no notification,
    as for an update)."""

    action: str
    finding: Finding | None = None
    alert_id: int | None = None
    not_before: datetime | None = None
    note: str | None = None


@dataclass(frozen=True)
class StoredEventRef:
    """An event as the alert engine reads it: ``cursor`` its position in storage order."""

    cursor: int
    jws: bytes
    received_at: str


class AlertsStore(ABC):
    """Alerts, notifications and the alert engine's state."""

    # --- alerts -------------------------------------------------------------------------

    @abstractmethod
    def record_alert_changes(self, changes: Sequence[AlertChange], channels: Sequence[str],
                             at: datetime) -> list[Alert]:
        """Apply ``changes`` in ONE transaction (see the module's contracts) and queue one
        notification per channel for each open and resolve that took effect (an open of an
        existing identity, a resolve of an alert not open: nothing). Returns the alerts
        opened, updated or resolved, as stored after the change."""

    @abstractmethod
    def open_alert_rows(self, kinds: Sequence[str] | None = None) -> list[Alert]:
        """Open alerts (of ``kinds``, or all), newest first (by id)."""

    @abstractmethod
    def open_alert_keys(self) -> list[AlertKey]:
        """Every open alert's identity, since, detail text and reminder fields, by id (no
        detail decoding: what an evaluation pass compares findings with)."""

    @abstractmethod
    def alert_rows_since(self, since: datetime | None) -> list[Alert]:
        """Every alert opened or resolved at or after ``since`` (all without one), newest first."""

    @abstractmethod
    def alert_row(self, alert_id: int) -> Alert | None:
        """One alert by id, None when unknown."""

    @abstractmethod
    def acknowledge_alert(self, alert_id: int, actor: str, note: str | None, at: datetime) -> Alert | None:
        """Mark an alert acknowledged (no more reminders); the alert, None when unknown.
        Acknowledging again replaces the actor and note."""

    @abstractmethod
    def mark_reminded(self, alert_ids: Sequence[int], at: datetime) -> None:
        """Record that a reminder was queued for these alerts at ``at``."""

    # --- notifications ------------------------------------------------------------------

    @abstractmethod
    def queue_notification(self, transition: str, payload: Mapping[str, Any], channels: Sequence[str],
                           at: datetime, not_before: datetime, alert_id: int | None = None,
                           dedupe: str | None = None) -> bool:
        """Queue one notification per channel in one transaction. ``dedupe``: a key that, once
        queued, makes the same call a no-op (False): a digest of a day, a reminder round."""

    @abstractmethod
    def due_notifications(self, channel: str, now: datetime, limit: int = 50) -> list[Notification]:
        """The channel's undelivered notifications with ``not_before <= now``, by id."""

    @abstractmethod
    def mark_notification(self, notification_id: int, at: datetime, error: str | None,
                          next_try_at: datetime | None) -> None:
        """Record an attempt: delivered when ``error`` is None, else failed (attempts + 1,
        ``last_error``, retry not before ``next_try_at``)."""

    @abstractmethod
    def notification_rows(self, channel: str | None = None, delivered: bool | None = None) -> list[Notification]:
        """Notifications by id (of one channel; only delivered/undelivered ones when given)."""

    # --- the engine's state -------------------------------------------------------------

    @abstractmethod
    def alert_state(self) -> dict[str, Any]:
        """The engine's saved state (cursors, observations): JSON-ready values by key."""

    @abstractmethod
    def save_alert_state(self, values: Mapping[str, Any]) -> None:
        """Replace the given keys of the engine's state (one transaction)."""

    # --- bulk reads for the rules -------------------------------------------------------

    @abstractmethod
    def all_statuses(self) -> list[StatusRow]:
        """Every station's latest status, by station."""

    @abstractmethod
    def events_after(self, cursor: int, limit: int = 5000) -> list[StoredEventRef]:
        """Stored events after ``cursor`` (0: from the first), in storage order, at most
        ``limit``; each with its own cursor (increasing)."""

    @abstractmethod
    def event_cursor(self) -> int:
        """The cursor of the last stored event (0 when none)."""

    @abstractmethod
    def event_slots(self, station: str) -> set[str]:
        """Every ``slot`` value (as in the payloads) of the station's stored events."""

    @abstractmethod
    def latest_published(self) -> dict[str, tuple[int, str]]:
        """Per station, ``(version, published_at)`` of its highest published schedule."""

    @abstractmethod
    def seq_health(self, station: str, lo_seq: int, hi_seq: int) -> tuple[bool, bool, bool]:
        """A cheap check of a station's stored chain: ``(gaps, conflicts, chain_breaks)``,
        the last among seqs ``lo_seq..hi_seq`` only (the seqs that just arrived)."""

    @abstractmethod
    def quarantine_after(self, cursor: int) -> list[tuple[int, str | None, str, str]]:
        """Quarantined messages after ``cursor``: ``(cursor, station, reason, received_at)``."""
