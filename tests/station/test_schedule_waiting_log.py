"""A slot waiting for a synchronized clock says so once, and again when it airs or is missed."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from runner_testkit import Station, WallClock, pump, schedule_jws, start, vn

RUNNER_LOG = "firmware_daemon.schedule.runner"
KEY = "cds-a@2024-03-04T23:30:00.000000Z"  # 06:30 in Hà Nội


def waiting_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records
            if r.name == RUNNER_LOG and r.getMessage().startswith("slot wait")]


def test_waiting_log_once_per_slot_then_missed(tmp_path: Path, wav: bytes, stations: list[Station],
                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=RUNNER_LOG)
    clock = WallClock(vn(2024, 3, 5, 6, 29))
    synced = {"ok": False}
    st = start(stations, tmp_path, clock, wav, clock_synced=lambda: synced["ok"])
    assert st.runner.on_schedule(schedule_jws(wav)).accepted
    for _ in range(11):  # 06:29 .. 06:39, one look a minute: 10 looks while the slot waits
        st.runner.step()
        clock.advance(60)
    lines = waiting_lines(caplog)
    assert len(lines) == 1
    assert lines == [(logging.WARNING, f"slot waiting reason=clock-unsynced slot={KEY} station=dak-koi-01")]
    st.runner.step()  # 06:40: beyond grace, recorded missed
    lines = waiting_lines(caplog)
    assert lines[1:] == [(logging.WARNING, f"slot waited reason=clock-unsynced slot={KEY} "
                                           "station=dak-koi-01 waited_s=600 outcome=missed")]
    assert [e["outcome"] for e in st.events()] == ["missed"]
    for _ in range(3):  # nothing more about that slot
        clock.advance(60)
        st.runner.step()
    assert len(waiting_lines(caplog)) == 2


def test_waiting_log_then_airs_when_the_clock_syncs(tmp_path: Path, wav: bytes,
                                                    stations: list[Station],
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=RUNNER_LOG)
    clock = WallClock(vn(2024, 3, 5, 6, 29, 58))
    synced = {"ok": False}
    st = start(stations, tmp_path, clock, wav, clock_synced=lambda: synced["ok"])
    assert st.runner.on_schedule(schedule_jws(wav)).accepted
    for _ in range(5):
        st.runner.step()
        clock.advance(30)
    assert waiting_lines(caplog) == [
        (logging.WARNING, f"slot waiting reason=clock-unsynced slot={KEY} station=dak-koi-01")]
    synced["ok"] = True
    st.runner.step()
    pump(st, lambda: not st.runner.busy)
    lines = waiting_lines(caplog)
    assert lines[1:] == [(logging.WARNING, f"slot waited reason=clock-unsynced slot={KEY} "
                                           "station=dak-koi-01 waited_s=150 outcome=airing")]
    assert [e["outcome"] for e in st.events()] == ["completed"]
