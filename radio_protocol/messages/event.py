"""The airing event (docs/protocol.md, "event"): model, parser and builder.

:func:`build_event` writes an :class:`AiringEvent` member by member, in order. Times are
RFC 3339 with milliseconds (in ``tz`` when one is given). Levels are rounded to 0.01 dB;
minus infinity (digital silence) is written as :data:`SILENCE_FLOOR_DBFS` so the payload
stays JSON; durations are rounded to the millisecond. It raises ValueError for an event
that breaks the protocol's rules (unknown outcome or priority, a reason with
``completed`` or none without).

:func:`parse_event` reads a verified payload as a district does: it raises
:class:`~radio_protocol.errors.EventError` (reason ``invalid-event``) naming the first
member that is missing, of the wrong kind or out of the protocol's bounds (``seq``
1..2**63-1, strings by length: docs/protocol.md, "Bounds"). Members the protocol marks optional, and
members a reader does not know, are accepted (forward compatibility).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from radio_protocol import PRIORITIES, PROTOCOL_VERSION, SW_VERSION
from radio_protocol.errors import EventError
from radio_protocol.messages.fields import (
    format_time,
    is_int,
    is_num,
    optional_member,
    time_member,
)
from radio_protocol.names import MAX_NAME_CHARS, MAX_SEQ, MAX_TEXT_CHARS

OUTCOMES = ("completed", "interrupted", "failed", "missed")
"""``outcome`` values: the whole segment went out / stopped early / could not start / no attempt."""
REASONS = ("media-missing", "media-corrupt", "audio-device", "amp-fault", "preempted", "shutdown",
           "clock-unsynced", "overrun", "station-down", "expired")
"""The ``reason`` codes this project writes; readers accept any string."""
SILENCE_FLOOR_DBFS = -120.0


@dataclass(frozen=True)
class Segment:
    """What is aired: the catalogue entry (``sha256`` of the media file, None if unknown).

    ``priority`` is not written in the ``segment`` member (the event has its own);
    a parsed event's segment carries the event's priority.
    """

    id: str
    title: str
    program: str
    topic: str | None = None
    sha256: str | None = None
    priority: str = "normal"


@dataclass(frozen=True)
class Level:
    """Loudness of what was sent to the device (dBFS, seconds); all None when nothing was sent."""

    rms_dbfs: float | None = None
    peak_dbfs: float | None = None
    silent_s: float | None = None


@dataclass(frozen=True)
class Amp:
    """The amplifier around the airing; ``confirmed`` None when the station has no feedback input."""

    on_at: datetime | None = None
    off_at: datetime | None = None
    confirmed: bool | None = None


@dataclass(frozen=True)
class AiringEvent:
    """One ``type: airing`` event, every member of the payload (times aware)."""

    district: str
    station: str
    commune: str
    seq: int
    prev: str | None
    segment: Segment
    priority: str
    schedule_version: int | None
    slot_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    played_s: float
    media_s: float | None
    outcome: str
    reason: str | None
    amp: Amp
    level: Level | None
    clock_synced: bool
    boot_id: str
    sw: str = SW_VERSION


def _db(value: float | None) -> float | None:
    if value is None or math.isnan(value):
        return None
    return round(max(value, SILENCE_FLOOR_DBFS), 2)


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


def segment_member(segment: Segment) -> dict[str, Any]:
    """The ``segment`` member: ``topic`` only when there is one (it is optional)."""
    member: dict[str, Any] = {"id": segment.id, "title": segment.title, "program": segment.program}
    if segment.topic is not None:
        member["topic"] = segment.topic
    member["sha256"] = segment.sha256
    return member


def build_event(event: AiringEvent, tz: tzinfo | None = None) -> dict[str, Any]:
    """The payload of ``event``; times converted to ``tz`` when given. Raises ValueError."""
    if event.outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {event.outcome!r}")
    if event.priority not in PRIORITIES:
        raise ValueError(f"unknown priority {event.priority!r}")
    if (event.reason is None) != (event.outcome == "completed"):
        raise ValueError(f"outcome {event.outcome!r} with reason {event.reason!r}")
    level = event.level
    return {
        "v": PROTOCOL_VERSION,
        "type": "airing",
        "district": event.district,
        "station": event.station,
        "commune": event.commune,
        "seq": event.seq,
        "prev": event.prev,
        "segment": segment_member(event.segment),
        "priority": event.priority,
        "schedule_version": event.schedule_version,
        "slot": format_time(event.slot_at, tz),
        "started_at": format_time(event.started_at, tz),
        "ended_at": format_time(event.ended_at, tz),
        "played_s": _seconds(event.played_s),
        "media_s": _seconds(event.media_s),
        "outcome": event.outcome,
        "reason": event.reason,
        "amp": {
            "on_at": format_time(event.amp.on_at, tz),
            "off_at": format_time(event.amp.off_at, tz),
            "confirmed": event.amp.confirmed,
        },
        "level": None if level is None else {
            "rms_dbfs": _db(level.rms_dbfs),
            "peak_dbfs": _db(level.peak_dbfs),
            "silent_s": _seconds(level.silent_s),
        },
        "clock_synced": event.clock_synced,
        "boot_id": event.boot_id,
        "sw": event.sw,
    }


def _bounded(name: str, value: Any, max_chars: int = MAX_NAME_CHARS) -> None:
    """Refuse a string member longer than docs/protocol.md allows ("Bounds")."""
    if isinstance(value, str) and len(value) > max_chars:
        raise EventError(f"{name}: must be at most {max_chars} characters, got {len(value)}")


def _need(p: Mapping[str, Any], name: str, ok: bool, what: str) -> None:
    if name not in p:
        raise EventError(f"{name}: missing (required)")
    if not ok:
        raise EventError(f"{name}: must be {what}, got {p[name]!r}")


def _is_mapping(value: Any) -> bool:
    """``isinstance(value, Mapping)``, with a plain dict answered without the ABC check
    (the same answer; the ABC's ``__instancecheck__`` costs ~1 us per call)."""
    return type(value) is dict or isinstance(value, Mapping)


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


# Member names and bounds checked on every event, spelled out once (not rebuilt per event).
_SEGMENT_BOUNDS = tuple((name, f"segment.{name}", MAX_TEXT_CHARS if name == "title" else MAX_NAME_CHARS)
                        for name in ("id", "program", "topic", "sha256", "title"))
_PRIORITIES_TEXT = " or ".join(PRIORITIES)
_OUTCOMES_TEXT = " or ".join(OUTCOMES)
_LEVEL_MEMBERS = ("rms_dbfs", "peak_dbfs", "silent_s")


def _segment(p: Mapping[str, Any]) -> Segment:
    seg = p.get("segment")
    _need(p, "segment", _is_mapping(seg), "an object")
    assert isinstance(seg, Mapping)
    for name in ("id", "program"):
        if not isinstance(seg.get(name), str):
            raise EventError(f"segment.{name}: missing or not a string")
    title = optional_member(seg, "title", _is_str, "a string", EventError, "segment.")
    topic = optional_member(seg, "topic", _is_str, "a string", EventError, "segment.")
    sha256 = optional_member(seg, "sha256", _is_str, "a string", EventError, "segment.")
    for name, label, max_chars in _SEGMENT_BOUNDS:
        _bounded(label, seg.get(name), max_chars)
    priority = p.get("priority")
    return Segment(seg["id"], title or "", seg["program"], topic, sha256,
                   priority if isinstance(priority, str) else "normal")


def _amp(raw: Mapping[str, Any]) -> Amp:
    on_at = time_member(raw, "on_at", True, lambda d: EventError(f"amp.{d}"))
    off_at = time_member(raw, "off_at", True, lambda d: EventError(f"amp.{d}"))
    confirmed = optional_member(raw, "confirmed", _is_bool, "true, false or null", EventError, "amp.")
    return Amp(on_at, off_at, confirmed)


def _level(raw: Mapping[str, Any] | None) -> Level | None:
    if raw is None:
        return None
    values = [optional_member(raw, name, is_num, "a number or null", EventError, "level.")
              for name in _LEVEL_MEMBERS]
    return Level(*(None if v is None else float(v) for v in values))


def parse_event(p: Mapping[str, Any]) -> AiringEvent:
    """The :class:`AiringEvent` of payload ``p``; raises EventError naming the member."""
    if not _is_mapping(p):
        raise EventError("payload: must be an object")
    _need(p, "v", p.get("v") == 1, "1")
    _need(p, "type", p.get("type") == "airing", '"airing"')
    for name in ("district", "station", "commune", "boot_id", "sw"):
        _need(p, name, isinstance(p.get(name), str), "a string")
        _bounded(name, p[name])
    seq: Any = p.get("seq")
    _need(p, "seq", isinstance(seq, int) and not isinstance(seq, bool) and seq >= 1, "an integer >= 1")
    if seq > MAX_SEQ:
        raise EventError(f"seq: must be at most {MAX_SEQ} (2**63 - 1), got {seq}")
    prev = p.get("prev")
    _need(p, "prev", prev is None or (isinstance(prev, str) and len(prev) == 64), "null or a hex SHA-256")
    segment = _segment(p)
    _need(p, "priority", p.get("priority") in PRIORITIES, _PRIORITIES_TEXT)
    _need(p, "schedule_version", p.get("schedule_version") is None or is_int(p.get("schedule_version")),
          "an integer or null")
    _need(p, "outcome", p.get("outcome") in OUTCOMES, _OUTCOMES_TEXT)
    _need(p, "reason", p.get("reason") is None or isinstance(p.get("reason"), str), "a string or null")
    _bounded("reason", p.get("reason"))
    _need(p, "clock_synced", isinstance(p.get("clock_synced"), bool), "true or false")
    _need(p, "played_s", is_num(p.get("played_s")), "a number")
    _need(p, "media_s", p.get("media_s") is None or is_num(p.get("media_s")), "a number or null")
    _need(p, "amp", _is_mapping(p.get("amp")), "an object")
    _need(p, "level", p.get("level") is None or _is_mapping(p.get("level")), "an object or null")
    for name in ("slot", "started_at", "ended_at"):
        _need(p, name, True, "")
    slot_at = time_member(p, "slot", True, EventError)
    started_at = time_member(p, "started_at", p.get("outcome") in ("missed", "failed"), EventError)
    ended_at = time_member(p, "ended_at", True, EventError)
    media_s = p.get("media_s")
    return AiringEvent(
        district=p["district"], station=p["station"], commune=p["commune"], seq=p["seq"], prev=prev,
        segment=segment, priority=p["priority"], schedule_version=p.get("schedule_version"),
        slot_at=slot_at, started_at=started_at, ended_at=ended_at, played_s=float(p["played_s"]),
        media_s=None if media_s is None else float(media_s), outcome=p["outcome"], reason=p.get("reason"),
        amp=_amp(p["amp"]), level=_level(p.get("level")), clock_synced=p["clock_synced"],
        boot_id=p["boot_id"], sw=p["sw"],
    )
