"""``radio-station schedule`` says which clock it lists slots after and, when none is left
after that moment (a schedule of another month, a station simulated ahead), shows the
schedule's own slots still to air."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from schedule_testkit import new_signer, payload
from scheduled_station_kit import station_yaml

from firmware_daemon.cli import main as station_main
from firmware_daemon.config import load_station_config
from firmware_daemon.schedule.store import ScheduleStore
from radio_protocol.jose import KeyRing, parse_jws
from radio_protocol.names import SCHEDULE_TYP
from radio_protocol.schedule.expand import expand
from radio_protocol.schedule.parse import parse_schedule
from radio_protocol.timefmt import parse_rfc3339


def _station(tmp_path: Path, aired: int) -> Path:
    """A station holding the March 2024 schedule of 10 slots, the first ``aired`` of them aired."""
    district = new_signer()
    path = station_yaml(tmp_path, None, f"district_keys: [{json.dumps(district.public_jwk)}]\n")
    config = load_station_config(path)
    store = ScheduleStore(config.data_dir / "schedule", district="kon-ray", station="dak-koi-01",
                          keys=KeyRing.from_jwks([district.public_jwk]))
    try:
        jws = district.sign(payload(), SCHEDULE_TYP)
        assert store.offer(jws, parse_rfc3339("2024-02-28T00:00:00+07:00")).accepted
        for slot in expand(parse_schedule(json.loads(parse_jws(jws)[2])))[:aired]:
            store.mark(slot.key, slot.at, slot.segment.id, 1, "aired", slot.at)
    finally:
        store.close()
    return path


def _out(path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    capsys.readouterr()
    assert station_main(["-c", str(path), "schedule", *args]) == 0
    return capsys.readouterr().out.splitlines()


def test_schedule_names_the_clock_it_uses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _station(tmp_path, aired=0)
    (line,) = [ln for ln in _out(path, capsys, "--at", "2024-03-10T00:00:00+07:00") if ln.startswith("next ")]
    assert line == "next 6 slot(s) still to air after 2024-03-10 00:00 (--at):"
    (line,) = [ln for ln in _out(path, capsys) if ln.startswith("next ")]  # the real clock: after March 2024
    assert line.startswith("next 0 slot(s) still to air after ")
    assert line.endswith("(this machine's clock; --at TIME for another moment):")


def test_schedule_of_another_month_shows_its_own_slots(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = _station(tmp_path, aired=3)
    lines = _out(path, capsys, "--next", "2")  # now (real clock) is after the schedule's month
    i = lines.index("  (none after that moment; this schedule's slots not yet aired, from 2024-03-01:)")
    assert [ln.split()[:3] for ln in lines[i + 1:i + 3]] == [["2024-03-08", "Fri", "17:00"],
                                                            ["2024-03-12", "Tue", "17:00"]]


def test_schedule_all_aired_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _station(tmp_path, aired=10)
    assert "  (none left: every slot of this schedule (10) is aired or recorded)" in _out(path, capsys)
