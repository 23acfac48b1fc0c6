"""radio_protocol.messages.event: the airing event's parser refuses each bad member with
its reason; the builder writes what the parser reads."""

from __future__ import annotations

import copy
from datetime import timedelta, timezone
from typing import Any

import pytest

from radio_protocol.errors import CommuneRadioError, EventError, MessageError
from radio_protocol.messages.event import (
    SILENCE_FLOOR_DBFS,
    AiringEvent,
    Amp,
    Level,
    Segment,
    build_event,
    parse_event,
)
from radio_protocol.timefmt import parse_rfc3339

ICT = timezone(timedelta(hours=7))
STARTED = "2024-03-05T06:30:00.012+07:00"


def good() -> dict[str, Any]:
    return {
        "v": 1, "type": "airing", "district": "kon-ray", "station": "dak-koi-01", "commune": "23335",
        "seq": 2, "prev": "a" * 64,
        "segment": {"id": "cds-a", "title": "Chuyển đổi số", "program": "chuyen-doi-so", "topic": "policy",
                    "sha256": "b" * 64},
        "priority": "normal", "schedule_version": 7, "slot": "2024-03-05T06:30:00.000+07:00",
        "started_at": STARTED, "ended_at": "2024-03-05T06:35:01.230+07:00", "played_s": 301.2,
        "media_s": 301.2, "outcome": "completed", "reason": None,
        "amp": {"on_at": STARTED, "off_at": STARTED, "confirmed": None},
        "level": {"rms_dbfs": -18.2, "peak_dbfs": -1.0, "silent_s": 0.4},
        "clock_synced": True, "boot_id": "boot", "sw": "0.1.0",
    }


def changed(path: str, value: Any) -> dict[str, Any]:
    """``good()`` with member ``path`` (``a.b`` for nested) set to ``value``, or removed for ...."""
    payload = good()
    *parents, name = path.split(".")
    target = payload
    for parent in parents:
        target = target[parent]
    if value is ...:
        del target[name]
    else:
        target[name] = value
    return payload


BAD = [
    ("v", 2, "v: must be 1, got 2"),
    ("v", ..., "v: missing (required)"),
    ("type", "status", 'type: must be "airing", got \'status\''),
    ("district", 7, "district: must be a string, got 7"),
    ("commune", ..., "commune: missing (required)"),
    ("boot_id", None, "boot_id: must be a string, got None"),
    ("seq", 0, "seq: must be an integer >= 1, got 0"),
    ("seq", True, "seq: must be an integer >= 1, got True"),
    ("seq", "3", "seq: must be an integer >= 1, got '3'"),
    ("prev", "abc", "prev: must be null or a hex SHA-256, got 'abc'"),
    ("segment", [], "segment: must be an object, got []"),
    ("segment.id", ..., "segment.id: missing or not a string"),
    ("segment.program", 3, "segment.program: missing or not a string"),
    ("segment.title", 3, "segment.title: must be a string, got 3"),
    ("priority", "urgent", "priority: must be normal or priority or emergency, got 'urgent'"),
    ("schedule_version", "7", "schedule_version: must be an integer or null, got '7'"),
    ("outcome", ..., "outcome: missing (required)"),
    ("outcome", "done", "outcome: must be completed or interrupted or failed or missed, got 'done'"),
    ("reason", 5, "reason: must be a string or null, got 5"),
    ("clock_synced", 1, "clock_synced: must be true or false, got 1"),
    ("played_s", "301", "played_s: must be a number, got '301'"),
    ("played_s", False, "played_s: must be a number, got False"),
    ("media_s", "x", "media_s: must be a number or null, got 'x'"),
    ("amp", None, "amp: must be an object, got None"),
    ("level", 3, "level: must be an object or null, got 3"),
    ("slot", ..., "slot: missing (required)"),
    ("started_at", ..., "started_at: missing (required)"),
    ("started_at", "2024-03-05T06:30:00", "started_at: not an RFC 3339 time with offset: '2024-03-05T06:30:00'"),
    ("started_at", None, "started_at: not an RFC 3339 time with offset: None"),
    ("ended_at", "soon", "ended_at: not an RFC 3339 time with offset: 'soon'"),
    ("slot", 5, "slot: not an RFC 3339 time with offset: 5"),
    ("amp.on_at", "06:29", "amp.on_at: not an RFC 3339 time with offset: '06:29'"),
    ("amp.confirmed", "yes", "amp.confirmed: must be true, false or null, got 'yes'"),
    ("level.rms_dbfs", "loud", "level.rms_dbfs: must be a number or null, got 'loud'"),
]


