"""The station status (docs/protocol.md, "status"): model, parser and builder.

Members, in this order: ``v, type, station, state, at, schedule_version, schedule_error,
next_slot, media_missing, outbox_pending, last_seq, clock_synced, amp, sw`` and the extras
``uptime_s`` and, only while there is one, ``storage_error`` (the protocol welcomes more
members). A station publishes it retained and
signs an ``offline`` one as its Last Will.

:func:`parse_status` requires ``type``, ``station``, ``state`` and ``at`` (what a district
needs to track a station) and checks the kind of every other member it knows when present;
it raises :class:`~radio_protocol.errors.StatusError` (reason ``invalid-status``).
:func:`build_status` writes every member (absent values as null) and raises ValueError for
a state other than ``online``/``offline``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from radio_protocol import PROTOCOL_VERSION, SW_VERSION
from radio_protocol.errors import StatusError
from radio_protocol.messages.fields import (
    format_time,
    is_int,
    is_num,
    is_str,
    optional_member,
    time_member,
)
from radio_protocol.names import MAX_NAME_CHARS, MAX_TEXT_CHARS

STATES = ("online", "offline")
AMP_STATES = ("on", "off")


@dataclass(frozen=True)
class Status:
    """One status message. ``amp_on`` None: not reported. Times aware."""

    station: str
    state: str
    at: datetime
    schedule_version: int | None = None
    schedule_error: str | None = None
    next_slot: datetime | None = None
    media_missing: tuple[str, ...] = field(default_factory=tuple)
    outbox_pending: int | None = None
    last_seq: int | None = None
    clock_synced: bool | None = None
    amp_on: bool | None = None
    sw: str | None = SW_VERSION
    uptime_s: float | None = None
    storage_error: str | None = None


def build_status(status: Status, tz: tzinfo | None = None) -> dict[str, Any]:
    """The payload of ``status``; times converted to ``tz`` when given; ``storage_error``
    written only when there is one. Raises ValueError."""
    if status.state not in STATES:
        raise ValueError(f"status state must be one of {STATES}, got {status.state!r}")
    payload: dict[str, Any] = {
        "v": PROTOCOL_VERSION,
        "type": "status",
        "station": status.station,
        "state": status.state,
        "at": format_time(status.at, tz),
        "schedule_version": status.schedule_version,
        "schedule_error": status.schedule_error,
        "next_slot": format_time(status.next_slot, tz),
        "media_missing": list(status.media_missing),
        "outbox_pending": None if status.outbox_pending is None else int(status.outbox_pending),
        "last_seq": None if status.last_seq is None else int(status.last_seq),
        "clock_synced": None if status.clock_synced is None else bool(status.clock_synced),
        "amp": None if status.amp_on is None else ("on" if status.amp_on else "off"),
        "sw": status.sw,
        "uptime_s": None if status.uptime_s is None else round(max(0.0, status.uptime_s), 1),
    }
    if status.storage_error is not None:
        payload["storage_error"] = status.storage_error
    return payload


def _count(value: Any) -> bool:
    return is_int(value) and value >= 0


MAX_MEDIA_MISSING = 1000
"""Most segment ids a ``media_missing`` list may hold (a schedule has fewer segments)."""


def _names(value: Any) -> bool:
    return isinstance(value, list) and len(value) <= MAX_MEDIA_MISSING and all(is_str(item) for item in value)


def parse_status(p: Mapping[str, Any]) -> Status:
    """The :class:`Status` of payload ``p``; raises StatusError naming the member."""
    if not isinstance(p, Mapping) or p.get("type") != "status" or p.get("state") not in STATES:
        raise StatusError("needs type status and state online or offline")
    if p.get("v", 1) != 1:
        raise StatusError(f"v: must be 1, got {p.get('v')!r}")
    station = p.get("station")
    if not isinstance(station, str):
        raise StatusError(f"station: must be a string, got {station!r}")
    if len(station) > MAX_NAME_CHARS:
        raise StatusError(f"station: must be at most {MAX_NAME_CHARS} characters, got {len(station)}")
    at = time_member(p, "at", False, StatusError, "not an RFC 3339 time")
    assert at is not None

    def member(name: str, ok: Any, what: str) -> Any:
        return optional_member(p, name, ok, what, StatusError)

    schedule_version = member("schedule_version", is_int, "an integer or null")
    schedule_error = member("schedule_error", lambda v: isinstance(v, str), "a string or null")
    next_slot = time_member(p, "next_slot", True, StatusError, "not an RFC 3339 time")
    media_missing = member("media_missing", _names, "a list of segment ids")
    outbox_pending = member("outbox_pending", _count, "an integer >= 0")
    last_seq = member("last_seq", _count, "an integer >= 0")
    clock_synced = member("clock_synced", lambda v: isinstance(v, bool), "true or false")
    amp = member("amp", lambda v: v in AMP_STATES, '"on" or "off"')
    sw = member("sw", lambda v: isinstance(v, str), "a string")
    for name, value, limit in (("schedule_error", schedule_error, MAX_TEXT_CHARS), ("sw", sw, MAX_NAME_CHARS)):
        if value is not None and len(value) > limit:
            raise StatusError(f"{name}: must be at most {limit} characters, got {len(value)}")
    uptime_s = member("uptime_s", is_num, "a number of seconds")
    storage_error = member("storage_error", lambda v: isinstance(v, str), "a string or null")
    return Status(
        station=station, state=p["state"], at=at, schedule_version=schedule_version,
        schedule_error=schedule_error, next_slot=next_slot, media_missing=tuple(media_missing or ()),
        outbox_pending=outbox_pending, last_seq=last_seq, clock_synced=clock_synced,
        amp_on=None if amp is None else amp == "on", sw=sw,
        uptime_s=None if uptime_s is None else float(uptime_s), storage_error=storage_error,
    )
