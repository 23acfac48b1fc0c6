"""The station's side of an airing event: what the airer records, before seq and prev.

The payload itself (model, builder, parser) is :mod:`radio_protocol.messages.event`;
:func:`airing_payload` only turns an :class:`AiringRecord` into an
:class:`~radio_protocol.messages.event.AiringEvent` and builds it, times in the station's
configured timezone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from radio_protocol.messages.event import (
    OUTCOMES,
    SILENCE_FLOOR_DBFS,
    AiringEvent,
    Amp,
    Level,
    Segment,
    build_event,
    segment_member,
)

__all__ = [
    "OUTCOMES", "SILENCE_FLOOR_DBFS", "AiringRecord", "Level", "Segment", "StationId", "airing_payload",
    "segment_member",
]


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


def airing_payload(station: StationId, seq: int, prev: str | None, record: AiringRecord,
                   tz: ZoneInfo) -> dict[str, Any]:
    """The ``type: airing`` payload for ``record`` as event ``seq`` chained to ``prev``.

    Raises ValueError for an unknown outcome or priority, or a reason that does not fit
    the outcome (see :func:`radio_protocol.messages.event.build_event`).
    """
    event = AiringEvent(
        district=station.district, station=station.station, commune=station.commune, seq=seq, prev=prev,
        segment=record.segment, priority=record.priority, schedule_version=record.schedule_version,
        slot_at=record.slot_at, started_at=record.started_at, ended_at=record.ended_at,
        played_s=record.played_s, media_s=record.media_s, outcome=record.outcome, reason=record.reason,
        amp=Amp(record.amp_on_at, record.amp_off_at, record.amp_confirmed), level=record.level,
        clock_synced=record.clock_synced, boot_id=record.boot_id,
    )
    return build_event(event, tz)
