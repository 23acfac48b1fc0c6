"""``radio-station status`` and the state file the service writes for it.

A real :class:`~firmware_daemon.daemon.Daemon` (mock GPIO, real outbox file, the
``install_state_file`` hook that ``radio-station run`` adds) writes the file; the command
reads it as a user would run it. States the daemon cannot be made to show on demand (a
hung service, a dead pid) are files written by the same writer with those facts.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory
from test_link_support import append_events, minimal_station_yaml, open_outbox
from waiting import wait_until

from firmware_daemon.cli import main
from firmware_daemon.config import load_station_config
from firmware_daemon.daemon import Daemon
from firmware_daemon.service.state_file import (
    STATE_FILE_NAME,
    read_state_file,
    write_state_file,
)
from firmware_daemon.service.state_report import StateReporter, install_state_file
from radio_protocol.timefmt import format_rfc3339


def status(config: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["-c", str(config), "status", *extra])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, out.out + out.err


def test_status_of_a_running_then_stopped_daemon(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = minimal_station_yaml(tmp_path, amplifier={"pin": 17}, outbox={"retention_days": 400})
    config = load_station_config(path)
    with open_outbox(config) as outbox:
        append_events(outbox, 3)
    daemon = Daemon(config, pin_factory=MockFactory())
    daemon.startup_hooks.append(install_state_file)
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(daemon.run()), daemon=True)
    thread.start()
    state_path = config.data_dir / STATE_FILE_NAME
    try:
        wait_until(state_path.exists, 20, "the state file")
        assert stat.S_IMODE(state_path.stat().st_mode) == 0o640
        code, out = status(path, capsys)
        assert code == 0, out  # running, and no mqtt section: nothing to be connected to
        assert f"running (pid {os.getpid()}" in out
        assert "Link:             none (no mqtt section" in out
        assert "Pending events:   3 (last seq 3)" in out
        assert 'Last airing:      completed, 2024-03-05 06:33:00 +07:00, cds-2024-03-a "Chuyển đổi số là gì?" (seq 3)' in out
        assert "Schedule:         none in force" in out
        code, out = status(path, capsys, "--format", "json")
        report = json.loads(out)
        assert (report["service"], report["exit_code"]) == ("running", 0)
        data = report["state"]
        assert (data["station"], data["link"], data["outbox"]) == ("dak-koi-01", None, {"pending": 3, "last_seq": 3})
        assert data["daemon"]["pid"] == os.getpid() and data["daemon"]["stopped_at"] is None
        assert data["amp_on"] is False and data["last_airing"]["seq"] == 3
    finally:
        daemon.request_stop("test")
        thread.join(20)
    assert codes == [0]
    state = read_state_file(state_path)
    assert state is not None and state.stopped_at is not None
    code, out = status(path, capsys)
    assert code == 1
    assert "Service:          NOT RUNNING: stopped at " in out and "last known state below" in out
    assert "Pending events:   3 (last seq 3)" in out  # the last known state is still shown


def sample_state(pid: int, written_at: datetime, **changes: Any) -> dict[str, Any]:
    """A state file's object as the daemon writes it: a station whose TLS link is down."""
    at = format_rfc3339(written_at)
    state: dict[str, Any] = {
        "format": 1, "station": "dak-koi-01", "district": "kon-ray", "written_at": at, "interval_s": 10.0,
        "daemon": {"pid": pid, "started_at": at, "stopped_at": None, "simulated": False},
        "link": {"state": "down", "since": at, "broker": "radio.example:8883", "tls": True, "failures": 4,
                 "failures_total": 9, "connected_at": None,
                 "last_error": {"kind": "tls-handshake", "at": at,
                                "detail": "TLS handshake failed with radio.example:8883: certificate verify "
                                          "failed: unable to get local issuer certificate"}},
        "outbox": {"pending": 2, "last_seq": 7},
        "schedule": {"version": 12, "valid_from": "2026-03-01", "valid_until": "2026-03-31",
                     "in_force_since": at, "received_version": 13,
                     "error": "media-missing: schedule version 13 waits for its media; version 12 airs meanwhile"},
        "next_slot": {"at": "2026-03-05T06:30:00.000+07:00", "segment": "cds-a", "title": "Chuyển đổi số",
                      "priority": "normal"},
        "media_missing": ["cds-b"], "clock_synced": False, "amp_on": False, "storage_error": None,
        "last_airing": None,
    }
    state.update(changes)
    return state


