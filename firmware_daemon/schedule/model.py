"""A schedule payload (PROTOCOL.md "schedule"), parsed and validated completely.

:func:`parse_schedule` turns the verified payload dict into frozen dataclasses or raises
:class:`ScheduleError` listing every problem (each naming the member, e.g.
``slots[3].rrule``). Nothing half-parsed ever reaches the scheduler: a station keeps its
previous schedule when this raises.

Rejected on purpose (a public loudspeaker must not be turned into a siren):
- a recurrence rule that fires more often than every :data:`MIN_INTERVAL_S` seconds or
  yields more than :data:`MAX_SLOTS_PER_MONTH` occurrences in a calendar month;
- a malformed rule, ``DTSTART``/``EXDATE``/``RDATE`` inside the rule (one RRULE line only:
  skip a date by listing the slots with ``at``), ``COUNT`` with ``UNTIL``, a date-only
  ``UNTIL`` (RFC 5545: same value type as DTSTART, e.g. ``UNTIL=20261031T235959Z``);
- a ``dtstart`` more than :data:`MAX_DTSTART_BEFORE_DAYS` days before ``valid_from``
  (every evaluation iterates from ``dtstart``: a rule anchored in 1900 would cost seconds);
- more than :data:`MAX_TOTAL_SLOTS_PER_MONTH` slots in a calendar month, all entries together;
- times without an offset, dates that are not ``YYYY-MM-DD``, an unknown timezone;
- a slot naming an unknown segment, duplicate segment ids;
- a media URL that is not ``http``/``https`` (``file://``, ``ftp://``...) or whose path
  tries to climb (``..``), and a SHA-256 that is not 64 hex digits.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from radio_protocol import PRIORITIES
from radio_protocol.errors import CommuneRadioError
from radio_protocol.timefmt import parse_date, parse_rfc3339, zone
from radio_protocol.topics import DISTRICT_RE, STATION_RE

MIN_INTERVAL_S = 15 * 60
MAX_SLOTS_PER_MONTH = 500
MAX_VALIDITY_DAYS = 400
MAX_DTSTART_BEFORE_DAYS = 400
MAX_TOTAL_SLOTS_PER_MONTH = 1000
MAX_MEDIA_BYTES = 1024 * 1024 * 1024
PRIORITY_RANK = {name: rank for rank, name in enumerate(PRIORITIES)}
SEGMENT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


class ScheduleError(CommuneRadioError):
    """A schedule was refused. ``reason`` is a short code, ``problems`` lists what was wrong."""

    def __init__(self, reason: str, problems: list[str]) -> None:
        self.reason = reason
        self.problems = list(problems)
        super().__init__(f"{reason}: " + "; ".join(self.problems))


@dataclass(frozen=True)
class Media:
    sha256: str
    url: str
    bytes: int
    duration_s: float


@dataclass(frozen=True)
class ScheduleSegment:
    id: str
    title: str
    program: str
    topic: str | None
    priority: str
    media: Media

    @property
    def rank(self) -> int:
        """0 normal, 1 priority, 2 emergency: a higher rank pre-empts a lower one."""
        return PRIORITY_RANK[self.priority]


@dataclass(frozen=True)
class SlotRule:
    """One entry of ``slots``: either a fixed ``at`` time or an ``rrule`` from ``dtstart``.

    ``index`` is the entry's position in the payload (the tie-breaker of "slot order").
    Times are aware datetimes in the schedule's timezone.
    """

    index: int
    segment: str
    at: datetime | None = None
    rrule: str | None = None
    dtstart: datetime | None = None


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


def build_rule(text: str, dtstart: datetime) -> rrule:
    """A dateutil rule evaluated as aware datetimes in ``dtstart``'s timezone.

    Raises ValueError for a malformed rule. A floating (local) ``UNTIL`` is read in the
    schedule's timezone, as RFC 5545 says for a floating DTSTART; ``UNTIL=...Z`` is UTC.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("empty rule")
    upper = text.upper()
    if any(ch in text for ch in "\r\n") or any(word in upper for word in ("DTSTART", "RDATE", "EXDATE")):
        raise ValueError("one RRULE line only (no DTSTART, RDATE, EXDATE or line breaks; "
                         "list exceptional dates as 'at' slots)")
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[6:]
    parts = dict(p.split("=", 1) for p in body.upper().split(";") if "=" in p)
    if "COUNT" in parts and "UNTIL" in parts:
        raise ValueError("COUNT and UNTIL must not both be given")
    if "UNTIL" in parts and "T" not in parts["UNTIL"]:
        raise ValueError(f"UNTIL={parts['UNTIL']} is a date; give a date-time like DTSTART "
                         "(e.g. UNTIL=20261031T235959Z in UTC, or UNTIL=20261031T235959 local)")
    try:
        rule = rrulestr(body, dtstart=dtstart)
    except ValueError as exc:
        if "UNTIL" not in str(exc):
            raise
        naive = rrulestr(body, dtstart=dtstart.replace(tzinfo=None))
        assert isinstance(naive, rrule)
        until: datetime = getattr(naive, "_until")  # noqa: B009 - dateutil keeps it private
        rule = naive.replace(dtstart=dtstart, until=until.replace(tzinfo=dtstart.tzinfo))
    if not isinstance(rule, rrule):
        raise ValueError("not a single RRULE")
    return rule


