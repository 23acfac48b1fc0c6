"""What an alert is: its kinds, states, identity, and what the rules report.

An alert is identified by ``(kind, subject, occurrence)``: ``subject`` is the station id
(station and airing kinds) or the commune code (scoring kinds); ``occurrence`` tells one
episode from the next (the seq of an airing, the slot, the ISO week, the time a condition
was first seen). The same identity is never opened twice, so a restarted collector finds
its open alerts in the store and sends nothing again.

A rule reports :class:`Finding` objects: what is wrong NOW. The engine
(:mod:`district_collector.alerts.engine`) opens an alert for a new finding, updates an open
one whose detail changed, and resolves an open alert of a kind the rule owns that is no
longer found.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from radio_protocol.errors import CommuneRadioError

Kind = Literal["station-offline", "station-flapping", "slot-missed", "airing-failed", "dead-air",
               "week-at-risk", "month-at-risk", "schedule-not-applied", "media-missing", "clock-unsynced",
               "evidence-problem"]
KINDS: tuple[str, ...] = ("station-offline", "station-flapping", "slot-missed", "airing-failed", "dead-air",
                          "week-at-risk", "month-at-risk", "schedule-not-applied", "media-missing",
                          "clock-unsynced", "evidence-problem")
URGENT: frozenset[str] = frozenset({"station-offline", "slot-missed", "airing-failed", "dead-air",
                                    "week-at-risk", "month-at-risk"})
"""Kinds sent at once even in quiet hours; the others wait until quiet hours end."""
State = Literal["open", "resolved"]
Transition = Literal["open", "resolved", "reminder", "digest", "test"]
EPISODE = ""
"""A finding's ``occurrence`` when the rule has none: the engine gives the episode the time it
was first seen, so the same condition after a resolution is a new alert."""


class AlertError(CommuneRadioError):
    """An alert operation failed (unknown alert id, a channel that cannot be built...)."""


@dataclass(frozen=True)
class Finding:
    """One thing wrong now. ``since``: RFC 3339 time it started (or was first known);
    ``detail``: JSON-ready facts for the message (no secrets)."""

    kind: str
    subject: str
    occurrence: str
    since: str
    station: str | None = None
    commune: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def identity(self) -> tuple[str, str, str]:
        return (self.kind, self.subject, self.occurrence)


@dataclass(frozen=True)
class Alert:
    """A stored alert. Times are RFC 3339 text as stored; ``resolved_at`` None while open."""

    id: int
    kind: str
    subject: str
    occurrence: str
    station: str | None
    commune: str | None
    state: str
    since: str
    opened_at: str
    updated_at: str
    resolved_at: str | None
    detail: dict[str, Any]
    acked_at: str | None = None
    acked_by: str | None = None
    ack_note: str | None = None
    reminded_at: str | None = None

    @property
    def urgent(self) -> bool:
        return self.kind in URGENT

    def as_json(self, url: str | None = None) -> dict[str, Any]:
        """The webhook payload members (and the console's JSON): id, kind, state, station,
        commune, opened_at, resolved_at, detail, url, plus since and acknowledgement."""
        return {"id": self.id, "kind": self.kind, "state": self.state, "station": self.station,
                "commune": self.commune, "opened_at": self.opened_at, "resolved_at": self.resolved_at,
                "detail": self.detail, "url": url, "since": self.since, "subject": self.subject,
                "acked_at": self.acked_at, "acked_by": self.acked_by, "ack_note": self.ack_note}


class AlertKey(NamedTuple):
    """An open alert as the engine compares it, without decoding its detail: ``detail`` is
    the stored canonical JSON text (:func:`detail_text`)."""

    id: int
    kind: str
    subject: str
    occurrence: str
    since: str
    detail: str
    opened_at: str
    acked_at: str | None
    reminded_at: str | None


def detail_text(detail: dict[str, Any]) -> str:
    """The detail as stored: canonical JSON (sorted keys), so equal details compare equal."""
    return json.dumps(detail, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class Notification:
    """One queued delivery of one alert transition to one channel (``alert`` None for a
    digest or a test). ``payload``: what the transition carried (the alert as it was)."""

    id: int
    channel: str
    transition: str
    alert_id: int | None
    payload: dict[str, Any]
    created_at: str
    not_before: str
    attempts: int
    next_try_at: str
    last_error: str | None
    delivered_at: str | None
