"""The outbox-reset event (docs/protocol.md, "event: outbox-reset"): model, parser, builder.

A station whose outbox was lost, truncated or corrupted moves the damaged file aside
(never deletes it: it is evidence), opens a new outbox that continues the seq numbering
after the last seq it knows it recorded, and records as its first event a signed
``type: "outbox-reset"`` event saying what happened. It travels on the ``event`` topic
with ``typ cr-event+json`` and takes a seq in the chain like an airing (``prev`` is the
hash of the last payload the station still knew, or null when unknown); it is never an
airing and never counts as one.

:func:`parse_outbox_reset` raises :class:`~radio_protocol.errors.EventError` (reason
``invalid-event``) naming the first faulty member; unknown members are accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from radio_protocol import PROTOCOL_VERSION, SW_VERSION
from radio_protocol.errors import EventError
from radio_protocol.messages.fields import format_time, is_int, optional_member, time_member

__all__ = ["OUTBOX_RESET_TYPE", "RESET_REASONS", "OutboxReset", "build_outbox_reset",
           "parse_outbox_reset"]

OUTBOX_RESET_TYPE = "outbox-reset"
RESET_REASONS = ("outbox-malformed", "outbox-missing", "outbox-behind")
"""``reason`` codes this project writes (readers accept any string): the file was
unreadable / absent / held fewer events than the station had recorded (its marker) or
than the district's signed ack covers."""
MAX_DETAIL_CHARS = 600


@dataclass(frozen=True)
class OutboxReset:
    """One ``type: outbox-reset`` event (``at`` aware).

    ``last_known_seq``: the last seq the station knows it recorded before the loss (from
    its marker); ``found_seq``: the last seq still readable in the damaged file (None when
    unreadable); ``moved_to``: the name the damaged file was moved to (None when there was
    no file).
    """

    district: str
    station: str
    commune: str
    seq: int
    prev: str | None
    at: datetime
    reason: str
    detail: str
    last_known_seq: int
    found_seq: int | None
    moved_to: str | None
    clock_synced: bool
    boot_id: str
    sw: str = SW_VERSION


def build_outbox_reset(event: OutboxReset, tz: tzinfo | None = None) -> dict[str, Any]:
    """The payload of ``event``; ``at`` converted to ``tz`` when given. ``detail`` is cut
    to 600 characters."""
    detail = event.detail if len(event.detail) <= MAX_DETAIL_CHARS else event.detail[:597] + "..."
    return {
        "v": PROTOCOL_VERSION,
        "type": OUTBOX_RESET_TYPE,
        "district": event.district,
        "station": event.station,
        "commune": event.commune,
        "seq": event.seq,
        "prev": event.prev,
        "at": format_time(event.at, tz),
        "reason": event.reason,
        "detail": detail,
        "last_known_seq": event.last_known_seq,
        "found_seq": event.found_seq,
        "moved_to": event.moved_to,
        "clock_synced": event.clock_synced,
        "boot_id": event.boot_id,
        "sw": event.sw,
    }


def _need(p: Mapping[str, Any], name: str, ok: bool, what: str) -> None:
    if name not in p:
        raise EventError(f"{name}: missing (required)")
    if not ok:
        raise EventError(f"{name}: must be {what}, got {p[name]!r}")


def parse_outbox_reset(p: Mapping[str, Any]) -> OutboxReset:
    """The :class:`OutboxReset` of payload ``p``; raises EventError naming the member."""
    if not isinstance(p, Mapping):
        raise EventError("payload: must be an object")
    _need(p, "v", p.get("v") == 1, "1")
    _need(p, "type", p.get("type") == OUTBOX_RESET_TYPE, f'"{OUTBOX_RESET_TYPE}"')
    for name in ("district", "station", "commune", "reason", "detail", "boot_id", "sw"):
        _need(p, name, isinstance(p.get(name), str), "a string")
    _need(p, "seq", is_int(p.get("seq")) and p["seq"] >= 1, "an integer >= 1")
    prev = p.get("prev")
    _need(p, "prev", prev is None or (isinstance(prev, str) and len(prev) == 64), "null or a hex SHA-256")
    _need(p, "last_known_seq", is_int(p.get("last_known_seq")) and p["last_known_seq"] >= 0,
          "an integer >= 0")
    found = optional_member(p, "found_seq", lambda v: is_int(v) and v >= 0, "an integer >= 0 or null",
                            EventError)
    moved_to = optional_member(p, "moved_to", lambda v: isinstance(v, str), "a string or null", EventError)
    _need(p, "clock_synced", isinstance(p.get("clock_synced"), bool), "true or false")
    at = time_member(p, "at", False, EventError)
    assert at is not None
    return OutboxReset(
        district=p["district"], station=p["station"], commune=p["commune"], seq=p["seq"], prev=prev,
        at=at, reason=p["reason"], detail=p["detail"], last_known_seq=p["last_known_seq"],
        found_seq=found, moved_to=moved_to, clock_synced=p["clock_synced"], boot_id=p["boot_id"],
        sw=p["sw"],
    )
