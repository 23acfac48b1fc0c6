"""The airing event payload, member by member and in order, exactly as PROTOCOL.md says.

Times are RFC 3339 with milliseconds in the station's configured timezone. Levels come
from the samples actually sent to the audio device; a level that is minus infinity
(digital silence) is written as :data:`SILENCE_FLOOR_DBFS` so the payload stays JSON;
``null`` level members mean no sample was sent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from radio_protocol import PRIORITIES, PROTOCOL_VERSION, SW_VERSION
from radio_protocol.timefmt import format_rfc3339

OUTCOMES = ("completed", "interrupted", "failed", "missed")
SILENCE_FLOOR_DBFS = -120.0


@dataclass(frozen=True)
class Segment:
    """What is aired: the catalogue entry (``sha256`` of the media file, None if unknown)."""

    id: str
    title: str
    program: str
    topic: str | None = None
    sha256: str | None = None
    priority: str = "normal"


@dataclass(frozen=True)
class Level:
    """Loudness of what was sent to the device; all None when nothing was sent."""

    rms_dbfs: float | None = None
    peak_dbfs: float | None = None
    silent_s: float | None = None


@dataclass(frozen=True)
class AiringRecord:
    """Everything an airing event says, before it gets its seq and prev."""

    segment: Segment
    priority: str
    schedule_version: int | None
    slot_at: datetime | None
    started_at: datetime
    ended_at: datetime
    played_s: float
    media_s: float | None
    outcome: str
    reason: str | None
    amp_on_at: datetime | None
    amp_off_at: datetime | None
    amp_confirmed: bool | None
    level: Level
    clock_synced: bool
    boot_id: str


@dataclass(frozen=True)
class StationId:
    district: str
    station: str
    commune: str


def _time(at: datetime | None, tz: ZoneInfo) -> str | None:
    return None if at is None else format_rfc3339(at.astimezone(tz))


def _db(value: float | None) -> float | None:
    if value is None or math.isnan(value):
        return None
    return round(max(value, SILENCE_FLOOR_DBFS), 2)


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


def segment_member(segment: Segment) -> dict[str, Any]:
    member: dict[str, Any] = {"id": segment.id, "title": segment.title, "program": segment.program}
    if segment.topic is not None:
        member["topic"] = segment.topic  # optional in PROTOCOL.md
    member["sha256"] = segment.sha256
    return member


def airing_payload(station: StationId, seq: int, prev: str | None, record: AiringRecord,
                   tz: ZoneInfo) -> dict[str, Any]:
    """The ``type: airing`` payload for ``record`` as event ``seq`` chained to ``prev``."""
    if record.outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {record.outcome!r}")
    if record.priority not in PRIORITIES:
        raise ValueError(f"unknown priority {record.priority!r}")
    if (record.reason is None) != (record.outcome == "completed"):
        raise ValueError(f"outcome {record.outcome!r} with reason {record.reason!r}")
    return {
        "v": PROTOCOL_VERSION,
        "type": "airing",
        "district": station.district,
        "station": station.station,
        "commune": station.commune,
        "seq": seq,
        "prev": prev,
        "segment": segment_member(record.segment),
        "priority": record.priority,
        "schedule_version": record.schedule_version,
        "slot": _time(record.slot_at, tz),
        "started_at": _time(record.started_at, tz),
        "ended_at": _time(record.ended_at, tz),
        "played_s": _seconds(record.played_s),
        "media_s": _seconds(record.media_s),
        "outcome": record.outcome,
        "reason": record.reason,
        "amp": {
            "on_at": _time(record.amp_on_at, tz),
            "off_at": _time(record.amp_off_at, tz),
            "confirmed": record.amp_confirmed,
        },
        "level": {
            "rms_dbfs": _db(record.level.rms_dbfs),
            "peak_dbfs": _db(record.level.peak_dbfs),
            "silent_s": _seconds(record.level.silent_s),
        },
        "clock_synced": record.clock_synced,
        "boot_id": record.boot_id,
        "sw": SW_VERSION,
    }
