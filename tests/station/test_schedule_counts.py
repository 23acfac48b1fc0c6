"""``radio-station schedule`` counts only the slots of the schedule in force: the slots of
earlier schedules stay in the store (so none is started twice) but are not this one's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from schedule_testkit import new_signer, payload, segment
from scheduled_station_kit import station_yaml

from firmware_daemon.cli import main as station_main
from firmware_daemon.config import load_station_config
from firmware_daemon.schedule.store import ScheduleStore
from radio_protocol.jose import KeyRing, parse_jws
from radio_protocol.names import SCHEDULE_TYP
from radio_protocol.schedule.expand import expand
from radio_protocol.schedule.parse import parse_schedule
from radio_protocol.timefmt import parse_rfc3339

RECEIVED = parse_rfc3339("2024-02-28T00:00:00+07:00")
LATER = parse_rfc3339("2024-03-18T00:00:00+07:00")


def summary_line(path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert station_main(["-c", str(path), "schedule", "--at", "2024-03-19T00:00:00+07:00"]) == 0
    (line,) = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("slots so far")]
    return line


def test_schedule_counts_only_the_schedule_in_force(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    district = new_signer()
    path = station_yaml(tmp_path, None, f"district_keys: [{json.dumps(district.public_jwk)}]\n")
    config = load_station_config(path)
    store = ScheduleStore(config.data_dir / "schedule", district="kon-ray", station="dak-koi-01",
                          keys=KeyRing.from_jwks([district.public_jwk]))
    try:
        first = district.sign(payload(), SCHEDULE_TYP)
        assert store.offer(first, RECEIVED).accepted
        old_slots = expand(parse_schedule(json.loads(parse_jws(first)[2])))
        assert len(old_slots) == 10
        for slot in old_slots[:9]:
            store.mark(slot.key, slot.at, slot.segment.id, 1, "aired", slot.at)
        store.mark(old_slots[9].key, old_slots[9].at, "cds-a", 1, "missed", old_slots[9].at)
    finally:
        store.close()
    assert summary_line(path, capsys) == "slots so far: aired 9, missed 1 (of 10 in this schedule)"

    store = ScheduleStore(config.data_dir / "schedule", district="kon-ray", station="dak-koi-01",
                          keys=KeyRing.from_jwks([district.public_jwk]))
    try:  # a new schedule with one slot replaces it
        second = district.sign(payload(version=2, segments=[segment("cds-b")],
                                       slots=[{"segment": "cds-b", "at": "2024-03-20T09:00:00+07:00"}]),
                               SCHEDULE_TYP)
        assert store.offer(second, LATER).accepted
    finally:
        store.close()
    assert summary_line(path, capsys) == "slots so far: none yet (of 1 in this schedule)"

    store = ScheduleStore(config.data_dir / "schedule", district="kon-ray", station="dak-koi-01",
                          keys=KeyRing.from_jwks([district.public_jwk]))
    try:
        (slot,) = expand(parse_schedule(json.loads(parse_jws(second)[2])))
        store.mark(slot.key, slot.at, "cds-b", 2, "aired", slot.at)
    finally:
        store.close()
    assert summary_line(path, capsys) == "slots so far: aired 1 (of 1 in this schedule)"
