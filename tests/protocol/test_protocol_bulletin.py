"""Bulletin slots (``slots[].until``) and ``segments[].loudness``: parsed, rebuilt, scheduled."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from schedule_testkit import payload, segment

from radio_protocol.errors import ScheduleError
from radio_protocol.schedule.build import build_schedule
from radio_protocol.schedule.expand import due_slots
from radio_protocol.schedule.parse import parse_schedule
from radio_protocol.timefmt import zone

TZ = zone("Asia/Ho_Chi_Minh")
LOUD = {"measured_lufs": -23.4, "target_lufs": -16.0, "true_peak_dbtp": -1.2}


def _bulletin_payload() -> dict:
    seg = dict(segment("khan-cap", priority="emergency"), loudness=LOUD)
    return payload(segments=[segment(), seg], slots=[
        {"segment": "cds-a", "at": "2024-03-05T06:30:00.000+07:00"},
        {"segment": "khan-cap", "at": "2024-03-05T08:00:00.000+07:00",
         "until": "2024-03-05T09:00:00.000+07:00"}])


def test_bulletin_payload_round_trips() -> None:
    body = _bulletin_payload()
    schedule = parse_schedule(body)
    assert schedule.segment("khan-cap").loudness is not None
    assert schedule.segment("khan-cap").loudness.target_lufs == -16.0
    assert schedule.slots[1].until == datetime(2024, 3, 5, 9, 0, tzinfo=TZ)
    assert build_schedule(schedule) == body


@pytest.mark.parametrize(("member", "value", "message"), [
    ("until", "2024-03-05T07:59:00.000+07:00", "slots[1].until: must be after 'at'"),
    ("until", "tomorrow", "slots[1].until: not an RFC 3339 time"),
])
def test_bulletin_until_refused(member: str, value: str, message: str) -> None:
    body = _bulletin_payload()
    body["slots"][1][member] = value
    with pytest.raises(ScheduleError) as err:
        parse_schedule(body)
    assert message in str(err.value)


def test_loudness_out_of_range_refused() -> None:
    body = _bulletin_payload()
    body["segments"][1]["loudness"] = dict(LOUD, measured_lufs="loud")
    with pytest.raises(ScheduleError) as err:
        parse_schedule(body)
    assert "segments[1].loudness.measured_lufs" in str(err.value)


def test_bulletin_ready_until_its_validity_even_before_since() -> None:
    schedule = parse_schedule(_bulletin_payload())
    at = datetime(2024, 3, 5, 8, 0, tzinfo=TZ)
    # the schedule reached the station 40 minutes after the bulletin's slot: still valid
    now = at + timedelta(minutes=40)
    due = due_slots(schedule, now, since_at=now - timedelta(seconds=1), grace_s=600)
    assert [s.segment.id for s in due.ready] == ["khan-cap"]
    assert due.missed == ()
    # after its validity: missed, even though it is older than since_at
    late = at + timedelta(hours=1, seconds=1)
    due = due_slots(schedule, late, since_at=late - timedelta(seconds=1), grace_s=600)
    assert due.ready == ()
    assert [s.segment.id for s in due.missed] == ["khan-cap"]
    # an ordinary slot before since_at stays neither
    assert all(s.segment.id != "cds-a" for s in due.missed)