def rule_occurrences(rule: rrule, start_at: datetime, end_at: datetime) -> Iterator[datetime]:
    """Occurrences of ``rule`` in ``[start_at, end_at)`` (aware), in order.

    dateutil searches up to the year 9999 for an occurrence that never comes (e.g.
    ``BYMONTH=2;BYMONTHDAY=30``: seconds per call), so callers that look repeatedly use
    :func:`window_occurrences`, computed once per rule and window.
    """
    for occ in rule.xafter(start_at, inc=True):
        if occ >= end_at:
            return
        yield occ


@functools.lru_cache(maxsize=512)
def window_occurrences(text: str, dtstart: datetime, timezone: str, start_at: datetime,
                       end_at: datetime) -> tuple[datetime, ...]:
    """Every occurrence of rule ``text`` from ``dtstart``, evaluated in ``timezone``, in
    ``[start_at, end_at)``; memoized (a pure function of its arguments, which are part of
    the key: equal instants in other zones do not share an entry; the scheduler looks at
    the same window every step)."""
    return tuple(rule_occurrences(build_rule(text, dtstart.astimezone(zone(timezone))), start_at, end_at))


def _check_rule_rate(rule: rrule, text: str, start_at: datetime, end_at: datetime) -> str | None:
    """Why the rule fires too often, or None."""
    freq: int = getattr(rule, "_freq")  # noqa: B009 - dateutil: YEARLY=0 .. SECONDLY=6
    interval: int = getattr(rule, "_interval")  # noqa: B009
    if freq == 6:
        return "FREQ=SECONDLY is not allowed"
    if freq == 5 and interval * 60 < MIN_INTERVAL_S:
        return f"fires every {interval} minute(s); at most once every {MIN_INTERVAL_S // 60} minutes"
    per_month: Counter[tuple[int, int]] = Counter()
    previous: datetime | None = None
    for occ in rule_occurrences(rule, start_at, end_at):
        if previous is not None and (occ - previous).total_seconds() < MIN_INTERVAL_S:
            return (f"fires at {previous.isoformat()} and {occ.isoformat()}; "
                    f"at most once every {MIN_INTERVAL_S // 60} minutes")
        previous = occ
        per_month[(occ.year, occ.month)] += 1
        if per_month[(occ.year, occ.month)] > MAX_SLOTS_PER_MONTH:
            return f"more than {MAX_SLOTS_PER_MONTH} occurrences in {occ.year}-{occ.month:02d}"
    return None


def check_media_url(url: Any) -> str | None:
    """Why ``url`` is not an acceptable media URL, or None."""
    if not isinstance(url, str) or not url:
        return "must be a non-empty string"
    if any(ord(ch) < 0x21 or ch in "\\\x7f" for ch in url):
        return "contains spaces, control characters or backslashes"
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return f"not a URL: {exc}"
    if parts.scheme not in ("http", "https"):
        return f"scheme {parts.scheme or '(none)'!r} not allowed (http or https only)"
    if not parts.hostname:
        return "has no host"
    if parts.username or parts.password:
        return "must not carry credentials"
    segments = unquote(unquote(parts.path)).split("/")
    if any(seg in ("..", ".") for seg in segments):
        return "path climbs with '..' (path traversal)"
    return None


