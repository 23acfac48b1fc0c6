"""The office's monthly broadcast catalogue ("danh mục phát sóng") as YAML -> schedules.

Written by office staff, so it is forgiving in form and strict in meaning::

    month: 2024-10                 # the month this catalogue covers
    timezone: Asia/Ho_Chi_Minh     # optional (default: the district's)
    stations: [dak-koi-01]         # optional (default: every registered station)
    segments:
      - id: cds-2024-10-a
        title: "Chuyển đổi số là gì?"
        program: chuyen-doi-so
        topic: policy              # optional
        priority: normal           # normal | priority | emergency (default normal)
        media: media/cds-a.mp3     # a file (relative to this catalogue) or an http(s) URL
    slots:
      - {segment: cds-2024-10-a, every: [tuesday, friday], at: "06:30"}   # weekly rule
      - {segment: cds-2024-10-a, every: day, at: ["06:30", "17:00"]}
      - {segment: cds-2024-10-a, dates: [2024-10-10], at: "17:00"}       # given dates
      - {segment: cds-2024-10-a, rrule: "FREQ=MONTHLY;BYDAY=SA;BYSETPOS=-1", at: "17:00"}
      - {segment: ..., every: [monday], at: "06:30", stations: [dak-koi-01]}  # some stations only

``every`` takes weekday names in English or Vietnamese ("thứ hai" .. "chủ nhật", "cn")
or ``day``; it becomes an RFC 5545 ``FREQ=WEEKLY;BYDAY=..`` (``FREQ=DAILY``) rule from the
first day of the month. ``at`` is ``HH:MM`` (unquoted ``17:00`` is fine too).

:func:`load_catalogue` collects every problem at once, each naming the file, the line and
the key (``catalogue.yaml:14: slots[2].at: ...``) and raises ConfigError.
:func:`schedule_payloads` turns it into one docs/protocol.md schedule payload per station.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from district_collector.schedules.yaml_lines import NotADate, Problems, line_of, load_yaml
from radio_protocol import PRIORITIES
from radio_protocol.errors import ConfigError, ScheduleError
from radio_protocol.schedule.build import build_schedule, media_from
from radio_protocol.schedule.expand import expand
from radio_protocol.schedule.model import (
    SEGMENT_ID_RE,
    SLUG_RE,
    Schedule,
    ScheduleSegment,
    SlotRule,
)
from radio_protocol.schedule.parse import check_media_url, parse_schedule
from radio_protocol.schedule.rules import build_rule
from radio_protocol.timefmt import zone
from radio_protocol.topics import STATION_RE

WEEKDAYS = {
    "monday": "MO", "tuesday": "TU", "wednesday": "WE", "thursday": "TH", "friday": "FR",
    "saturday": "SA", "sunday": "SU", "mon": "MO", "tue": "TU", "wed": "WE", "thu": "TH",
    "fri": "FR", "sat": "SA", "sun": "SU",
    "thứ hai": "MO", "thứ ba": "TU", "thứ tư": "WE", "thứ năm": "TH", "thứ sáu": "FR",
    "thứ bảy": "SA", "chủ nhật": "SU", "t2": "MO", "t3": "TU", "t4": "WE", "t5": "TH",
    "t6": "FR", "t7": "SA", "cn": "SU",
}
DAILY = ("day", "daily", "every day", "hằng ngày", "hàng ngày")
_TOP = ("month", "timezone", "stations", "segments", "slots", "title", "notes")
_SEGMENT_KEYS = ("id", "title", "program", "topic", "priority", "media", "notes")
_SLOT_KEYS = ("segment", "every", "dates", "rrule", "at", "stations", "notes")
_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class CatalogueSegment:
    id: str
    title: str
    program: str
    topic: str | None
    priority: str
    media: str  # a path (resolved) or an http(s) URL
    line: int


@dataclass(frozen=True)
class CatalogueSlot:
    segment: str
    times: tuple[time, ...]
    dates: tuple[date, ...] = ()
    rrule: str | None = None
    stations: tuple[str, ...] | None = None
    line: int = 0


@dataclass(frozen=True)
class Catalogue:
    source: Path
    year: int
    month: int
    timezone: str
    stations: tuple[str, ...] | None
    segments: tuple[CatalogueSegment, ...]
    slots: tuple[CatalogueSlot, ...]

    @property
    def valid_from(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def valid_until(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def slots_for(self, station: str) -> list[CatalogueSlot]:
        return [s for s in self.slots if s.stations is None or station in s.stations]


def _text(p: Problems, obj: Mapping[str, Any], where: str, name: str, *, required: bool = True,
          pattern: re.Pattern[str] | None = None) -> str | None:
    value = obj.get(name)
    if value is None:
        if required:
            p.add(line_of(obj), f"{where}{name}", "missing (required)")
        return None
    if not isinstance(value, str) or not value.strip():
        p.add(line_of(obj, name), f"{where}{name}", f"must be text, got {value!r}")
        return None
    if pattern is not None and not pattern.match(value):
        p.add(line_of(obj, name), f"{where}{name}", f"{value!r} is not allowed (expected {pattern.pattern})")
        return None
    return value.strip()


def _unknown(p: Problems, obj: Mapping[str, Any], where: str, allowed: Sequence[str]) -> None:
    for key in obj:
        if key not in allowed:
            p.add(line_of(obj, key), f"{where}{key}", f"unknown key; known keys: {', '.join(allowed)}")


def _times(p: Problems, slot: Mapping[str, Any], where: str) -> tuple[time, ...]:
    raw = slot.get("at")
    items = raw if isinstance(raw, list) else [raw]
    out: list[time] = []
    for item in items:
        match = _TIME_RE.match(str(item).strip()) if isinstance(item, str) else None
        if match is None:
            p.add(line_of(slot, "at"), f"{where}at", f"expected a time HH:MM like \"06:30\", got {item!r}")
            continue
        out.append(time(int(match.group(1)), int(match.group(2))))
    return tuple(out)


def _every(p: Problems, slot: Mapping[str, Any], where: str) -> str | None:
    raw = slot.get("every")
    if isinstance(raw, str) and raw.strip().lower() in DAILY:
        return "FREQ=DAILY"
    items = raw if isinstance(raw, list) else [raw]
    days: list[str] = []
    for item in items:
        code = WEEKDAYS.get(str(item).strip().lower()) if isinstance(item, str) else None
        if code is None:
            p.add(line_of(slot, "every"), f"{where}every",
                  f"{item!r} is not a weekday (monday..sunday, thứ hai..chủ nhật) or 'day'")
            return None
        if code not in days:
            days.append(code)
    return "FREQ=WEEKLY;BYDAY=" + ",".join(days)


def _read_segment(p: Problems, raw: Any, i: int, base: Path) -> CatalogueSegment | None:
    where = f"segments[{i}]."
    if not isinstance(raw, Mapping):
        p.add(line_of(raw), f"segments[{i}]", "must be a mapping (id, title, program, media, ...)")
        return None
    before = len(p.items)
    _unknown(p, raw, where, _SEGMENT_KEYS)
    seg_id = _text(p, raw, where, "id", pattern=SEGMENT_ID_RE)
    title = _text(p, raw, where, "title")
    program = _text(p, raw, where, "program", pattern=SLUG_RE)
    topic = _text(p, raw, where, "topic", required=False, pattern=SLUG_RE)
    priority = raw.get("priority", "normal")
    if priority not in PRIORITIES:
        p.add(line_of(raw, "priority"), f"{where}priority", f"must be one of {', '.join(PRIORITIES)}, got {priority!r}")
    media = _text(p, raw, where, "media")
    if media is not None:
        if "://" in media:
            why = check_media_url(media)
            if why:
                p.add(line_of(raw, "media"), f"{where}media", f"URL {why}")
        else:
            path = (base / media).resolve()
            if not path.is_file():
                p.add(line_of(raw, "media"), f"{where}media", f"no such file {path}")
            media = str(path)
    if len(p.items) > before:
        return None
    return CatalogueSegment(str(seg_id), str(title), str(program), topic, str(priority), str(media),
                            line_of(raw))


def _read_slot(p: Problems, raw: Any, i: int, segment_ids: set[str], year: int,
               month: int) -> CatalogueSlot | None:
    where = f"slots[{i}]."
    if not isinstance(raw, Mapping):
        p.add(line_of(raw), f"slots[{i}]", "must be a mapping (segment, every/dates/rrule, at)")
        return None
    before = len(p.items)
    _unknown(p, raw, where, _SLOT_KEYS)
    seg = _text(p, raw, where, "segment")
    if seg is not None and seg not in segment_ids:
        p.add(line_of(raw, "segment"), f"{where}segment", f"no segment with id {seg!r} in segments")
    kinds = [k for k in ("every", "dates", "rrule") if k in raw]
    if len(kinds) != 1:
        p.add(line_of(raw), f"slots[{i}]", "needs exactly one of every, dates or rrule")
        return None
    times = _times(p, raw, where)
    dates: list[date] = []
    rule: str | None = None
    if kinds[0] == "every":
        rule = _every(p, raw, where)
    elif kinds[0] == "rrule":
        rule = _text(p, raw, where, "rrule")
    else:
        items = raw["dates"] if isinstance(raw["dates"], list) else [raw["dates"]]
        for item in items:
            if isinstance(item, NotADate):
                p.add(line_of(raw, "dates"), f"{where}dates", f"{item} is not a real date ({item.reason})")
            elif not isinstance(item, date) or isinstance(item, datetime):
                p.add(line_of(raw, "dates"), f"{where}dates", f"expected dates YYYY-MM-DD, got {item!r}")
            elif (item.year, item.month) != (year, month):
                p.add(line_of(raw, "dates"), f"{where}dates", f"{item} is not in the catalogue's month {year}-{month:02d}")
            else:
                dates.append(item)
    stations = raw.get("stations")
    if stations is not None and (not isinstance(stations, list) or not all(
            isinstance(s, str) and STATION_RE.match(s) for s in stations)):
        p.add(line_of(raw, "stations"), f"{where}stations", "must be a list of station ids")
        stations = None
    if len(p.items) > before:
        return None
    return CatalogueSlot(str(seg), times, tuple(dates), rule, tuple(stations) if stations else None,
                         line_of(raw))


def load_catalogue(path: Path | str, default_timezone: str = "Asia/Ho_Chi_Minh",
                   media_base: Path | None = None) -> Catalogue:
    """Read and validate a catalogue file; ConfigError lists every problem with its line.
    Relative media paths resolve against ``media_base`` (default: the catalogue's folder)."""
    path = Path(path)
    p = Problems(path)
    data = load_yaml(path)
    if not isinstance(data, Mapping):
        raise ConfigError([f"{path}:1: the catalogue must be a mapping (month, segments, slots)"])
    _unknown(p, data, "", _TOP)
    year = month = 0
    raw_month = data.get("month")
    match = re.fullmatch(r"(\d{4})-(\d{1,2})", str(raw_month).strip()) if raw_month is not None else None
    if match and 1 <= int(match.group(2)) <= 12:
        year, month = int(match.group(1)), int(match.group(2))
    else:
        p.add(line_of(data, "month"), "month", f"expected YYYY-MM like 2024-10, got {raw_month!r}")
    tz_name = data.get("timezone", default_timezone)
    try:
        zone(str(tz_name))
    except ValueError as exc:
        p.add(line_of(data, "timezone"), "timezone", str(exc))
    stations = data.get("stations")
    if stations in (None, "all"):
        stations = None
    elif not isinstance(stations, list) or not all(isinstance(s, str) and STATION_RE.match(s) for s in stations):
        p.add(line_of(data, "stations"), "stations", "must be 'all' or a list of station ids")
        stations = None
    raw_segments = data.get("segments")
    if not isinstance(raw_segments, list) or not raw_segments:
        p.add(line_of(data, "segments"), "segments", "must be a non-empty list")
        raw_segments = []
    segments = [s for i, raw in enumerate(raw_segments) if (s := _read_segment(p, raw, i, media_base or path.parent))]
    seen: set[str] = set()
    for seg in segments:
        if seg.id in seen:
            p.add(seg.line, "segments", f"segment id {seg.id!r} is used twice")
        seen.add(seg.id)
    raw_slots = data.get("slots")
    if not isinstance(raw_slots, list) or not raw_slots:
        p.add(line_of(data, "slots"), "slots", "must be a non-empty list")
        raw_slots = []
    ids = {s.id for s in segments} | {str(r.get("id")) for r in raw_segments if isinstance(r, Mapping)}
    slots = [t for i, raw in enumerate(raw_slots) if (t := _read_slot(p, raw, i, ids, year, month))]
    if p.items:
        raise ConfigError(p.items)
    catalogue = Catalogue(path, year, month, str(tz_name), tuple(stations) if stations else None,
                          tuple(segments), tuple(slots))
    _check_rules(p, catalogue)
    if p.items:
        raise ConfigError(p.items)
    return catalogue


def _slot_rules(catalogue: Catalogue, slot: CatalogueSlot, first: int) -> list[SlotRule]:
    """The schedule entries of one catalogue slot, numbered from ``first``."""
    tz = zone(catalogue.timezone)
    out: list[SlotRule] = []
    for at in slot.times:
        if slot.rrule is not None:
            out.append(SlotRule(first + len(out), slot.segment, rrule=slot.rrule,
                                dtstart=datetime.combine(catalogue.valid_from, at, tz)))
        for day in slot.dates:
            out.append(SlotRule(first + len(out), slot.segment, at=datetime.combine(day, at, tz)))
    return out


_PLACEHOLDER_MEDIA = {"sha256": "0" * 64, "url": "https://placeholder.invalid/m", "bytes": 1,
                      "duration_s": 1.0}


def _check_rules(p: Problems, catalogue: Catalogue) -> None:
    """Validate rules (syntax, rate limits) as the station will, naming the catalogue line."""
    for i, slot in enumerate(catalogue.slots):
        if slot.rrule is None:
            continue
        try:
            build_rule(slot.rrule, datetime.combine(catalogue.valid_from, time(6), zone(catalogue.timezone)))
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            p.add(slot.line, f"slots[{i}].rrule", f"not a valid RFC 5545 rule {slot.rrule!r}: {exc}")
            continue
        issued_at = datetime.combine(catalogue.valid_from, time(0), zone(catalogue.timezone))
        body = _payload(catalogue, "check", 1, issued_at,
                        {s.id: dict(_PLACEHOLDER_MEDIA) for s in catalogue.segments}, [slot])
        try:
            parsed = parse_schedule(body)
        except ScheduleError as exc:
            for problem in exc.problems:
                if " never fires between " in problem:  # said in the catalogue's words, below
                    continue
                p.add(slot.line, f"slots[{i}]", problem.split(": ", 1)[-1])
            if not any(" never fires between " in problem for problem in exc.problems):
                continue
            parsed = None
        if parsed is None or not expand(parsed):
            p.add(slot.line, f"slots[{i}].rrule", f"{slot.rrule!r} has no date in "
                  f"{catalogue.year}-{catalogue.month:02d}: nothing would air")


def _payload(catalogue: Catalogue, station: str, version: int, issued_at: datetime,
             media: Mapping[str, Mapping[str, Any]], slots: Sequence[CatalogueSlot],
             district: str = "check") -> dict[str, Any]:
    used = {s.segment for s in slots}
    rules: list[SlotRule] = []
    for slot in slots:
        rules.extend(_slot_rules(catalogue, slot, len(rules)))
    segments = tuple(ScheduleSegment(s.id, s.title, s.program, s.topic, s.priority, media_from(media[s.id]))
                     for s in catalogue.segments if s.id in used)
    return build_schedule(Schedule(district, station, version, issued_at, catalogue.valid_from,
                                   catalogue.valid_until, catalogue.timezone, segments, tuple(rules)))


def schedule_payload(catalogue: Catalogue, *, district: str, station: str, version: int,
                     issued_at: datetime, media: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The docs/protocol.md schedule payload for one station (``media``: segment id -> media member).

    Raises ScheduleError if the result would not parse at the station (it is checked here).
    """
    body = _payload(catalogue, station, version, issued_at, media, catalogue.slots_for(station), district)
    parse_schedule(body)
    return body
