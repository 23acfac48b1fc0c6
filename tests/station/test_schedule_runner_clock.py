"""The slot runner when the wall clock misbehaves (steps, restarts, crashes, no sync):
no slot airs twice and none is skipped silently."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from runner_testkit import (
    Station,
    WallClock,
    pump,
    schedule_jws,
    start,
    vn,
)

from firmware_daemon.schedule.runner import UNSYNCED_MESSAGE
from radio_protocol.clock import SimulatedClock


def test_runner_clock_step_forward_airs_late_or_records_missed_once(tmp_path: Path, wav: bytes,
                                                                   stations: list[Station]) -> None:
    clock = SimulatedClock(vn(2024, 3, 5, 6, 0))
    st = start(stations, tmp_path, clock, wav)
    st.runner.on_schedule(schedule_jws(wav))
    st.run_until(vn(2024, 3, 5, 6, 20))
    clock.step_wall(15 * 60)  # 06:35: the 06:30 slot is 5 min late, inside grace: airs now
    st.run_until(vn(2024, 3, 5, 17, 0))
    clock.step_wall(40 * 60)  # 17:40: the 17:30 slot is 10 min (= grace) gone -> missed
    st.run_until(vn(2024, 3, 5, 17, 45))
    clock.step_wall(13 * 3600)  # 06:45 next day: 06:30 is 15 min gone -> missed, clock-unsynced
    st.run_until(vn(2024, 3, 6, 12, 0))
    assert st.summary() == [
        ("cds-a", "2024-03-05T06:30:00.000+07:00", "completed", None),
        ("cds-a", "2024-03-05T17:30:00.000+07:00", "missed", "clock-unsynced"),
        ("cds-a", "2024-03-06T06:30:00.000+07:00", "missed", "clock-unsynced"),
    ]
    assert st.events()[0]["started_at"].startswith("2024-03-05T06:35:")


def test_runner_clock_step_backward_does_not_air_twice(tmp_path: Path, wav: bytes,
                                                       stations: list[Station]) -> None:
    clock = SimulatedClock(vn(2024, 3, 5, 6, 0))
    st = start(stations, tmp_path, clock, wav)
    st.runner.on_schedule(schedule_jws(wav))
    st.run_until(vn(2024, 3, 5, 6, 40))
    clock.step_wall(-30 * 60)  # back to 06:10
    st.run_until(vn(2024, 3, 5, 7, 0))
    assert st.summary() == [("cds-a", "2024-03-05T06:30:00.000+07:00", "completed", None)]


def test_runner_restart_does_not_reair_and_downtime_is_missed_once(tmp_path: Path, wav: bytes,
                                                                  stations: list[Station]) -> None:
    clock = SimulatedClock(vn(2024, 3, 5, 6, 0))
    st = start(stations, tmp_path, clock, wav)
    st.runner.on_schedule(schedule_jws(wav))
    st.run_until(vn(2024, 3, 5, 6, 31))  # aired 06:30
    st.close()
    stations.remove(st)
    clock.step_wall(-60)  # a reboot with the clock a minute behind: 06:30 is due "again"
    st2 = start(stations, tmp_path, clock, wav)
    st2.run_until(vn(2024, 3, 5, 6, 45))
    st2.close()
    stations.remove(st2)
    clock.advance(12 * 3600)  # down until 18:45: the 17:30 slot passed while down
    st3 = start(stations, tmp_path, clock, wav)
    st3.run_until(vn(2024, 3, 5, 19, 0))
    st3.close()
    stations.remove(st3)
    st4 = start(stations, tmp_path, clock, wav)
    st4.run_until(vn(2024, 3, 5, 20, 0))
    assert st4.summary() == [
        ("cds-a", "2024-03-05T06:30:00.000+07:00", "completed", None),
        ("cds-a", "2024-03-05T17:30:00.000+07:00", "missed", "station-down"),
    ]
    assert st4.store.version == 1  # the schedule survived the restarts with no network


def test_runner_crash_mid_airing_is_settled_not_reaired(tmp_path: Path, wav: bytes,
                                                        stations: list[Station]) -> None:
    clock = SimulatedClock(vn(2024, 3, 5, 6, 0))
    st = start(stations, tmp_path, clock, wav)
    st.runner.on_schedule(schedule_jws(wav))
    schedule = st.store.current
    assert schedule is not None
    # as if the power went at 06:30:30, mid-airing: the slot is 'started', no event exists
    from radio_protocol.schedule.expand import expand
    slot = expand(schedule, vn(2024, 3, 5, 6, 0), vn(2024, 3, 5, 7, 0))[0]
    st.store.mark(slot.key, slot.at, "cds-a", 1, "started", vn(2024, 3, 5, 6, 29, 58), 0)
    st.close()
    stations.remove(st)
    clock.advance(45 * 60)
    st2 = start(stations, tmp_path, clock, wav)
    st2.run_until(vn(2024, 3, 5, 7, 0))
    assert st2.summary() == [("cds-a", "2024-03-05T06:30:00.000+07:00", "failed", "station-down")]


def test_runner_unsynced_clock_waits_and_says_why(tmp_path: Path, wav: bytes,
                                                  stations: list[Station]) -> None:
    clock = WallClock(vn(2024, 3, 5, 6, 29))
    synced = {"ok": False}
    st = start(stations, tmp_path, clock, wav, clock_synced=lambda: synced["ok"])
    st.runner.on_schedule(schedule_jws(wav))
    for _ in range(6):  # 06:29 .. 06:41, one step per 2 minutes
        st.runner.step()
        clock.advance(120)
    assert st.state.schedule.schedule_error is not None
    assert "clock-unsynced" in st.state.schedule.schedule_error
    synced["ok"] = True
    st.runner.step()
    assert st.state.schedule.schedule_error is None
    assert st.summary() == [("cds-a", "2024-03-05T06:30:00.000+07:00", "missed", "clock-unsynced")]


def test_runner_unsynced_clock_and_a_rejected_schedule_are_both_in_the_status(
        tmp_path: Path, wav: bytes, stations: list[Station]) -> None:
    clock = WallClock(vn(2024, 3, 5, 6, 0))
    synced = {"ok": False}
    st = start(stations, tmp_path, clock, wav, clock_synced=lambda: synced["ok"])
    assert st.runner.on_schedule(schedule_jws(wav, version=2)).accepted
    assert not st.runner.on_schedule(schedule_jws(wav, version=1)).accepted  # a replayed older one
    st.runner.step()
    error = st.state.schedule.schedule_error
    assert error is not None and error.startswith(st.store.error or "?") and st.store.error
    assert error.endswith("; " + UNSYNCED_MESSAGE)
    synced["ok"] = True
    st.runner.step()
    assert st.state.schedule.schedule_error == st.store.error


def test_runner_unsynced_clock_airs_when_not_required(tmp_path: Path, wav: bytes,
                                                      stations: list[Station]) -> None:
    clock = WallClock(vn(2024, 3, 5, 6, 29, 58))
    st = start(stations, tmp_path, clock, wav, clock_synced=lambda: False, require_synced=False)
    st.runner.on_schedule(schedule_jws(wav))
    st.runner.step()
    assert st.runner.busy
    pump(st, lambda: not st.runner.busy)
    assert [e["outcome"] for e in st.events()] == ["completed"]


@pytest.mark.parametrize("step_s,expected", [
    (13 * 60, [("cds-a", "2024-03-05T06:30:00.000+07:00", "completed", None)]),  # 06:33: within grace
    (40 * 60, [("cds-a", "2024-03-05T06:30:00.000+07:00", "missed", "clock-unsynced")]),  # 07:00
])
def test_runner_ntp_sync_after_boot_steps_the_clock_forward(tmp_path: Path, wav: bytes, stations: list[Station],
                                                            step_s: int, expected: list[Any]) -> None:
    """Boot with a stale clock (06:20, unsynchronized); NTP then steps it and reports synced."""
    clock = WallClock(vn(2024, 3, 5, 6, 20))
    synced = {"ok": False}
    st = start(stations, tmp_path, clock, wav, clock_synced=lambda: synced["ok"])
    st.runner.on_schedule(schedule_jws(wav))
    for _ in range(3):
        st.runner.step()
        clock.advance(1)
    clock.step_wall(step_s)
    synced["ok"] = True
    for _ in range(5):  # the runner's looks after the step, one a second
        st.runner.step()
        pump(st, lambda: not st.runner.busy)
        clock.advance(1)
    clock.advance(3600)  # and an hour of looks later nothing more happens to that slot
    st.runner.step()
    pump(st, lambda: not st.runner.busy)
    assert st.summary() == expected
    assert st.state.schedule.schedule_error is None
