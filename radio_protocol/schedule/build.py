"""The one builder of schedule payloads: :func:`build_schedule` (docs/protocol.md, "schedule").

It writes a :class:`~radio_protocol.schedule.model.Schedule` as the payload dict a district
signs, members in the order of docs/protocol.md. It does not validate: a district checks
what it built with :func:`~radio_protocol.schedule.parse.parse_schedule` before signing,
exactly as the station will. ``build_schedule(parse_schedule(p))`` equals ``p`` for a
payload written by this builder (times keep their offset and millisecond precision).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

from radio_protocol import PROTOCOL_VERSION
from radio_protocol.schedule.model import (
    Media,
    Schedule,
    ScheduleSegment,
    SegmentLoudness,
    SlotRule,
)
from radio_protocol.timefmt import format_rfc3339, zone


def media_from(member: Mapping[str, Any]) -> Media:
    """A :class:`Media` from a ``{sha256, url, bytes, duration_s}`` mapping (types coerced).

    Raises KeyError for a missing member and ValueError/TypeError for one of the wrong kind.
    """
    return Media(str(member["sha256"]), str(member["url"]), int(member["bytes"]),
                 float(member["duration_s"]))


def loudness_from(member: Mapping[str, Any]) -> SegmentLoudness | None:
    """The :class:`SegmentLoudness` of a media mapping's optional ``loudness`` member, or None."""
    loud = member.get("loudness")
    if not isinstance(loud, Mapping):
        return None
    target = loud.get("target_lufs")
    return SegmentLoudness(float(loud["measured_lufs"]), None if target is None else float(target),
                           float(loud["true_peak_dbtp"]))


def media_member(media: Media) -> dict[str, Any]:
    return {"sha256": media.sha256, "url": media.url, "bytes": media.bytes, "duration_s": media.duration_s}


def segment_member(segment: ScheduleSegment) -> dict[str, Any]:
    """One entry of ``segments``; ``topic`` is written as null when there is none."""
    member: dict[str, Any] = {"id": segment.id, "title": segment.title, "program": segment.program,
                              "topic": segment.topic, "priority": segment.priority,
                              "media": media_member(segment.media)}
    if segment.loudness is not None:
        loud = segment.loudness
        member["loudness"] = {"measured_lufs": loud.measured_lufs, "target_lufs": loud.target_lufs,
                              "true_peak_dbtp": loud.true_peak_dbtp}
    return member


def slot_member(slot: SlotRule, tz: tzinfo) -> dict[str, str]:
    """One entry of ``slots``: ``{segment, at}`` (plus ``until`` when set) or
    ``{segment, rrule, dtstart}``, times in ``tz``.

    Raises ValueError for an entry with neither ``at`` nor ``rrule`` and ``dtstart``.
    """
    if slot.at is not None:
        member = {"segment": slot.segment, "at": format_rfc3339(slot.at.astimezone(tz))}
        if slot.until is not None:
            member["until"] = format_rfc3339(slot.until.astimezone(tz))
        return member
    if slot.rrule is None or slot.dtstart is None:
        raise ValueError(f"slot {slot.index} has neither 'at' nor 'rrule' with 'dtstart'")
    return {"segment": slot.segment, "rrule": slot.rrule, "dtstart": format_rfc3339(slot.dtstart.astimezone(tz))}


def build_schedule(schedule: Schedule) -> dict[str, Any]:
    """The payload of ``schedule``: every time written in its timezone, ms precision.

    ``slots`` are written in their ``index`` order; raises ValueError for an unknown
    timezone or a slot that is neither fixed nor a rule.
    """
    tz = zone(schedule.timezone)
    return {
        "v": PROTOCOL_VERSION, "type": "schedule", "district": schedule.district, "station": schedule.station,
        "version": schedule.version,
        "issued_at": format_rfc3339(schedule.issued_at.astimezone(tz)),
        "valid_from": schedule.valid_from.isoformat(), "valid_until": schedule.valid_until.isoformat(),
        "timezone": schedule.timezone,
        "segments": [segment_member(seg) for seg in schedule.segments],
        "slots": [slot_member(slot, tz) for slot in sorted(schedule.slots, key=lambda s: s.index)],
    }
