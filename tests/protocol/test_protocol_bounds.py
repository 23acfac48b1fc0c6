"""The bounds of docs/protocol.md ("Bounds"): every reader refuses, with its own error and
quickly, what is out of them: deep JSON, huge integers, long strings, NaN, times out of
range, long timezone names, a segment id that is not a string, a rule that never fires.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from mqtt_broker import make_airing_payload
from schedule_testkit import payload, segment

from radio_protocol.errors import EventError, JoseError, ScheduleError, StatusError
from radio_protocol.jose import KeyRing, Signer, verify
from radio_protocol.jsonlimits import JsonLimitError, json_depth, loads_bounded
from radio_protocol.messages.ack import parse_ack
from radio_protocol.messages.event import parse_event
from radio_protocol.messages.status import parse_status
from radio_protocol.names import EVENT_TYP, MAX_JSON_DEPTH, MAX_SEQ
from radio_protocol.schedule.parse import parse_schedule
from radio_protocol.timefmt import parse_rfc3339, zone

SIGNER = Signer(Ed25519PrivateKey.generate())
RING = KeyRing.from_jwks([SIGNER.public_jwk])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1000, 60_000])
def test_bounds_deep_payload_is_bad_payload_not_recursion(depth: int) -> None:
    jws = SIGNER.sign(b"[" * depth + b"]" * depth, EVENT_TYP)
    with pytest.raises(JoseError) as info:
        verify(jws, RING, EVENT_TYP, max_bytes=1 << 20)
    assert info.value.reason == "bad-payload" and "nested more than" in info.value.detail


def test_bounds_deep_jws_and_header_are_bad_json() -> None:
    for raw in (b"[" * 50_000, ('{"protected":"' + _b64(b"[" * 40_000) + '","payload":"","signature":""}').encode()):
        with pytest.raises(JoseError) as info:
            verify(raw, RING, EVENT_TYP, max_bytes=1 << 20)
        assert info.value.reason == "bad-json"


def test_bounds_json_depth_counts_only_brackets_outside_strings() -> None:
    text = '{"a":"' + "[" * 100 + '","b":[[1]]}'
    assert json_depth(text) == 3
    assert loads_bounded(text)["b"] == [[1]]
    with pytest.raises(JsonLimitError):
        loads_bounded('{"x": NaN}')
    started = time.monotonic()
    assert json_depth("[" * 40 + '"\\"' * 30_000) <= MAX_JSON_DEPTH + 1  # unterminated: linear
    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize(("member", "value", "detail"), [
    ("seq", 2**63, "seq: must be at most 9223372036854775807 (2**63 - 1), got 9223372036854775808"),
    ("seq", 10**400, "seq: must be at most"),
    ("station", "s" * 129, "station: must be at most 128 characters, got 129"),
    ("reason", "r" * 200, "reason: must be at most 128 characters"),
    ("schedule_version", 2**64, "schedule_version: must be an integer or null"),
    ("played_s", 10**400, "played_s: must be a number"),
    ("started_at", "0001-01-01T00:00:00+01:00", "started_at: not an RFC 3339 time"),
])
def test_bounds_event_out_of_range_is_invalid_event(member: str, value: Any, detail: str) -> None:
    p = make_airing_payload("dak-koi-01", 1, None, outcome="interrupted", reason="shutdown")
    p[member] = value
    with pytest.raises(EventError) as info:
        parse_event(p)
    assert info.value.detail.startswith(detail)


def test_bounds_event_at_the_limits_is_accepted() -> None:
    p = make_airing_payload("dak-koi-01", MAX_SEQ, None)
    p["segment"]["title"] = "t" * 600
    assert parse_event(p).seq == MAX_SEQ


def test_bounds_status_and_ack_refuse_huge_integers_and_strings() -> None:
    status = {"v": 1, "type": "status", "station": "dak-koi-01", "state": "online",
              "at": "2024-03-05T06:40:00.000+07:00"}
    for extra in ({"last_seq": 2**63}, {"schedule_error": "e" * 601}, {"uptime_s": 10**400}):
        with pytest.raises(StatusError):
            parse_status({**status, **extra})
    for bad in ({"through": 2**63}, {"also": [2**64]}, {"station": "s" * 129}):
        with pytest.raises(Exception) as info:
            parse_ack({"v": 1, "type": "ack", "station": "dak-koi-01", **bad})
        assert getattr(info.value, "reason", None) == "invalid-ack"


def test_bounds_timezone_too_long_is_a_value_error_not_oserror() -> None:
    with pytest.raises(ValueError, match="unknown IANA timezone"):
        zone("A" * 300)
    with pytest.raises(ScheduleError) as info:
        parse_schedule(payload(timezone="Asia/" + "x" * 300))
    assert any(p.startswith("timezone: unknown IANA timezone") for p in info.value.problems)
    with pytest.raises(ValueError):
        parse_rfc3339("2024-03-05T06:40:00" + "0" * 100 + "+07:00")


def test_bounds_segment_id_that_is_a_list_is_a_schedule_error() -> None:
    with pytest.raises(ScheduleError) as info:
        parse_schedule(payload(segments=[{**segment(), "id": ["cds-a"]}]))
    assert any(p.startswith("segments[0].id:") for p in info.value.problems)


@pytest.mark.parametrize("rule", ["FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
                                  "FREQ=HOURLY;BYMONTH=4;BYMONTHDAY=31", "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=9"])
def test_bounds_never_firing_rule_is_refused_quickly(rule: str) -> None:
    started = time.monotonic()
    with pytest.raises(ScheduleError) as info:
        parse_schedule(payload(slots=[{"segment": "cds-a", "rrule": rule,
                                       "dtstart": "2024-03-01T06:30:00+07:00"}]))
    assert time.monotonic() - started < 0.2  # was 0.5 to 15 s: dateutil searched to 9999
    assert info.value.reason == "bad-rrule"
    assert info.value.problems == [f"slots[0].rrule: {rule!r} never fires between valid_from "
                                   "2024-03-01 and valid_until 2024-03-31"]
