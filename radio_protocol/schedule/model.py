"""The schedule model (docs/protocol.md, "schedule"): frozen dataclasses and the limits.

A :class:`Schedule` is what :func:`radio_protocol.schedule.parse.parse_schedule` returns
for a valid payload and what :func:`radio_protocol.schedule.build.build_schedule` writes
back. Times are aware datetimes in the schedule's timezone; every limit a parser enforces
is named here (docs/protocol.md lists them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from radio_protocol import PRIORITIES
from radio_protocol.errors import ScheduleError
from radio_protocol.timefmt import zone

__all__ = [
    "MAX_DTSTART_BEFORE_DAYS", "MAX_MEDIA_BYTES", "MAX_MEDIA_DURATION_S", "MAX_SLOTS_PER_MONTH",
    "MAX_TOTAL_SLOTS_PER_MONTH", "MAX_VALIDITY_DAYS", "MIN_INTERVAL_S", "PRIORITIES", "PRIORITY_RANK",
    "SEGMENT_ID_RE", "SHA256_RE", "SLUG_RE", "Media", "Schedule", "ScheduleError", "ScheduleSegment",
    "SegmentLoudness", "SlotRule",
]

MIN_INTERVAL_S = 15 * 60
MAX_SLOTS_PER_MONTH = 500
MAX_VALIDITY_DAYS = 400
MAX_DTSTART_BEFORE_DAYS = 400
MAX_TOTAL_SLOTS_PER_MONTH = 1000
MAX_MEDIA_BYTES = 1024 * 1024 * 1024
MAX_MEDIA_DURATION_S = 6 * 3600
PRIORITY_RANK = {name: rank for rank, name in enumerate(PRIORITIES)}
SEGMENT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Media:
    sha256: str
    url: str
    bytes: int
    duration_s: float


@dataclass(frozen=True)
class SegmentLoudness:
    """Optional ``segments[].loudness``: the district's measurement (ITU-R BS.1770-4).

    ``measured_lufs`` is the integrated loudness of the source before normalisation,
    ``target_lufs`` the level the published media was normalised to (None: not normalised),
    ``true_peak_dbtp`` the true peak of the published media file.
    """

    measured_lufs: float
    target_lufs: float | None
    true_peak_dbtp: float


@dataclass(frozen=True)
class ScheduleSegment:
    id: str
    title: str
    program: str
    topic: str | None
    priority: str
    media: Media
    loudness: SegmentLoudness | None = None

    @property
    def rank(self) -> int:
        """0 normal, 1 priority, 2 emergency: a higher rank pre-empts a lower one."""
        return PRIORITY_RANK[self.priority]


@dataclass(frozen=True)
class SlotRule:
    """One entry of ``slots``: either a fixed ``at`` time or an ``rrule`` from ``dtstart``.

    ``index`` is the entry's position in the payload (the tie-breaker of "slot order").
    Times are aware datetimes in the schedule's timezone. ``until`` (``at`` entries only,
    optional) bounds a bulletin's validity: it may start late until then, never after.
    """

    index: int
    segment: str
    at: datetime | None = None
    rrule: str | None = None
    dtstart: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class Schedule:
    district: str
    station: str
    version: int
    issued_at: datetime
    valid_from: date
    valid_until: date
    timezone: str
    segments: tuple[ScheduleSegment, ...]
    slots: tuple[SlotRule, ...]

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.timezone)

    @property
    def start_at(self) -> datetime:
        """First instant in force: ``valid_from`` 00:00 in the schedule's timezone."""
        return datetime.combine(self.valid_from, time(0), self.tz)

    @property
    def end_at(self) -> datetime:
        """First instant no longer in force: the day after ``valid_until``, 00:00."""
        return datetime.combine(self.valid_until + timedelta(days=1), time(0), self.tz)

    def segment(self, segment_id: str) -> ScheduleSegment:
        for seg in self.segments:
            if seg.id == segment_id:
                return seg
        raise KeyError(segment_id)
