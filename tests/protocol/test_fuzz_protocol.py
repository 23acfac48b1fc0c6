"""Fuzz targets of radio_protocol's parsers (tests/fuzzkit.py): only the declared error escapes.

JWS envelopes (``jose.verify``: JoseError), bounded JSON (``loads_bounded``: ValueError),
event / status / ack payloads (EventError / StatusError / AckError, after the JWS verified),
schedule payloads including their rules (ScheduleError).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from fuzzkit import MEMBER_VALUES, FuzzRecorder, json_bytes, mutated, scaled  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from mqtt_broker import make_airing_payload  # noqa: E402
from schedule_testkit import payload as schedule_payload  # noqa: E402

from radio_protocol.errors import AckError, EventError, JoseError, ScheduleError, StatusError  # noqa: E402
from radio_protocol.jose import KeyRing, Signer, verify  # noqa: E402
from radio_protocol.jsonlimits import loads_bounded  # noqa: E402
from radio_protocol.messages.ack import parse_ack  # noqa: E402
from radio_protocol.messages.event import parse_event  # noqa: E402
from radio_protocol.messages.status import parse_status  # noqa: E402
from radio_protocol.names import EVENT_TYP  # noqa: E402
from radio_protocol.schedule.parse import parse_schedule  # noqa: E402

SIGNER = Signer(Ed25519PrivateKey.generate())
RING = KeyRing.from_jwks([SIGNER.public_jwk])
GOOD = json.loads(SIGNER.sign(make_airing_payload("dak-koi-01", 1, None), EVENT_TYP))
STATUS = {"v": 1, "type": "status", "station": "dak-koi-01", "state": "online", "at": "2024-03-05T06:40:00.000+07:00",
          "schedule_version": 7, "schedule_error": None, "next_slot": None, "media_missing": [], "outbox_pending": 0,
          "last_seq": 42, "clock_synced": True, "amp": "off", "sw": "0.1.0", "uptime_s": 1.0}
ACK = {"v": 1, "type": "ack", "station": "dak-koi-01", "through": 40, "also": [42], "at": "2024-03-05T06:35:03.120+07:00"}
RULES = st.sampled_from(["FREQ=", "DAILY", "WEEKLY", "YEARLY", "HOURLY", "MINUTELY", "SECONDLY", ";BYMONTH=2",
                         ";BYMONTHDAY=30", ";BYDAY=MO", ";BYDAY=5MO", ";BYSETPOS=-1", ";INTERVAL=", "0", "15", "99999",
                         ";COUNT=3", ";UNTIL=20240331T235959Z", ";UNTIL=2024", ";BYHOUR=25", ";BYWEEKNO=53",
                         ";BYYEARDAY=366", ";WKST=SU", "RRULE:", "\n", ";", "=", ",", "X"])


@pytest.fixture
def fuzz(request: pytest.FixtureRequest) -> Iterator[FuzzRecorder]:
    recorder = FuzzRecorder(request.node.name.removeprefix("test_fuzz_"))
    yield recorder
    recorder.save()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@st.composite
def envelopes(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.binary(max_size=300))
    if kind == 1:  # a real JWS with one member replaced by anything
        jws: dict[str, Any] = dict(GOOD)
        jws[draw(st.sampled_from(["protected", "payload", "signature", "header"]))] = draw(MEMBER_VALUES)
        return json.dumps(jws).encode()
    if kind == 2:  # a header or payload of any JSON, base64url-encoded, signed or not
        header = draw(st.one_of(MEMBER_VALUES, st.fixed_dictionaries(
            {"alg": st.sampled_from(["EdDSA", "none", "HS256"]), "kid": st.sampled_from([SIGNER.kid, "x"]),
             "typ": st.sampled_from([EVENT_TYP, "JWT"])})))
        body = draw(st.binary(max_size=200) | st.builds(lambda v: json.dumps(v).encode(), MEMBER_VALUES))
        return json.dumps({"protected": _b64(json.dumps(header).encode()), "payload": _b64(body),
                           "signature": GOOD["signature"]}).encode()
    depth = draw(st.integers(1, 5000))  # deep nesting, signed correctly
    return SIGNER.sign(b"[" * depth + b"]" * depth, EVENT_TYP)


@given(envelopes())
def test_fuzz_jws_envelope(fuzz: FuzzRecorder, raw: bytes) -> None:
    with fuzz.case(JoseError):
        verify(raw, RING, EVENT_TYP)


@given(st.binary(max_size=400) | st.text(alphabet="[]{}\":,\\0aN ", max_size=400))
def test_fuzz_json_bounded(fuzz: FuzzRecorder, data: bytes | str) -> None:
    with fuzz.case(ValueError, reason=lambda exc: ""):
        loads_bounded(data)


@given(mutated(make_airing_payload("dak-koi-01", 1, None)))
def test_fuzz_event_payload(fuzz: FuzzRecorder, p: dict[str, Any]) -> None:
    with fuzz.case(EventError):
        parse_event(verify(SIGNER.sign(json_bytes(p), EVENT_TYP), RING, EVENT_TYP).payload)


@given(mutated(STATUS))
def test_fuzz_status_payload(fuzz: FuzzRecorder, p: dict[str, Any]) -> None:
    with fuzz.case(StatusError):
        parse_status(p)


@given(mutated(ACK))
def test_fuzz_ack_payload(fuzz: FuzzRecorder, p: dict[str, Any]) -> None:
    with fuzz.case(AckError):
        parse_ack(p, "dak-koi-01")


@st.composite
def schedules(draw: st.DrawFn) -> dict[str, Any]:
    p = draw(mutated(schedule_payload(slots=[
        {"segment": "cds-a", "at": "2024-03-05T06:30:00+07:00"},
        {"segment": "cds-a", "rrule": "FREQ=WEEKLY;BYDAY=TU,FR", "dtstart": "2024-03-01T17:00:00+07:00"}]), depth=3))
    if draw(st.booleans()) and isinstance(p.get("slots"), list) and len(p["slots"]) > 1 \
            and isinstance(p["slots"][1], dict):
        p["slots"][1]["rrule"] = "".join(draw(st.lists(RULES, min_size=1, max_size=8)))
    return p


@scaled(0.5)
@given(schedules())
def test_fuzz_schedule_payload(fuzz: FuzzRecorder, p: dict[str, Any]) -> None:
    with fuzz.case(ScheduleError):
        parse_schedule(p)
