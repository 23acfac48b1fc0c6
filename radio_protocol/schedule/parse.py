"""The one parser of schedule payloads: :func:`parse_schedule` (docs/protocol.md, "schedule").

It turns a verified payload dict into a :class:`~radio_protocol.schedule.model.Schedule`
or raises :class:`~radio_protocol.errors.ScheduleError` listing every problem (each naming
the member, e.g. ``slots[3].rrule``). Nothing half-parsed ever reaches a scheduler: a
station keeps its previous schedule when this raises.

Rejected on purpose (a public loudspeaker must not be turned into a siren):
- a recurrence rule that fires more often than every ``MIN_INTERVAL_S`` seconds or
  yields more than ``MAX_SLOTS_PER_MONTH`` occurrences in a calendar month, or that never
  fires between ``valid_from`` and ``valid_until`` (found in bounded time: the search
  stops a month past the validity, :func:`~radio_protocol.schedule.rules.rule_occurrences`);
- a malformed rule, ``DTSTART``/``EXDATE``/``RDATE`` inside the rule (one RRULE line only:
  skip a date by listing the slots with ``at``), ``COUNT`` with ``UNTIL``, a date-only
  ``UNTIL`` (RFC 5545: same value type as DTSTART, e.g. ``UNTIL=20261031T235959Z``);
- a ``dtstart`` more than ``MAX_DTSTART_BEFORE_DAYS`` days before ``valid_from``
  (every evaluation iterates from ``dtstart``: a rule anchored in 1900 would cost seconds);
- more than ``MAX_TOTAL_SLOTS_PER_MONTH`` slots in a calendar month, all entries together;
- times without an offset, dates that are not ``YYYY-MM-DD``, an unknown timezone;
- a slot naming an unknown segment, duplicate segment ids;
- a media URL that is not ``http``/``https`` (``file://``, ``ftp://``...) or whose path
  tries to climb (``..``), and a SHA-256 that is not 64 hex digits.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from radio_protocol import PRIORITIES
from radio_protocol.errors import ScheduleError
from radio_protocol.schedule.model import (
    MAX_DTSTART_BEFORE_DAYS,
    MAX_MEDIA_BYTES,
    MAX_MEDIA_DURATION_S,
    MAX_TOTAL_SLOTS_PER_MONTH,
    MAX_VALIDITY_DAYS,
    SEGMENT_ID_RE,
    SHA256_RE,
    SLUG_RE,
    Media,
    Schedule,
    ScheduleSegment,
    SegmentLoudness,
    SlotRule,
)
from radio_protocol.schedule.rules import build_rule, check_rule_rate, window_occurrences
from radio_protocol.timefmt import parse_date, parse_rfc3339, zone
from radio_protocol.topics import DISTRICT_RE, STATION_RE


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
    if not isinstance(duration, int | float) or isinstance(duration, bool) or not 0 < duration <= MAX_MEDIA_DURATION_S:
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
    loudness = _parse_loudness(p, raw.get("loudness"), f"{key}.loudness")
    if len(p.problems) > before or media is None:
        return None
    return ScheduleSegment(seg_id, title, program, topic, priority, media, loudness)


def _parse_loudness(p: _Collector, raw: Any, key: str) -> SegmentLoudness | None:
    """The optional ``loudness`` member: LUFS/dBTP numbers in -100..+20 (target may be null)."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        p.add(key, "must be an object with measured_lufs, target_lufs, true_peak_dbtp")
        return None
    values: dict[str, float | None] = {}
    for name in ("measured_lufs", "target_lufs", "true_peak_dbtp"):
        value = raw.get(name)
        if value is None and name == "target_lufs":
            values[name] = None
        elif isinstance(value, int | float) and not isinstance(value, bool) and -100.0 <= value <= 20.0:
            values[name] = float(value)
        else:
            p.add(f"{key}.{name}", f"must be a number in -100..20, got {value!r}")
            return None
    return SegmentLoudness(values["measured_lufs"], values["target_lufs"],  # type: ignore[arg-type]
                           values["true_peak_dbtp"])  # type: ignore[arg-type]


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
        until = _time(p, raw, key, "until", tz) if raw.get("until") is not None else None
        if at is not None and until is not None and until <= at:
            p.add(f"{key}.until", "must be after 'at'")
        if len(p.problems) > before or at is None:
            return None
        return SlotRule(index, str(seg), at=at, until=until)
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
    named: set[str] = {raw["id"] for raw in raw_segments if isinstance(raw, Mapping) and isinstance(raw.get("id"), str)}
    slots: list[SlotRule] = []
    if tz is not None:
        for i, raw in enumerate(raw_slots):
            slot = _parse_slot(p, raw, f"slots[{i}]", i, tz, set(ids) | named)
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
        why = check_rule_rate(build_rule(slot.rrule, slot.dtstart), slot.rrule,
                               schedule.start_at, schedule.end_at)
        if why:
            p.add(f"slots[{slot.index}].rrule", why)
            continue
        occurrences = window_occurrences(slot.rrule, slot.dtstart, schedule.timezone,
                                         schedule.start_at, schedule.end_at)
        if not occurrences:
            p.add(f"slots[{slot.index}].rrule", f"{slot.rrule!r} never fires between valid_from "
                  f"{schedule.valid_from} and valid_until {schedule.valid_until}")
        for occ in occurrences:
            per_month[(occ.year, occ.month)] += 1
    for (year, month), count in sorted(per_month.items()):
        if count > MAX_TOTAL_SLOTS_PER_MONTH:
            p.add("slots", f"{count} slots in {year}-{month:02d} (all entries together); "
                  f"at most {MAX_TOTAL_SLOTS_PER_MONTH}")
    if p.problems:
        raise ScheduleError("bad-rrule", p.problems)
    return schedule
