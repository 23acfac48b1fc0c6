"""radio_protocol.schedule: the parser refuses each bad payload with its reason and every
problem named; the builder writes what the parser reads; expansion is shared."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from radio_protocol.errors import MessageError, ScheduleError
from radio_protocol.schedule.build import build_schedule, media_from, slot_member
from radio_protocol.schedule.expand import expand, next_slots
from radio_protocol.schedule.model import Media, Schedule, ScheduleSegment, SlotRule
from radio_protocol.schedule.parse import check_media_url, parse_schedule
from radio_protocol.timefmt import parse_rfc3339, zone

MEDIA = {"sha256": "a" * 64, "url": "https://d.example/m.mp3", "bytes": 10, "duration_s": 5.0}


def good() -> dict[str, Any]:
    return {
        "v": 1, "type": "schedule", "district": "kon-ray", "station": "dak-koi-01", "version": 8,
        "issued_at": "2024-02-25T09:00:00.000+07:00", "valid_from": "2024-03-01", "valid_until": "2024-03-31",
        "timezone": "Asia/Ho_Chi_Minh",
        "segments": [{"id": "a", "title": "A", "program": "chuyen-doi-so", "topic": "policy", "priority": "normal",
                      "media": dict(MEDIA)}],
        "slots": [{"segment": "a", "at": "2024-03-05T06:30:00.000+07:00"},
                  {"segment": "a", "rrule": "FREQ=WEEKLY;BYDAY=TU", "dtstart": "2024-03-01T17:00:00.000+07:00"}],
    }


def changed(path: str, value: Any) -> dict[str, Any]:
    """``good()`` with ``path`` (``segments.0.media.url``, ``slots.1.rrule``) set to ``value``."""
    payload = good()
    *parents, name = path.split(".")
    target: Any = payload
    for parent in parents:
        target = target[int(parent)] if parent.isdigit() else target[parent]
    target[name] = value
    return payload


NO_OFFSET = "not an RFC 3339 time with offset: time without offset"
BAD = [
    ("version", 0, "bad-schedule", "version: must be an integer >= 1, got 0"),
    ("v", 2, "bad-schedule", "v/type: expected v 1 and type 'schedule', got 2/'schedule'"),
    ("district", "Kon Ray", "bad-schedule", "district: 'Kon Ray' does not match ^[a-z0-9-]{1,32}$"),
    ("timezone", "Mars/Base", "bad-schedule", "timezone: unknown IANA timezone 'Mars/Base'"),
    ("valid_from", "2024-3-1", "bad-schedule", "valid_from: not a YYYY-MM-DD date: '2024-3-1'"),
    ("valid_until", "2025-12-31", "bad-schedule", "valid_until: must be 0..400 days after valid_from"),
    ("issued_at", "2024-02-25", "bad-schedule", f"issued_at: {NO_OFFSET}: '2024-02-25'"),
    ("slots", {}, "bad-schedule", "slots: must be a list"),
    ("segments.0.media.url", "file:///etc/passwd", "bad-schedule",
     "segments[0].media.url: scheme 'file' not allowed (http or https only)"),
    ("segments.0.media.url", "https://d.example/../x", "bad-schedule",
     "segments[0].media.url: path climbs with '..' (path traversal)"),
    ("segments.0.media.sha256", "ABC", "bad-schedule", "segments[0].media.sha256: 'ABC' does not match ^[0-9a-f]{64}$"),
    ("segments.0.media.bytes", 0, "bad-schedule", "segments[0].media.bytes: must be an integer 1..1073741824, got 0"),
    ("segments.0.media.duration_s", 0, "bad-schedule",
     "segments[0].media.duration_s: must be a number of seconds in (0, 21600], got 0"),
    ("segments.0.media", None, "bad-schedule", "segments[0].media: must be an object with sha256, url, bytes, duration_s"),
    ("segments.0.priority", "urgent", "bad-schedule",
     "segments[0].priority: must be one of normal, priority, emergency, got 'urgent'"),
    ("segments.0.program", "Chuyen", "bad-schedule",
     "segments[0].program: 'Chuyen' does not match ^[a-z0-9][a-z0-9-]{0,63}$"),
    ("segments.0.title", "", "bad-schedule", "segments[0].title: must be a string of 1..300 characters, got ''"),
    ("slots.0.segment", "zzz", "bad-schedule", "slots[0].segment: unknown segment 'zzz'"),
    ("slots.0.at", "2024-03-05T06:30:00", "bad-schedule", f"slots[0].at: {NO_OFFSET}: '2024-03-05T06:30:00'"),
    ("slots.0.rrule", "FREQ=DAILY", "bad-schedule", "slots[0]: needs exactly one of 'at' or 'rrule'"),
    ("slots.1.rrule", "FREQ=MINUTELY;INTERVAL=5", "bad-rrule",
     "slots[1].rrule: fires every 5 minute(s); at most once every 15 minutes"),
    ("slots.1.rrule", "FREQ=SECONDLY", "bad-rrule", "slots[1].rrule: FREQ=SECONDLY is not allowed"),
    ("slots.1.rrule", "FREQ=DAILY;COUNT=3;UNTIL=20240331T000000Z", "bad-schedule",
     "slots[1].rrule: malformed RRULE 'FREQ=DAILY;COUNT=3;UNTIL=20240331T000000Z': COUNT and UNTIL must not both be given"),
    ("slots.1.rrule", "FREQ=SOMETIMES", "bad-schedule",
     "slots[1].rrule: malformed RRULE 'FREQ=SOMETIMES': invalid 'FREQ': SOMETIMES"),
    ("slots.1.dtstart", "2022-01-01T00:00:00.000+07:00", "bad-rrule",
     "slots[1].dtstart: 2022-01-01T00:00:00+07:00 is more than 400 days before valid_from"),
]


@pytest.mark.parametrize(("path", "value", "reason", "problem"), BAD, ids=[f"{p}={v!r}"[:50] for p, v, _, _ in BAD])
def test_schedule_parser_refuses_bad_member(path: str, value: Any, reason: str, problem: str) -> None:
    with pytest.raises(ScheduleError) as info:
        parse_schedule(changed(path, value))
    assert info.value.reason == reason and info.value.problems == [problem]
    assert isinstance(info.value, MessageError) and info.value.detail == problem


@pytest.mark.parametrize(("rule", "words"), [
    ("FREQ=WEEKLY;UNTIL=20240331", "is a date; give a date-time"),
    ("DTSTART:20240101T000000\nRRULE:FREQ=DAILY", "one RRULE line only"),
    ("FREQ=DAILY;EXDATE=20240305", "one RRULE line only"),
])
def test_schedule_parser_refuses_what_rfc5545_allows_but_we_do_not(rule: str, words: str) -> None:
    with pytest.raises(ScheduleError) as info:
        parse_schedule(changed("slots.1.rrule", rule))
    assert info.value.reason == "bad-schedule" and words in info.value.problems[0]


def test_schedule_parser_lists_every_problem_at_once() -> None:
    payload = changed("version", -1)
    payload["segments"].append(dict(payload["segments"][0]))
    payload["slots"][0]["segment"] = "nope"
    with pytest.raises(ScheduleError) as info:
        parse_schedule(payload)
    assert info.value.problems == ["version: must be an integer >= 1, got -1",
                                   "segments: segment id 'a' appears 2 times",
                                   "slots[0].segment: unknown segment 'nope'"]
    assert str(info.value).startswith("bad-schedule: version: ")


def test_schedule_parser_caps_slots_per_month() -> None:
    payload = good()
    payload["slots"] = [{"segment": "a", "at": f"2024-03-{day:02d}T{hour:02d}:{minute:02d}:00+07:00"}
                        for day in range(1, 31) for hour in range(6, 18) for minute in (0, 30, 45)]
    with pytest.raises(ScheduleError) as info:
        parse_schedule(payload)
    assert info.value.reason == "bad-rrule"
    assert info.value.problems == ["slots: 1080 slots in 2024-03 (all entries together); at most 1000"]


@pytest.mark.parametrize(("url", "why"), [
    ("https://d.example/m.mp3", None),
    ("ftp://d.example/m.mp3", "scheme 'ftp' not allowed (http or https only)"),
    ("https://user:pw@d.example/m", "must not carry credentials"),
    ("https:///m.mp3", "has no host"),
    ("https://d.example/a b", "contains spaces, control characters or backslashes"),
    ("https://d.example/%252e%252e/x", "path climbs with '..' (path traversal)"),
])
def test_schedule_media_url_rule(url: str, why: str | None) -> None:
    assert check_media_url(url) == why


def test_schedule_builder_round_trips_in_order() -> None:
    payload = good()
    schedule = parse_schedule(payload)
    built = build_schedule(schedule)
    assert built == payload and list(built) == list(payload)
    assert parse_schedule(built) == schedule


def test_schedule_builder_writes_a_model_made_by_hand() -> None:
    tz = zone("Asia/Ho_Chi_Minh")
    segment = ScheduleSegment("b", "B", "tin-tuc", None, "emergency", media_from(MEDIA))
    at = parse_rfc3339("2024-03-04T23:30:00Z")
    schedule = Schedule("kon-ray", "dak-koi-01", 1, at, date(2024, 3, 1), date(2024, 3, 31), "Asia/Ho_Chi_Minh",
                        (segment,), (SlotRule(0, "b", at=at),))
    built = build_schedule(schedule)
    assert built["segments"][0]["topic"] is None and built["segments"][0]["media"] == MEDIA
    assert built["slots"] == [{"segment": "b", "at": "2024-03-05T06:30:00.000+07:00"}]
    assert parse_schedule(built).segments[0].media == Media("a" * 64, MEDIA["url"], 10, 5.0)
    with pytest.raises(ValueError, match="neither"):
        slot_member(SlotRule(3, "b"), tz)


def test_schedule_expand_is_shared_and_pure() -> None:
    schedule = parse_schedule(good())
    slots = expand(schedule)
    assert [s.at.strftime("%d %H:%M") for s in slots][:3] == ["05 06:30", "05 17:00", "12 17:00"]
    assert len(slots) == 1 + 4  # one fixed slot, Tuesdays 5, 12, 19, 26 March
    assert all(s.segment.id == "a" for s in slots) and slots[0].key == "a@2024-03-04T23:30:00.000000Z"
    later = next_slots(schedule, slots[1].at + timedelta(seconds=1), count=2)
    assert [s.at for s in later] == [slots[2].at, slots[3].at]
