"""radio_protocol.messages.status and .ack: each parser refuses bad payloads with its
reason; each builder writes what its parser reads."""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Any

import pytest

from radio_protocol.errors import AckError, MessageError, StatusError
from radio_protocol.messages.ack import MAX_ACK_ALSO, Ack, build_ack, parse_ack, within_recorded
from radio_protocol.messages.status import Status, build_status, parse_status
from radio_protocol.timefmt import parse_rfc3339

ICT = timezone(timedelta(hours=7))
AT = "2024-03-05T07:00:00.000+07:00"


def status(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "v": 1, "type": "status", "station": "dak-koi-01", "state": "online", "at": AT,
        "schedule_version": 7, "schedule_error": None, "next_slot": "2024-03-05T17:00:00.000+07:00",
        "media_missing": [], "outbox_pending": 0, "last_seq": 42, "clock_synced": True, "amp": "off",
        "sw": "0.1.0", "uptime_s": 12.5,
    }
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not ...}


BAD_STATUS = [
    ({"type": "ack"}, "needs type status and state online or offline"),
    ({"type": ...}, "needs type status and state online or offline"),
    ({"state": "asleep"}, "needs type status and state online or offline"),
    ({"state": ...}, "needs type status and state online or offline"),
    ({"v": 2}, "v: must be 1, got 2"),
    ({"station": None}, "station: must be a string, got None"),
    ({"at": "07:00"}, "at: not an RFC 3339 time: '07:00'"),
    ({"at": ...}, "at: not an RFC 3339 time: None"),
    ({"at": "2024-03-05T07:00:00"}, "at: not an RFC 3339 time: '2024-03-05T07:00:00'"),
    ({"schedule_version": "7"}, "schedule_version: must be an integer or null, got '7'"),
    ({"schedule_error": 3}, "schedule_error: must be a string or null, got 3"),
    ({"next_slot": "tomorrow"}, "next_slot: not an RFC 3339 time: 'tomorrow'"),
    ({"media_missing": "cds-a"}, "media_missing: must be a list of segment ids, got 'cds-a'"),
    ({"media_missing": [1]}, "media_missing: must be a list of segment ids, got [1]"),
    ({"outbox_pending": -1}, "outbox_pending: must be an integer >= 0, got -1"),
    ({"last_seq": 1.5}, "last_seq: must be an integer >= 0, got 1.5"),
    ({"clock_synced": "yes"}, "clock_synced: must be true or false, got 'yes'"),
    ({"amp": True}, 'amp: must be "on" or "off", got True'),
    ({"sw": 1}, "sw: must be a string, got 1"),
    ({"uptime_s": "1h"}, "uptime_s: must be a number of seconds, got '1h'"),
]


@pytest.mark.parametrize(("changes", "detail"), BAD_STATUS, ids=[str(c) for c, _ in BAD_STATUS])
def test_status_parser_refuses_bad_member(changes: dict[str, Any], detail: str) -> None:
    with pytest.raises(StatusError) as info:
        parse_status(status(**changes))
    assert info.value.reason == "invalid-status" and info.value.detail == detail
    assert isinstance(info.value, MessageError)


def test_status_parser_needs_only_type_station_state_at() -> None:
    minimal = {"type": "status", "station": "s", "state": "offline", "at": AT}
    parsed = parse_status(minimal)
    assert parsed == Status("s", "offline", parse_rfc3339(AT), sw=None)
    assert parse_status({**minimal, "future_member": [1]}).state == "offline"


def test_status_builder_round_trips_in_order() -> None:
    payload = status()
    built = build_status(parse_status(payload))
    assert built == payload and list(built) == list(payload)


def test_status_builder_normalises_and_converts_times() -> None:
    built = build_status(Status("s", "online", parse_rfc3339("2024-03-05T00:00:00Z"), amp_on=True,
                                outbox_pending=3, last_seq=9, clock_synced=True, uptime_s=-4.0,
                                media_missing=("b", "a")), ICT)
    assert built["at"] == "2024-03-05T07:00:00.000+07:00" and built["amp"] == "on"
    assert built["uptime_s"] == 0.0 and built["media_missing"] == ["b", "a"]
    with pytest.raises(ValueError, match="state must be one of"):
        build_status(Status("s", "asleep", parse_rfc3339(AT)))


def ack(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"v": 1, "type": "ack", "station": "dak-koi-01", "through": 40,
                               "also": [44, 42, 42], "at": AT}
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not ...}


BAD_ACK = [
    ({"type": "status"}, "type 'status' is not ack"),
    ({"type": ...}, "type None is not ack"),
    ({"station": "other"}, "ack names station 'other', not ours"),
    ({"v": 2}, "v must be 1, got 2"),
    ({"through": -1}, "through must be an integer >= 0, got -1"),
    ({"through": "10"}, "through must be an integer >= 0, got '10'"),
    ({"through": True}, "through must be an integer >= 0, got True"),
    ({"also": 42}, "also must be a list of seqs"),
    ({"also": list(range(1, MAX_ACK_ALSO + 2))}, "also must be a list of seqs"),
    ({"also": [0]}, "also holds a bad seq 0"),
    ({"also": [False]}, "also holds a bad seq False"),
    ({"also": ["3"]}, "also holds a bad seq '3'"),
    ({"at": "later"}, "at is not an RFC 3339 time with offset: 'later'"),
]


@pytest.mark.parametrize(("changes", "detail"), BAD_ACK, ids=[str(c)[:40] for c, _ in BAD_ACK])
def test_ack_parser_refuses_bad_member(changes: dict[str, Any], detail: str) -> None:
    with pytest.raises(AckError) as info:
        parse_ack(ack(**changes), "dak-koi-01")
    assert info.value.reason == "invalid-ack" and info.value.detail == detail
    assert isinstance(info.value, MessageError) and not isinstance(info.value, ValueError)


def test_ack_parser_sorts_also_and_defaults_to_nothing_acknowledged() -> None:
    assert parse_ack(ack(), "dak-koi-01") == Ack("dak-koi-01", 40, (42, 44), parse_rfc3339(AT))
    assert parse_ack(ack(through=..., also=..., at=...)) == Ack("dak-koi-01", 0, (), None)
    with pytest.raises(AckError, match="station must be a string"):
        parse_ack(ack(station=None))


def test_ack_builder_round_trips() -> None:
    payload = ack(also=[42, 44])
    built = build_ack(parse_ack(payload))
    assert built == payload and list(built) == list(payload)
    assert build_ack(Ack("s", 3, (5,), parse_rfc3339("2024-03-05T00:00:00Z")), ICT)["at"] == AT


@pytest.mark.parametrize(("through", "also", "last_seq", "expected"), [
    (40, [42], 50, None),
    (40, [42], 41, (40, [])),
    (60, [61, 70], 50, (50, [])),
    (10, [12, 15], 12, (10, [12])),
])
def test_ack_within_recorded_never_covers_unrecorded_seqs(
        through: int, also: list[int], last_seq: int, expected: tuple[int, list[int]] | None) -> None:
    assert within_recorded(through, also, last_seq) == expected