class _Collector:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, key: str, message: str) -> None:
        self.problems.append(f"{key}: {message}")


def _str(p: _Collector, obj: Mapping[str, Any], key: str, name: str, pattern: re.Pattern[str] | None = None,
         optional: bool = False, max_len: int = 300) -> Any:
    value = obj.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value or len(value) > max_len:
        p.add(f"{key}.{name}" if key else name, f"must be a string of 1..{max_len} characters, got {value!r}")
        return None
    if pattern is not None and not pattern.match(value):
        p.add(f"{key}.{name}" if key else name, f"{value!r} does not match {pattern.pattern}")
        return None
    return value


def _time(p: _Collector, obj: Mapping[str, Any], key: str, name: str, tz: ZoneInfo | None) -> datetime | None:
    try:
        at = parse_rfc3339(obj.get(name))  # type: ignore[arg-type]
    except (ValueError, TypeError) as exc:
        p.add(f"{key}.{name}" if key else name, f"not an RFC 3339 time with offset: {exc}")
        return None
    return at.astimezone(tz) if tz is not None else at


def _parse_media(p: _Collector, raw: Any, key: str) -> Media | None:
    if not isinstance(raw, Mapping):
        p.add(key, "must be an object with sha256, url, bytes, duration_s")
        return None
    before = len(p.problems)
    sha = _str(p, raw, key, "sha256", SHA256_RE)
    why = check_media_url(raw.get("url"))
    if why:
        p.add(f"{key}.url", why)
    size = raw.get("bytes")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= MAX_MEDIA_BYTES:
        p.add(f"{key}.bytes", f"must be an integer 1..{MAX_MEDIA_BYTES}, got {size!r}")
    duration = raw.get("duration_s")
    if not isinstance(duration, int | float) or isinstance(duration, bool) or not 0 < duration <= 6 * 3600:
        p.add(f"{key}.duration_s", f"must be a number of seconds in (0, 21600], got {duration!r}")
    if len(p.problems) > before:
        return None
    return Media(sha, str(raw["url"]), int(size), float(duration))  # type: ignore[arg-type]


def _parse_segment(p: _Collector, raw: Any, key: str) -> ScheduleSegment | None:
    if not isinstance(raw, Mapping):
        p.add(key, "must be an object")
        return None
    before = len(p.problems)
    seg_id = _str(p, raw, key, "id", SEGMENT_ID_RE)
    title = _str(p, raw, key, "title")
    program = _str(p, raw, key, "program", SLUG_RE)
    topic = _str(p, raw, key, "topic", SLUG_RE, optional=True)
    priority = raw.get("priority", "normal")
    if priority not in PRIORITIES:
        p.add(f"{key}.priority", f"must be one of {', '.join(PRIORITIES)}, got {priority!r}")
    media = _parse_media(p, raw.get("media"), f"{key}.media")
    if len(p.problems) > before or media is None:
        return None
    return ScheduleSegment(seg_id, title, program, topic, priority, media)


def _parse_slot(p: _Collector, raw: Any, key: str, index: int, tz: ZoneInfo,
                segment_ids: set[str]) -> SlotRule | None:
    if not isinstance(raw, Mapping):
        p.add(key, "must be an object")
        return None
    before = len(p.problems)
    seg = raw.get("segment")
    if not isinstance(seg, str) or seg not in segment_ids:
        p.add(f"{key}.segment", f"unknown segment {seg!r}")
    has_at, has_rule = "at" in raw, "rrule" in raw
    if has_at == has_rule:
        p.add(key, "needs exactly one of 'at' or 'rrule'")
        return None
    if has_at:
        at = _time(p, raw, key, "at", tz)
        if len(p.problems) > before or at is None:
            return None
        return SlotRule(index, str(seg), at=at)
    dtstart = _time(p, raw, key, "dtstart", tz)
    text = raw.get("rrule")
    if len(p.problems) > before or dtstart is None:
        return None
    try:
        build_rule(text, dtstart)  # type: ignore[arg-type]
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        p.add(f"{key}.rrule", f"malformed RRULE {text!r}: {exc}")
        return None
    return SlotRule(index, str(seg), rrule=str(text), dtstart=dtstart)


