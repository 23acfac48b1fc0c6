"""Read an iCalendar file (RFC 5545) as a catalogue: each VEVENT one slot.

What is read from each VEVENT (the ``catalogue ics`` export writes all of it):

- ``SUMMARY``: the segment's title (required);
- ``DESCRIPTION``: lines ``Chương trình / Programme: chuyen-doi-so``, ``Chủ đề / Topic:
  policy``, ``Mức ưu tiên / Priority: normal`` (either name alone works too); the
  programme is required, priority defaults to normal;
- ``ATTACH``: the media, an http(s) URL, a ``file:`` URI or a path relative to the .ics
  (required);
- ``DTSTART``: a date-time (not an all-day date) in any timezone, read in the district's;
  the minute of the day is the airing time;
- ``RRULE``: kept as the slot's rule (the same checks as the YAML's, so no rule firing
  more often than every 15 minutes); an ``UNTIL`` at or after the month's end is dropped.
  ``RDATE``/``EXDATE``/``EXRULE`` are refused (give such dates as events of their own);
- the stations: ``X-CR-STATIONS`` (comma-separated station ids and groups, all must be
  known), else the ``CATEGORIES`` that are station ids or groups (other categories are
  ignored), else every station;
- ``X-CR-SEGMENT``: the segment id; without it, one is made from the title and the month
  (as the Excel reader does).

The month is the calendar's ``X-CR-MONTH`` or that of the earliest DTSTART. Every problem
is raised at once as ConfigError naming the file, the VEVENT's line and its UID.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from icalendar import Calendar

from district_collector.config import DistrictConfig
from district_collector.schedules.catalogue import (
    Catalogue,
    CatalogueSegment,
    CatalogueSlot,
    check_rules,
)
from district_collector.schedules.xlsx_read import segment_slug
from district_collector.schedules.yaml_lines import Problems
from radio_protocol import PRIORITIES
from radio_protocol.errors import CommuneRadioError, ConfigError
from radio_protocol.schedule.model import SEGMENT_ID_RE, SLUG_RE
from radio_protocol.schedule.parse import check_media_url
from radio_protocol.timefmt import zone

MAX_BYTES = 5 * 1024 * 1024
MAX_EVENTS = 3000
_FIELDS = {"chương trình": "program", "programme": "program", "program": "program", "chủ đề": "topic",
           "topic": "topic", "mức ưu tiên": "priority", "priority": "priority"}
_UNSUPPORTED = ("rdate", "exdate", "exrule")

Content = tuple[str, str, str | None, str, str]


class IcsProblems(Problems):
    """Problems said as ``FILE:LINE: VEVENT UID=...: message`` (``LINE`` of its BEGIN:VEVENT)."""

    def __init__(self, source: Path) -> None:
        super().__init__(source)
        self.uids: dict[int, str] = {}

    def event(self, line: int, message: str) -> None:
        self.items.append(f"{self.source}:{line}: VEVENT UID={self.uids.get(line, '(none)')}: {message}")

    def add(self, line: int, key: str, message: str) -> None:
        """A problem from the shared catalogue checks (rules), said at its VEVENT."""
        self.event(line, f"RRULE: {message}")


def _lines(text: str) -> list[int]:
    """The 1-based line of each ``BEGIN:VEVENT``, in file order (= icalendar's walk order)."""
    return [i for i, line in enumerate(text.splitlines(), start=1) if line.strip().upper() == "BEGIN:VEVENT"]


def _parse(path: Path) -> tuple[Calendar, list[int]]:
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ConfigError([f"{path}: larger than {MAX_BYTES} bytes / tệp quá lớn"])
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError as exc:
        raise ConfigError([f"{path}: file not found / không có tệp"]) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read as UTF-8 text / không đọc được: {exc}"]) from exc
    try:
        calendar = Calendar.from_ical(text)
    except Exception as exc:  # icalendar raises ValueError, KeyError, IndexError... for broken input
        raise ConfigError([f"{path}: not an iCalendar file (RFC 5545) / không phải tệp lịch .ics: "
                           f"{type(exc).__name__}: {exc}"[:400]]) from exc
    if not isinstance(calendar, Calendar) or calendar.name != "VCALENDAR":
        raise ConfigError([f"{path}: no VCALENDAR / không phải tệp lịch .ics"])
    return calendar, _lines(text)


def _text(event: Any, name: str) -> str:
    value = event.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value).strip() if value is not None else ""