def station_with_state(tmp_path: Path, state: dict[str, Any] | None) -> Path:
    path = minimal_station_yaml(tmp_path, amplifier={"pin": 17})
    if state is not None:
        write_state_file(load_station_config(path).data_dir / STATE_FILE_NAME, state)
    return path


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(10)
    return proc.pid


def test_status_running_with_the_link_down(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = station_with_state(tmp_path, sample_state(os.getpid(), datetime.now(UTC)))
    code, out = status(path, capsys)
    assert code == 3
    assert "Link:             DOWN since " in out and "Broker:           radio.example:8883 (TLS)" in out
    assert "Failed attempts:  4 since the last connect (9 since start)" in out
    assert "Last link error:  tls-handshake at " in out
    assert ("                  TLS handshake failed with radio.example:8883: certificate verify failed: "
            "unable to get local issuer certificate") in out
    assert "Schedule:         version 12, valid 2026-03-01 to 2026-03-31, in force since " in out
    assert "Newest received:  version 13 (not in force yet)" in out
    assert "Schedule error:   media-missing: schedule version 13 waits" in out
    assert 'Next slot:        2026-03-05 06:30:00 +07:00 cds-a "Chuyển đổi số"' in out
    assert "Media missing:    cds-b" in out and "Clock:            NOT synchronized" in out


@pytest.mark.parametrize(("case", "words"), [
    ("gone", "NOT RUNNING: process {pid} is gone (crashed or killed); last known state below"),
    ("stale", "STALE: process {pid} has not rewritten its state for over 30 s (hung?)"),
    ("absent", "NOT RUNNING: no state file at "),
])
def test_status_not_running(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, words: str) -> None:
    pid = dead_pid() if case == "gone" else os.getpid()
    written_at = datetime.now(UTC) - (timedelta(seconds=31) if case == "stale" else timedelta(0))
    path = station_with_state(tmp_path, None if case == "absent" else sample_state(pid, written_at))
    code, out = status(path, capsys)
    assert code == 1
    assert words.format(pid=pid) in out
    if case != "absent":
        assert "tls-handshake" in out  # the last known state
    code, out = status(path, capsys, "--format", "json")
    assert code == 1 and json.loads(out)["service"] == case


@pytest.mark.parametrize("content", [b"", b"{not json", b'{"format": 99}', b'{"format": 1, "daemon": {}}'])
def test_status_unreadable_state_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       content: bytes) -> None:
    path = station_with_state(tmp_path, None)
    (load_station_config(path).data_dir / STATE_FILE_NAME).write_bytes(content)
    code, out = status(path, capsys)
    assert code == 1
    assert f"radio-station: error: {tmp_path / 'data' / STATE_FILE_NAME}: not a readable state file" in out


def test_status_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["status", "--help"])
    out = capsys.readouterr().out
    assert "exit codes:" in out
    for line in ("  0  the service runs and is connected", "  1  the service is not running",
                 "  3  the service runs but is not connected"):
        assert line in out


def test_state_file_rewritten_every_interval(tmp_path: Path) -> None:
    """Nothing changes, yet the running daemon keeps rewriting its state (so a hung one goes stale)."""
    config = load_station_config(minimal_station_yaml(tmp_path, amplifier={"pin": 17}))
    daemon = Daemon(config, pin_factory=MockFactory())
    daemon.startup_hooks.append(lambda d: StateReporter(d, interval_s=0.2).install())
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    state_path = config.data_dir / STATE_FILE_NAME
    try:
        first = wait_until(lambda: read_state_file(state_path), 20, "the first state file")
        later = wait_until(lambda: (s := read_state_file(state_path)) and s.written_at > first.written_at and s,
                           20, "a rewrite")
        wait_until(lambda: (s := read_state_file(state_path)) and s.written_at > later.written_at, 20,
                   "another rewrite")
        assert later.interval_s == 0.2 and later.stopped_at is None
    finally:
        daemon.request_stop("test")
        thread.join(20)