def parse_schedule(payload: Mapping[str, Any]) -> Schedule:
    """Validate every member of a schedule payload; raise ScheduleError listing all problems."""
    p = _Collector()
    if not isinstance(payload, Mapping):
        raise ScheduleError("bad-schedule", ["payload is not an object"])
    if payload.get("v") != 1 or payload.get("type") != "schedule":
        p.add("v/type", f"expected v 1 and type 'schedule', got {payload.get('v')!r}/{payload.get('type')!r}")
    district = _str(p, payload, "", "district", DISTRICT_RE)
    station = _str(p, payload, "", "station", STATION_RE)
    version = payload.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        p.add("version", f"must be an integer >= 1, got {version!r}")
    issued_at = _time(p, payload, "", "issued_at", None)
    tz: ZoneInfo | None = None
    try:
        tz = zone(str(payload.get("timezone")))
    except ValueError as exc:
        p.add("timezone", str(exc))
    dates: list[date] = []
    for name in ("valid_from", "valid_until"):
        try:
            dates.append(parse_date(payload.get(name)))  # type: ignore[arg-type]
        except (ValueError, TypeError) as exc:
            p.add(name, str(exc))
    if len(dates) == 2 and not 0 <= (dates[1] - dates[0]).days <= MAX_VALIDITY_DAYS:
        p.add("valid_until", f"must be 0..{MAX_VALIDITY_DAYS} days after valid_from")
    raw_segments = payload.get("segments")
    raw_slots = payload.get("slots")
    if not isinstance(raw_segments, list) or not raw_segments:
        p.add("segments", "must be a non-empty list")
        raw_segments = []
    if not isinstance(raw_slots, list):
        p.add("slots", "must be a list")
        raw_slots = []
    segments: list[ScheduleSegment] = []
    for i, raw in enumerate(raw_segments):
        seg = _parse_segment(p, raw, f"segments[{i}]")
        if seg is not None:
            segments.append(seg)
    ids = Counter(s.id for s in segments)
    for seg_id, count in ids.items():
        if count > 1:
            p.add("segments", f"segment id {seg_id!r} appears {count} times")
    # a slot naming a segment that is itself broken is reported once, at the segment
    named = {raw.get("id") for raw in raw_segments if isinstance(raw, Mapping)}
    slots: list[SlotRule] = []
    if tz is not None:
        for i, raw in enumerate(raw_slots):
            slot = _parse_slot(p, raw, f"slots[{i}]", i, tz, set(ids) | {n for n in named if isinstance(n, str)})
            if slot is not None:
                slots.append(slot)
    if p.problems:
        raise ScheduleError("bad-schedule", p.problems)
    assert tz is not None and issued_at is not None
    schedule = Schedule(str(district), str(station), int(version), issued_at,  # type: ignore[arg-type]
                        dates[0], dates[1], str(payload["timezone"]), tuple(segments), tuple(slots))
    earliest = schedule.start_at - timedelta(days=MAX_DTSTART_BEFORE_DAYS)
    per_month: Counter[tuple[int, int]] = Counter()
    for slot in schedule.slots:
        if slot.at is not None and schedule.start_at <= slot.at < schedule.end_at:
            per_month[(slot.at.year, slot.at.month)] += 1
        if slot.rrule is None or slot.dtstart is None:
            continue
        if slot.dtstart < earliest:
            p.add(f"slots[{slot.index}].dtstart", f"{slot.dtstart.isoformat()} is more than "
                  f"{MAX_DTSTART_BEFORE_DAYS} days before valid_from")
            continue
        why = _check_rule_rate(build_rule(slot.rrule, slot.dtstart), slot.rrule,
                               schedule.start_at, schedule.end_at)
        if why:
            p.add(f"slots[{slot.index}].rrule", why)
            continue
        for occ in window_occurrences(slot.rrule, slot.dtstart, schedule.timezone,
                                      schedule.start_at, schedule.end_at):
            per_month[(occ.year, occ.month)] += 1
    for (year, month), count in sorted(per_month.items()):
        if count > MAX_TOTAL_SLOTS_PER_MONTH:
            p.add("slots", f"{count} slots in {year}-{month:02d} (all entries together); "
                  f"at most {MAX_TOTAL_SLOTS_PER_MONTH}")
    if p.problems:
        raise ScheduleError("bad-rrule", p.problems)
    return schedule
