"""The evaluation period of SCORING.md: local dates, ISO weeks and calendar months.

``from``..``to`` are local dates in the district's timezone, both inclusive. A week
(ISO 8601, Monday..Sunday, ``YYYY-Www``) or month (``YYYY-MM``) is *required* when
all its days lie inside the period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from radio_protocol.errors import CommuneRadioError
from radio_protocol.timefmt import parse_date, parse_rfc3339, zone


class ScoringError(CommuneRadioError):
    """The scoring inputs are unusable (an empty period, an unreadable date...)."""


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US = timedelta(microseconds=1)
DAY_US = 86_400_000_000
_OFFSET_PROBE = timedelta(hours=3)


@dataclass(frozen=True)
class Period:
    """``start``..``end`` local dates, both inclusive, in ``timezone``."""

    start: date
    end: date
    timezone: str

    @classmethod
    def parse(cls, start: str, end: str, timezone: str) -> Period:
        try:
            period = cls(parse_date(start), parse_date(end), timezone)
            zone(timezone)
        except ValueError as exc:
            raise ScoringError(f"bad period: {exc}") from exc
        if period.start > period.end:
            raise ScoringError(f"the period is empty: from {start} is after to {end}")
        return period

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.timezone)

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time(0), self.tz)

    @property
    def end_at(self) -> datetime:
        """First instant after the period."""
        return datetime.combine(self.end + timedelta(days=1), time(0), self.tz)

    @property
    def start_us(self) -> int:
        """``start_at`` as integer microseconds since the Unix epoch (UTC)."""
        return (self.start_at - EPOCH) // US

    @property
    def end_us(self) -> int:
        return (self.end_at - EPOCH) // US

    def fixed_offset_us(self) -> int | None:
        """The timezone's UTC offset in microseconds when it is the same throughout the
        period (so local days are arithmetic on UTC microseconds), else None.

        Probed every 3 hours from ``start_at`` to ``end_at``: any real offset change
        (DST, a decree) lasts far longer than that.
        """
        tz = self.tz
        at, end = self.start_at.astimezone(UTC), self.end_at.astimezone(UTC)
        first = at.astimezone(tz).utcoffset()
        while at <= end:
            if at.astimezone(tz).utcoffset() != first:
                return None
            at += _OFFSET_PROBE
        if end.astimezone(tz).utcoffset() != first or first is None:
            return None
        return first // US

    def as_json(self) -> dict[str, str]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "timezone": self.timezone}


def instant(text: str | None) -> datetime | None:
    """An RFC 3339 time with offset as an aware datetime; None when absent or not one."""
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text)  # fast path; 3.11 reads "Z" too
    except ValueError:
        try:
            at = parse_rfc3339(text)
        except ValueError:
            return None
    return at if at.tzinfo is not None else None


def utc_us(text: str | None) -> int | None:
    """:func:`instant` as integer microseconds since the Unix epoch (exact, sortable)."""
    at = instant(text)
    return None if at is None else (at - EPOCH) // US


def period_weeks(period: Period) -> list[dict[str, Any]]:
    """Every ISO week overlapping the period, in order, with whether it is required."""
    monday = period.start - timedelta(days=period.start.weekday())
    weeks = []
    while monday <= period.end:
        sunday = monday + timedelta(days=6)
        iso = monday.isocalendar()
        weeks.append({"week": f"{iso.year}-W{iso.week:02d}", "start": monday.isoformat(),
                      "end": sunday.isoformat(),
                      "required": monday >= period.start and sunday <= period.end})
        monday += timedelta(days=7)
    return weeks


def period_months(period: Period) -> list[dict[str, Any]]:
    """Every calendar month overlapping the period, in order, with whether it is required."""
    months = []
    year, month = period.start.year, period.start.month
    while date(year, month, 1) <= period.end:
        first = date(year, month, 1)
        nxt = date(year + (month == 12), month % 12 + 1, 1)
        months.append({"month": f"{year}-{month:02d}",
                       "required": first >= period.start and nxt - timedelta(days=1) <= period.end})
        year, month = nxt.year, nxt.month
    return months