@pytest.mark.parametrize(("path", "value", "detail"), BAD, ids=[f"{p}={v!r}" for p, v, _ in BAD])
def test_event_parser_refuses_bad_member(path: str, value: Any, detail: str) -> None:
    with pytest.raises(EventError) as info:
        parse_event(changed(path, value))
    assert info.value.reason == "invalid-event"
    assert info.value.detail == detail
    assert isinstance(info.value, MessageError) and isinstance(info.value, CommuneRadioError)


def test_event_parser_refuses_a_non_object() -> None:
    with pytest.raises(EventError, match="payload: must be an object"):
        parse_event([1, 2])  # type: ignore[arg-type]


@pytest.mark.parametrize(("path", "value"), [
    ("started_at", None),  # a missed or failed slot never started
    ("segment.topic", ...), ("segment.title", ...), ("segment.sha256", None),
    ("level", None), ("amp.confirmed", True), ("schedule_version", None), ("slot", None),
    ("unknown_member", {"future": True}),
])
def test_event_parser_accepts_optional_and_unknown_members(path: str, value: Any) -> None:
    payload = changed(path, value)
    if path == "started_at":
        payload["outcome"], payload["reason"] = "missed", "station-down"
    event = parse_event(payload)
    assert event.seq == 2 and event.station == "dak-koi-01"


def test_event_parser_reads_every_member() -> None:
    event = parse_event(good())
    assert event.segment == Segment("cds-a", "Chuyển đổi số", "chuyen-doi-so", "policy", "b" * 64, "normal")
    assert event.started_at == parse_rfc3339(STARTED) and event.slot_at is not None
    assert event.amp == Amp(parse_rfc3339(STARTED), parse_rfc3339(STARTED), None)
    assert event.level == Level(-18.2, -1.0, 0.4)
    assert (event.outcome, event.reason, event.clock_synced, event.sw) == ("completed", None, True, "0.1.0")


def test_event_builder_round_trips_and_keeps_member_order() -> None:
    payload = good()
    built = build_event(parse_event(payload))
    assert built == payload and list(built) == list(payload)
    assert list(built["segment"]) == ["id", "title", "program", "topic", "sha256"]


def test_event_builder_writes_times_in_tz_rounds_and_floors_silence() -> None:
    event = AiringEvent(
        district="kon-ray", station="s", commune="1", seq=1, prev=None,
        segment=Segment("x", "X", "p"), priority="normal", schedule_version=None, slot_at=None,
        started_at=parse_rfc3339("2024-03-04T23:30:00.0123Z"), ended_at=None, played_s=1.23456,
        media_s=None, outcome="interrupted", reason="shutdown", amp=Amp(), level=Level(float("-inf"), float("nan"), 2.0),
        clock_synced=False, boot_id="b",
    )
    built = build_event(event, ICT)
    assert built["started_at"] == "2024-03-05T06:30:00.012+07:00"
    assert built["played_s"] == 1.235 and built["segment"] == {"id": "x", "title": "X", "program": "p", "sha256": None}
    assert built["level"] == {"rms_dbfs": SILENCE_FLOOR_DBFS, "peak_dbfs": None, "silent_s": 2.0}
    assert parse_event(built).reason == "shutdown"


@pytest.mark.parametrize(("change", "message"), [
    ({"outcome": "aired"}, "unknown outcome"),
    ({"priority": "urgent"}, "unknown priority"),
    ({"reason": "media-missing"}, "with reason"),
    ({"outcome": "failed"}, "with reason None"),
])
def test_event_builder_refuses_what_breaks_the_protocol(change: dict[str, Any], message: str) -> None:
    event = parse_event(good())
    fields = {**event.__dict__, **change}
    with pytest.raises(ValueError, match=message):
        build_event(AiringEvent(**fields))


def test_event_parser_does_not_change_its_input() -> None:
    payload = good()
    before = copy.deepcopy(payload)
    parse_event(payload)
    assert payload == before