def _description(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw in text.splitlines():
        name, sep, value = raw.partition(":")
        if not sep:
            continue
        for part in name.split("/"):
            key = _FIELDS.get(" ".join(part.casefold().split()))
            if key is not None:
                out[key] = value.strip()
                break
    return out


def _media(p: IcsProblems, line: int, attach: str, base: Path) -> str | None:
    if not attach:
        p.event(line, "ATTACH: missing: the media file's URL is required / thiếu tệp âm thanh")
        return None
    if attach.lower().startswith(("http://", "https://")):
        why = check_media_url(attach)
        if why:
            p.event(line, f"ATTACH: URL {why}")
            return None
        return attach
    path = Path(unquote(urlparse(attach).path)) if attach.lower().startswith("file:") else base / attach
    path = path.resolve()
    if not path.is_file():
        p.event(line, f"ATTACH: no such file {path} / không có tệp")
        return None
    return str(path)


def _stations(p: IcsProblems, line: int, event: Any, config: DistrictConfig) -> tuple[str, ...] | None:
    explicit = _text(event, "x-cr-stations").replace("\\,", ",")  # TEXT escapes its commas
    if explicit:
        try:
            return tuple(config.expand_stations(re.split(r"[,;\s]+", explicit)))
        except CommuneRadioError as exc:
            p.event(line, f"X-CR-STATIONS: {exc}")
            return None
    names: list[str] = []
    raw = event.get("categories")
    for item in raw if isinstance(raw, list) else [raw] if raw is not None else []:
        names.extend(str(c) for c in getattr(item, "cats", []))
    known = {s.id for s in config.stations} | set(config.groups)
    wanted = [n.strip() for n in names if n.strip() in known]
    return tuple(config.expand_stations(wanted)) if wanted else None


def _dt(component: Any, name: str) -> Any:
    """The ``.dt`` of a date/time property; None when absent or broken (icalendar 7 keeps a
    property it could not parse and raises a ValueError on access)."""
    try:
        return getattr(component.get(name), "dt", None)
    except ValueError:
        return None


def _start(p: IcsProblems, line: int, event: Any, tz_name: str) -> datetime | None:
    value = _dt(event, "dtstart")
    if not isinstance(value, datetime):
        p.event(line, "DTSTART: needs a date and time (not an all-day event) / cần ngày và giờ phát")
        return None
    local = value.replace(tzinfo=zone(tz_name)) if value.tzinfo is None else value.astimezone(zone(tz_name))
    if local.second or local.microsecond:
        p.event(line, f"DTSTART: {local:%H:%M:%S}: airings start on the minute / giờ phát tính theo phút")
        return None
    return local


def _rrule(p: IcsProblems, line: int, event: Any, month_end: datetime) -> str | None:
    raw = event.get("rrule")
    if raw is None:
        return None
    if isinstance(raw, list):
        p.event(line, "RRULE: one rule per event / mỗi sự kiện một quy tắc lặp")
        return None
    try:
        rule = raw.to_ical().decode()
    except (AttributeError, ValueError, TypeError) as exc:
        p.event(line, f"RRULE: cannot read: {exc}")
        return None
    parts = [part for part in rule.split(";") if part]
    until = next((part for part in parts if part.upper().startswith("UNTIL=")), None)
    if until is not None:
        value = raw.get("UNTIL")
        value = value[0] if isinstance(value, list) and value else value
        if isinstance(value, datetime) and (value if value.tzinfo else value.replace(
                tzinfo=month_end.tzinfo)) >= month_end - timedelta(minutes=1):
            parts.remove(until)  # the month ends the schedule anyway
    return ";".join(parts)


def _event(p: IcsProblems, line: int, event: Any, config: DistrictConfig, base: Path, month: tuple[int, int],
           tz_name: str) -> tuple[Content, str | None, CatalogueSlot] | None:
    before = len(p.items)
    for name in _UNSUPPORTED:
        if event.get(name) is not None:
            p.event(line, f"{name.upper()}: not supported: give each extra or skipped date as an event "
                          f"of its own / không hỗ trợ {name.upper()}")
    title = _text(event, "summary")
    if not title:
        p.event(line, "SUMMARY: missing: the segment's title is required / thiếu tiêu đề")
    fields = _description(_text(event, "description"))
    program = fields.get("program", "").lower()
    if not SLUG_RE.match(program):
        p.event(line, f"DESCRIPTION: needs a line 'Chương trình / Programme: chuyen-doi-so' (got {program!r})")
    topic = fields.get("topic", "").lower() or None
    if topic is not None and not SLUG_RE.match(topic):
        p.event(line, f"DESCRIPTION: topic {topic!r} is not a topic code (e.g. policy)")
    priority = fields.get("priority", "normal").lower() or "normal"
    if priority not in PRIORITIES:
        p.event(line, f"DESCRIPTION: priority {priority!r} is not one of {', '.join(PRIORITIES)}")
    media = _media(p, line, _text(event, "attach"), base)
    stations = _stations(p, line, event, config)
    start = _start(p, line, event, tz_name)
    first = date(month[0], month[1], 1)
    end = datetime.combine((first + timedelta(days=32)).replace(day=1), time(0), zone(tz_name))
    rule = _rrule(p, line, event, end)
    if start is not None and (start >= end or (rule is None and start.date() < first)):
        p.event(line, f"DTSTART: {start:%d/%m/%Y %H:%M} is not in the calendar's month "
                      f"{month[1]:02d}/{month[0]} / không thuộc tháng của lịch")
    seg_id = _text(event, "x-cr-segment") or None
    if seg_id is not None and not SEGMENT_ID_RE.match(seg_id):
        p.event(line, f"X-CR-SEGMENT: {seg_id!r} is not a segment id")
    if len(p.items) > before or start is None or media is None:
        return None
    at = start.time().replace(tzinfo=None)
    slot = CatalogueSlot("", (at,), () if rule else (start.date(),), rule, stations, line,
                         start.date() if rule is not None and start.date() != first else None)
    return (title, program, topic, priority, media), seg_id, slot


def _safe_event(p: IcsProblems, line: int, event: Any, config: DistrictConfig, base: Path,
                month: tuple[int, int], tz_name: str) -> tuple[Content, str | None, CatalogueSlot] | None:
    """:func:`_event`, with a property icalendar could not parse said as this VEVENT's problem."""
    try:
        return _event(p, line, event, config, base, month, tz_name)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
        p.event(line, f"cannot read this event / không đọc được sự kiện: {type(exc).__name__}: {exc}"[:300])
        return None


def _month(calendar: Calendar, events: list[Any], tz_name: str) -> tuple[int, int] | None:
    match = re.fullmatch(r"(\d{4})-(\d{2})", _text(calendar, "x-cr-month"))
    if match and 1 <= int(match.group(2)) <= 12:
        return int(match.group(1)), int(match.group(2))
    starts = [v for e in events if isinstance(v := _dt(e, "dtstart"), datetime)]
    if not starts:
        return None
    first = min(s if s.tzinfo else s.replace(tzinfo=zone(tz_name)) for s in starts).astimezone(zone(tz_name))
    return first.year, first.month


def read_ics_catalogue(path: Path | str, config: DistrictConfig,
                       media_base: Path | None = None) -> Catalogue:
    """The catalogue in an iCalendar file; ConfigError listing every problem."""
    path = Path(path)
    calendar, lines = _parse(path)
    tz_name = config.district.timezone
    events = [c for c in calendar.walk("VEVENT")]
    if len(events) > MAX_EVENTS:
        raise ConfigError([f"{path}: more than {MAX_EVENTS} events / quá nhiều sự kiện"])
    month = _month(calendar, events, tz_name)
    if not events or month is None:
        raise ConfigError([f"{path}: no VEVENT with a DTSTART: nothing to air / lịch không có sự kiện nào"])
    p = IcsProblems(path)
    at_line = [lines[i] if i < len(lines) else 0 for i in range(len(events))]
    p.uids = {line: _text(e, "uid") or "(none)" for line, e in zip(at_line, events, strict=True)}
    read = [got for e, line in zip(events, at_line, strict=True)
            if (got := _safe_event(p, line, e, config, media_base or path.parent, month, tz_name)) is not None]
    if p.items:
        raise ConfigError(p.items)
    ids: dict[Content, str] = {}
    segments: list[CatalogueSegment] = []
    slots: list[CatalogueSlot] = []
    for content, given, slot in read:
        if content not in ids:
            seg_id = given or f"{segment_slug(content[0])}-{month[0]:04d}-{month[1]:02d}"
            base, n = seg_id, 1
            while seg_id in ids.values():
                if given is not None:
                    p.event(slot.line, f"X-CR-SEGMENT: {given!r} is used by another event with another "
                                       "title, programme, topic, priority or ATTACH")
                    break
                n += 1
                seg_id = f"{base}-{n}"
            ids[content] = seg_id
            segments.append(CatalogueSegment(seg_id, *content, line=slot.line))
        slots.append(CatalogueSlot(ids[content], slot.times, slot.dates, slot.rrule, slot.stations, slot.line,
                                   slot.start))
    if p.items:
        raise ConfigError(p.items)
    catalogue = Catalogue(path, month[0], month[1], tz_name, None, tuple(segments), tuple(slots))
    check_rules(p, catalogue)
    if p.items:
        raise ConfigError(p.items)
    return catalogue
