"""The evaluation period of docs/scoring.md: local dates, ISO weeks and calendar months.

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
MINUTE_US = 60_000_000
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
HHMM = [f"{m // 60:02d}:{m % 60:02d}" for m in range(1440)]
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


class LocalDays:
    """Local date facts of instants (integer UTC microseconds), cached per local day.

    With a constant UTC offset over the period (:meth:`Period.fixed_offset_us`) a local
    day is arithmetic on the integer instant; otherwise each instant is converted with
    the zone's rules.
    """

    def __init__(self, period: Period) -> None:
        self.tz = period.tz
        self.offset = period.fixed_offset_us()
        self.first_monday = period.start.toordinal() - period.start.weekday()
        self.first_month = period.start.year * 12 + period.start.month - 1
        self.cache: dict[int, tuple[int, int, str]] = {}

    def day(self, ordinal: int) -> tuple[int, int, str]:
        """``(week index, month index, ISO date)`` of a local day (by ordinal) in the period's grids."""
        got = self.cache.get(ordinal)
        if got is None:
            d = date.fromordinal(ordinal)
            got = self.cache[ordinal] = ((ordinal - self.first_monday) // 7,
                                         d.year * 12 + d.month - 1 - self.first_month, d.isoformat())
        return got

    def local(self, ts: int) -> tuple[tuple[int, int, str], str]:
        """The local day facts and ``HH:MM`` of an instant."""
        if self.offset is not None:
            local_us = ts + self.offset
            return self.day(local_us // DAY_US + EPOCH_ORDINAL), HHMM[local_us % DAY_US // MINUTE_US]
        local = (EPOCH + ts * US).astimezone(self.tz)
        return self.day(local.toordinal()), HHMM[local.hour * 60 + local.minute]


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
