"""Where a bulletin stands at each station, read from the store the collector fills.

:func:`bulletin_outcome` is the station's signed evidence: the event (``airing``) whose
segment is the bulletin, as the collector stored it (``completed``, ``interrupted``,
``failed``, ``missed``, with reason, priority and times). While there is none,
:func:`why_not` explains from the station's latest status: never seen, offline, still on
an older schedule version (and the error it reported when it refused the new one), the
bulletin's media not fetched yet, or airing now (an event is recorded when an airing ends).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from district_collector.scoring.facts import payload_bytes
from district_collector.store.base import Store
from radio_protocol.timefmt import format_rfc3339, parse_rfc3339


@dataclass(frozen=True)
class BulletinOutcome:
    """The station's event for the bulletin: outcome, reason, priority, times (aware)."""

    station: str
    seq: int
    outcome: str
    reason: str | None
    priority: str
    started_at: datetime | None
    ended_at: datetime | None
    played_s: float

    def describe(self, since_at: datetime) -> str:
        """One line: ``aired 12:00:03 (+3.1 s), completed, priority emergency, 8.0 s``."""
        if self.started_at is None or self.outcome in ("missed", "failed"):
            return f"not aired: {self.outcome} ({self.reason or 'no reason given'}), priority {self.priority}"
        late_s = (self.started_at - since_at).total_seconds()
        text = (f"aired {format_rfc3339(self.started_at)} ({late_s:+.1f} s after the command), "
                f"{self.outcome}")
        if self.reason:
            text += f" ({self.reason})"
        return f"{text}, priority {self.priority}, {self.played_s:.1f} s played"


def _time(value: object) -> datetime | None:
    try:
        return parse_rfc3339(value) if isinstance(value, str) else None  # type: ignore[arg-type]
    except ValueError:
        return None


def bulletin_outcome(store: Store, station: str, segment_id: str) -> BulletinOutcome | None:
    """The station's stored event for ``segment_id`` (the latest seq when several), or None.

    Reads the station's events (their facts; only the matching JWS is decoded).
    """
    found = None
    for event in store.iter_events(station):
        if event.facts.segment_id == segment_id and (found is None or event.seq > found.seq):
            found = event
    if found is None:
        return None
    try:
        payload = json.loads(payload_bytes(found.jws))
    except ValueError:
        payload = {}
    return BulletinOutcome(
        station, found.seq, str(payload.get("outcome") or found.facts.outcome),
        payload.get("reason") if isinstance(payload.get("reason"), str) else None,
        str(payload.get("priority") or "normal"), _time(payload.get("started_at")),
        _time(payload.get("ended_at")), float(payload.get("played_s") or 0.0))


def why_not(store: Store, station: str, version: int, segment_id: str) -> str:
    """Why no event for the bulletin is stored yet, from the station's latest status."""
    row = store.status(station)
    if row is None:
        return "never seen: no status from this station"
    status = row.status()
    if status is None:
        return "its latest status cannot be read"
    if status.state != "online":
        return f"offline since {format_rfc3339(status.at)}; it airs the bulletin on return while still valid"
    applied = status.schedule_version
    if applied is None or applied < version:
        error = f"; it reported: {status.schedule_error}" if status.schedule_error else ""
        return f"has not taken schedule version {version} yet (applies {applied}){error}"
    if segment_id in status.media_missing:
        return "media not fetched yet (the bulletin's file is not in its cache)"
    if status.amp_on:
        return "airing now (its event is recorded when the airing ends)"
    return "no event yet (not aired, or its event is not delivered yet)"
