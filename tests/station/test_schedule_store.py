"""Hostile and broken schedules are refused with a clear error; the previous one stays in force."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from schedule_testkit import SHA_A, new_signer, payload, segment

from firmware_daemon.schedule.store import ScheduleStore
from radio_protocol.errors import ScheduleError
from radio_protocol.jose import KeyRing, Signer, b64url_encode, canonical_json
from radio_protocol.names import ACK_TYP, SCHEDULE_TYP
from radio_protocol.schedule.parse import parse_schedule

NOW = datetime(2024, 3, 1, 1, 0, tzinfo=UTC)
DISTRICT = new_signer()
INTRUDER = new_signer()


def sign(body: dict[str, Any], signer: Signer = DISTRICT, typ: str = SCHEDULE_TYP) -> bytes:
    return signer.sign(body, typ)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ScheduleStore]:
    st = ScheduleStore(tmp_path / "schedule", district="kon-ray", station="dak-koi-01",
                       keys=KeyRing.from_jwks([DISTRICT.public_jwk]))
    assert st.offer(sign(payload(version=2)), NOW).accepted
    yield st
    st.close()


def tampered() -> bytes:
    jws = json.loads(sign(payload(version=3)))
    body = payload(version=3, station="dak-koi-01")
    body["slots"] = [{"segment": "cds-a", "at": "2024-03-05T03:00:00+07:00"}]
    jws["payload"] = b64url_encode(canonical_json(body))
    return canonical_json(jws)


def unsigned_alg_none() -> bytes:
    header = b64url_encode(canonical_json({"alg": "none", "typ": SCHEDULE_TYP}))
    return canonical_json({"protected": header, "payload": b64url_encode(canonical_json(payload(version=3))),
                           "signature": ""})


def oversized() -> bytes:
    body = payload(version=3)
    body["padding"] = "x" * (260 * 1024)
    return sign(body)


HOSTILE: list[tuple[str, Callable[[], bytes], str]] = [
    ("forged-signature", lambda: sign(payload(version=3), INTRUDER), "unknown-kid"),
    ("tampered-payload", tampered, "bad-signature"),
    ("alg-none", unsigned_alg_none, "alg"),
    ("wrong-typ", lambda: sign(payload(version=3), typ=ACK_TYP), "typ"),
    ("other-station", lambda: sign(payload(version=3, station="dak-koi-02")), "dak-koi-02"),
    ("other-district", lambda: sign(payload(version=3, district="dak-ha")), "dak-ha"),
    ("replayed-older", lambda: sign(payload(version=1)), "old-version"),
    ("same-version-other-bytes", lambda: sign(payload(version=2, issued_at="2024-02-26T08:00:00.000+07:00")),
     "already applied"),
    ("oversized", oversized, "too-large"),
    ("not-json", lambda: b"\xff\xfe not json", "bad-json"),
    ("malformed-rrule", lambda: sign(payload(version=3, slots=[
        {"segment": "cds-a", "rrule": "FREQ=FORTNIGHTLY;BYDAY=XX", "dtstart": "2024-03-01T06:00:00+07:00"}])),
     "slots[0].rrule: malformed RRULE"),
    ("every-second", lambda: sign(payload(version=3, slots=[
        {"segment": "cds-a", "rrule": "FREQ=SECONDLY", "dtstart": "2024-03-01T06:00:00+07:00"}])), "SECONDLY"),
    ("every-second-hidden-in-daily", lambda: sign(payload(version=3, slots=[
        {"segment": "cds-a", "rrule": "FREQ=DAILY;BYHOUR=6;BYMINUTE=0,1,2;BYSECOND=0,1,2",
         "dtstart": "2024-03-01T06:00:00+07:00"}])), "at most once every 15 minutes"),
    ("every-5-minutes", lambda: sign(payload(version=3, slots=[
        {"segment": "cds-a", "rrule": "FREQ=MINUTELY;INTERVAL=5", "dtstart": "2024-03-01T06:00:00+07:00"}])),
     "every 5 minute"),
    ("too-many-per-month", lambda: sign(payload(version=3, slots=[
        {"segment": "cds-a", "rrule": "FREQ=MINUTELY;INTERVAL=15", "dtstart": "2024-03-01T06:00:00+07:00"}])),
     "more than 500 occurrences"),
    ("path-traversal-url", lambda: sign(payload(version=3, segments=[
        segment(url="https://district.example/media/../../etc/passwd")])), "path traversal"),
    ("encoded-traversal-url", lambda: sign(payload(version=3, segments=[
        segment(url="https://district.example/media/%2e%2e/%2e%2e/etc/shadow")])), "path traversal"),
    ("file-url", lambda: sign(payload(version=3, segments=[segment(url="file:///etc/passwd")])), "'file'"),
    ("ftp-url", lambda: sign(payload(version=3, segments=[segment(url="ftp://district.example/a.mp3")])),
     "'ftp'"),
    ("unknown-segment", lambda: sign(payload(version=3, slots=[
        {"segment": "nope", "at": "2024-03-05T06:30:00+07:00"}])), "unknown segment 'nope'"),
    ("naive-time", lambda: sign(payload(version=3, slots=[{"segment": "cds-a", "at": "2024-03-05T06:30:00"}])),
     "without offset"),
]


@pytest.mark.parametrize("name,make,expected", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_store_rejects_hostile_schedule_and_keeps_current(store: ScheduleStore, name: str,
                                                          make: Callable[[], bytes], expected: str) -> None:
    before = store.current_jws
    result = store.offer(make(), NOW)
    assert result.status == "rejected"
    assert result.error is not None and expected in result.error, result.error
    assert store.error == result.error
    assert store.version == 2 and store.current_jws == before
    assert (store.directory / "current.jws").read_bytes() == before


def test_store_duplicate_is_reacked_and_next_version_clears_error(store: ScheduleStore) -> None:
    store.offer(sign(payload(version=1)), NOW)
    assert store.error is not None
    again = store.offer(store.current_jws or b"", NOW)
    assert again.status == "duplicate" and again.version == 2
    assert store.error is None  # the schedule on the topic is the one in force
    newer = store.offer(sign(payload(version=3)), NOW)
    assert newer.accepted and store.version == 3 and store.error is None


def test_store_survives_restart_and_remembers_error(tmp_path: Path) -> None:
    keys = KeyRing.from_jwks([DISTRICT.public_jwk])
    first = ScheduleStore(tmp_path / "s", district="kon-ray", station="dak-koi-01", keys=keys)
    first.offer(sign(payload(version=5)), NOW)
    first.offer(sign(payload(version=5, station="x")), NOW)
    first.close()
    again = ScheduleStore(tmp_path / "s", district="kon-ray", station="dak-koi-01", keys=keys)
    assert again.version == 5 and again.since_at == NOW
    assert again.error is not None and "'x'" in again.error
    again.close()
    unpinned = ScheduleStore(tmp_path / "s", district="kon-ray", station="dak-koi-01",
                             keys=KeyRing.from_jwks([INTRUDER.public_jwk]))
    assert unpinned.current is None and "no longer valid" in (unpinned.error or "")
    unpinned.close()


BAD_MODEL: list[tuple[str, dict[str, Any], str]] = [
    ("bad-valid-from", {"valid_from": "2024-3-1"}, "valid_from"),
    ("until-before-from", {"valid_until": "2024-02-01"}, "valid_until"),
    ("bad-timezone", {"timezone": "Mars/Olympus"}, "timezone"),
    ("bad-priority", {"segments": [segment(priority="urgent")]}, "segments[0].priority"),
    ("bad-sha", {"segments": [segment(sha="xyz")]}, "segments[0].media.sha256"),
    ("bad-duration", {"segments": [{**segment(), "media": {"sha256": SHA_A, "url": "https://a.example/x",
                                                           "bytes": 10, "duration_s": -1}}]},
     "segments[0].media.duration_s"),
    ("duplicate-segment", {"segments": [segment(), segment()]}, "appears 2 times"),
    ("both-at-and-rrule", {"slots": [{"segment": "cds-a", "at": "2024-03-05T06:30:00+07:00",
                                      "rrule": "FREQ=DAILY", "dtstart": "2024-03-01T06:00:00+07:00"}]},
     "exactly one of"),
    ("count-and-until", {"slots": [{"segment": "cds-a", "rrule": "FREQ=DAILY;COUNT=3;UNTIL=20240310T000000Z",
                                    "dtstart": "2024-03-01T06:00:00+07:00"}]}, "COUNT and UNTIL"),
    ("dtstart-in-rule", {"slots": [{"segment": "cds-a", "rrule": "DTSTART:20240301T060000\nRRULE:FREQ=DAILY",
                                    "dtstart": "2024-03-01T06:00:00+07:00"}]}, "one RRULE line"),
    ("bad-id", {"segments": [segment(seg_id="../x")]}, "segments[0].id"),
    ("credentials-in-url", {"segments": [segment(url="https://u:p@a.example/x.mp3")]}, "credentials"),
    ("version-zero", {"version": 0}, "version"),
    ("exdate-in-rule", {"slots": [{"segment": "cds-a", "rrule": "FREQ=WEEKLY;BYDAY=TU;EXDATE=20240312T063000",
                                   "dtstart": "2024-03-01T06:30:00+07:00"}]}, "no DTSTART, RDATE, EXDATE"),
    ("exdate-line", {"slots": [{"segment": "cds-a", "rrule": "FREQ=WEEKLY;BYDAY=TU\nEXDATE:20240312T063000",
                                "dtstart": "2024-03-01T06:30:00+07:00"}]}, "one RRULE line only"),
    ("until-date-only", {"slots": [{"segment": "cds-a", "rrule": "FREQ=WEEKLY;BYDAY=TU;UNTIL=20240312",
                                    "dtstart": "2024-03-01T06:30:00+07:00"}]}, "UNTIL=20240312 is a date"),
    ("dtstart-without-offset", {"slots": [{"segment": "cds-a", "rrule": "FREQ=WEEKLY;BYDAY=TU",
                                           "dtstart": "2024-03-01T06:30:00"}]}, "slots[0].dtstart"),
    ("dtstart-in-1990", {"slots": [{"segment": "cds-a", "rrule": "FREQ=WEEKLY;BYDAY=TU",
                                    "dtstart": "1990-01-02T06:30:00+07:00"}]}, "more than 400 days before"),
    ("bysetpos-zero", {"slots": [{"segment": "cds-a", "rrule": "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=0",
                                  "dtstart": "2024-03-01T06:30:00+07:00"}]}, "slots[0].rrule: malformed"),
    ("interval-zero", {"slots": [{"segment": "cds-a", "rrule": "FREQ=DAILY;INTERVAL=0",
                                  "dtstart": "2024-03-01T06:30:00+07:00"}]}, "slots[0].rrule"),
    ("a-slot-every-minute-by-hand", {"slots": [
        {"segment": "cds-a", "at": f"2024-03-05T{h:02d}:{m:02d}:00+07:00"} for h in range(20) for m in range(60)]},
     "1200 slots in 2024-03 (all entries together)"),
]


@pytest.mark.parametrize("name,overrides,expected", BAD_MODEL, ids=[b[0] for b in BAD_MODEL])
def test_model_rejects_bad_member_naming_it(name: str, overrides: dict[str, Any], expected: str) -> None:
    with pytest.raises(ScheduleError) as info:
        parse_schedule(payload(**overrides))
    assert any(expected in p for p in info.value.problems), info.value.problems


def test_model_broken_segment_is_reported_once_not_again_at_each_slot() -> None:
    with pytest.raises(ScheduleError) as info:
        parse_schedule(payload(segments=[segment(url="file:///etc/passwd")]))
    assert info.value.problems == ["segments[0].media.url: scheme 'file' not allowed (http or https only)"]


def test_store_error_in_status_is_bounded(store: ScheduleStore) -> None:
    slots = [{"segment": "cds-a", "at": f"2024-03-{d:02d}T06:30:00", "x": "y" * 500} for d in range(1, 29)]
    result = store.offer(sign(payload(version=3, slots=slots)), NOW)
    assert result.status == "rejected" and result.error is not None
    assert result.error.startswith("bad-schedule: slots[0].at: not an RFC 3339 time with offset")
    assert result.error.endswith("(+23 more)") and len(result.error) <= 600
    huge_rule = sign(payload(version=3, slots=[{"segment": "cds-a", "rrule": "FREQ=" + "X" * 5000,
                                                 "dtstart": "2024-03-01T06:00:00+07:00"}]))
    error = store.offer(huge_rule, NOW).error or ""
    assert "slots[0].rrule: malformed RRULE" in error and len(error) <= 600
    assert store.version == 2


def test_model_collects_every_problem_at_once() -> None:
    with pytest.raises(ScheduleError) as info:
        parse_schedule(payload(version=-1, timezone="Nowhere/X", segments=[segment(url="ftp://x/y")]))
    assert len(info.value.problems) >= 3


def test_model_parses_valid_payload_into_frozen_objects() -> None:
    sched = parse_schedule(payload())
    assert sched.version == 1 and sched.segment("cds-a").media.sha256 == SHA_A
    assert sched.slots[1].rrule == "FREQ=WEEKLY;BYDAY=TU,FR"
    with pytest.raises(AttributeError):
        sched.version = 2  # type: ignore[misc]
