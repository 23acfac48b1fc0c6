"""The daemon around the link: retention prune, timers, amplifier off, no-mqtt station.

Runs :class:`firmware_daemon.daemon.Daemon` in a thread on a simulated clock (the loop
advances simulated time instead of sleeping) with gpiozero's MockFactory, against a
real outbox file.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory
from test_link_support import append_events, minimal_station_yaml
from waiting import wait_until

from firmware_daemon.airing.outbox import Outbox
from firmware_daemon.config import StationConfig, load_station_config
from firmware_daemon.daemon import DAY_S, PRUNE_FIRST_DELAY_S, Daemon
from radio_protocol.clock import SimulatedClock
from radio_protocol.jose import Signer, b64url_decode, load_or_create_private_key

T0 = datetime(2025, 3, 1, 0, 0, tzinfo=UTC)


def offline_config(root: Path) -> StationConfig:
    """A station without an mqtt section (evidence stays local), mock GPIO."""
    return load_station_config(minimal_station_yaml(root, amplifier={"pin": 17}, outbox={"retention_days": 400}))


def run_in_thread(daemon: Daemon) -> tuple[threading.Thread, list[int]]:
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(daemon.run()), daemon=True)
    thread.start()
    return thread, codes


def stop_after(daemon: Daemon, seconds: float) -> None:
    """A timer that stops the daemon ``seconds`` of (simulated) time after it starts."""
    def stop(now_mono: float) -> None:
        daemon.request_stop("test")
    daemon.add_timer("test-stop", stop, daemon.clock.monotonic() + seconds)


def seqs(outbox: Outbox) -> list[int]:
    return [json.loads(b64url_decode(json.loads(jws)["payload"]))["seq"] for jws in outbox.events(0)]


def test_link_daemon_prune_drops_old_acked_keeps_unacked(tmp_path: Path) -> None:
    config = offline_config(tmp_path)
    signer = Signer(load_or_create_private_key(config.key_path)[0])
    with Outbox(config.outbox_path, signer, SimulatedClock(T0)) as outbox:
        append_events(outbox, 10)
        assert outbox.apply_ack(5, [7]) == 6
    clock = SimulatedClock(T0 + timedelta(days=401))
    factory = MockFactory()
    daemon = Daemon(config, clock=clock, pin_factory=factory)
    start_mono = clock.monotonic()
    stop_after(daemon, 30.0)
    thread, codes = run_in_thread(daemon)
    thread.join(10)
    assert codes == [0]
    prune = next(t for t in daemon._timers if t.name == "outbox-prune")
    assert prune.runs == 1 and prune.next_mono == start_mono + PRUNE_FIRST_DELAY_S + DAY_S
    with Outbox(config.outbox_path) as outbox:
        assert seqs(outbox) == [6, 8, 9, 10]  # acked and old: gone; unacked: kept
        assert outbox.pending_count() == 4 and outbox.last_seq() == 10
    assert [s.state for s in factory.pin(17).states][-1] is False


def test_link_daemon_prune_keeps_recent_acked(tmp_path: Path) -> None:
    config = offline_config(tmp_path)
    signer = Signer(load_or_create_private_key(config.key_path)[0])
    with Outbox(config.outbox_path, signer, SimulatedClock(T0)) as outbox:
        append_events(outbox, 4)
        outbox.apply_ack(4, [])
    daemon = Daemon(config, clock=SimulatedClock(T0 + timedelta(days=399)), pin_factory=MockFactory())
    stop_after(daemon, 30.0)
    thread, _ = run_in_thread(daemon)
    thread.join(10)
    assert next(t for t in daemon._timers if t.name == "outbox-prune").runs == 1
    with Outbox(config.outbox_path) as outbox:
        assert seqs(outbox) == [1, 2, 3, 4]  # 399 days < retention_days 400


def test_link_daemon_timers_run_and_survive_exceptions(tmp_path: Path) -> None:
    config = offline_config(tmp_path)
    clock = SimulatedClock(T0)
    daemon = Daemon(config, clock=clock, pin_factory=MockFactory())
    calls: list[float] = []
    failures: list[float] = []

    def every_ten(now_mono: float) -> float | None:
        calls.append(now_mono)
        return None if len(calls) == 3 else now_mono + 10.0

    def flaky(now_mono: float) -> float:
        failures.append(now_mono)
        raise RuntimeError("a failing task must not stop the daemon")

    started: list[bool] = []
    daemon.startup_hooks.append(lambda d: started.append(d.outbox is not None and d.amplifier is not None))
    daemon.add_timer("every-ten", every_ten)
    daemon.add_timer("flaky", flaky)
    thread, codes = run_in_thread(daemon)
    wait_until(lambda: len(calls) == 3 and len(failures) >= 2, 10, "the timers to fire")
    daemon.request_stop("test")
    thread.join(10)
    assert codes == [0] and started == [True]
    assert [round(b - a) for a, b in zip(calls, calls[1:], strict=False)] == [10, 10]
    assert round(failures[1] - failures[0]) == 60  # retried after TIMER_RETRY_S
    assert "every-ten" not in [t.name for t in daemon._timers]


def test_link_daemon_posted_work_runs_in_main_loop(tmp_path: Path) -> None:
    config = offline_config(tmp_path)
    daemon = Daemon(config, pin_factory=MockFactory())
    where: list[Any] = []
    thread, codes = run_in_thread(daemon)
    wait_until(lambda: daemon.outbox is not None, 10, "the daemon to start")
    daemon.post(lambda: where.append(threading.current_thread()))
    wait_until(lambda: where, 5, "posted work to run")
    daemon.request_stop("test")
    thread.join(10)
    assert where == [thread] and codes == [0]


def _broken_config(root: Path, breakage: str) -> Path:
    password_file = root / "station.password"
    if breakage == "empty-password-file":
        password_file.write_text("\n")
    elif breakage == "password-file-is-a-directory":
        password_file.mkdir()
    elif breakage == "binary-password-file":
        password_file.write_bytes(b"\xff\xfe\x00secret\n")
    elif not breakage.startswith("no-password-file"):
        password_file.write_text("secret\n")
    ca_file = root / "district-ca.crt"
    if breakage == "bad-ca-pem":
        ca_file.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    elif breakage == "empty-ca-file":
        ca_file.write_text("")
    elif breakage == "ca-is-a-directory":
        ca_file.mkdir()
    tls = {"ca": str(ca_file)} if "ca" in breakage.split("-") else None
    return minimal_station_yaml(root, key=breakage != "no-key", amplifier={"pin": 17},
                                mqtt={"host": "127.0.0.1", "port": 1, "username": "dak-koi-01",
                                      "password_file": str(password_file), "tls": tls})


@pytest.mark.parametrize(("breakage", "expected"), [
    ("no-key", "run keygen"),
    ("no-password-file", "mqtt.password_file: cannot read"),
    ("empty-password-file", "mqtt.password_file"),
    ("password-file-is-a-directory", "mqtt.password_file: cannot read {root}/station.password"),
    ("binary-password-file", "mqtt.password_file: {root}/station.password is not UTF-8 text"),
    ("missing-ca-file", "mqtt.tls.ca: cannot read {root}/district-ca.crt: No such file or directory"),
    ("bad-ca-pem", "mqtt.tls.ca: {root}/district-ca.crt holds no usable PEM CA certificate"),
    ("empty-ca-file", "mqtt.tls.ca: {root}/district-ca.crt holds no usable PEM CA certificate"),
    ("ca-is-a-directory", "mqtt.tls.ca: cannot read {root}/district-ca.crt"),
])
def test_link_run_startup_error_exits_1_naming_the_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                           breakage: str, expected: str) -> None:
    from firmware_daemon.cli import main

    config_path = _broken_config(tmp_path, breakage)
    assert main(["-c", str(config_path), "run"]) == 1
    err = capsys.readouterr().err
    assert expected.format(root=tmp_path) in err and "Traceback" not in err
    if "ca" in breakage.split("-") or "password" in breakage.split("-"):
        problem = next(line for line in err.splitlines() if "mqtt." in line)
        assert str(config_path) in problem  # one line names the config file, the key and the file


@pytest.mark.parametrize(("breakage", "expected"), [
    ("no-password-file", ["mqtt.password_file: cannot read"]),
    ("binary-password-file", ["mqtt.password_file: {root}/station.password is not UTF-8 text"]),
    ("missing-ca-file", ["mqtt.tls.ca: cannot read {root}/district-ca.crt: No such file or directory"]),
    ("bad-ca-pem", ["mqtt.tls.ca: {root}/district-ca.crt holds no usable PEM CA certificate"]),
    ("no-password-file-and-missing-ca", ["mqtt.password_file: cannot read",
                                         "mqtt.tls.ca: cannot read {root}/district-ca.crt"]),
])
def test_link_check_reports_what_run_would_fail_on(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   breakage: str, expected: list[str]) -> None:
    """``check`` lists the password and CA file problems ``run`` refuses at startup, all of them."""
    from firmware_daemon.cli import main

    config_path = _broken_config(tmp_path, breakage)
    assert main(["-c", str(config_path), "check"]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == f"{config_path}: {len(expected)} problem(s):"
    for line, text in zip(lines[1:], expected, strict=True):
        assert line.startswith("  - ") and text.format(root=tmp_path) in line


def test_link_check_passes_with_usable_password_and_ca(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mqtt_broker import make_tls_files

    from firmware_daemon.cli import main

    config_path = _broken_config(tmp_path, "good-ca")
    ca, _, _ = make_tls_files(tmp_path / "tls")
    (tmp_path / "district-ca.crt").write_bytes(ca.read_bytes())
    assert main(["-c", str(config_path), "check"]) == 0
    assert capsys.readouterr().out.startswith(f"OK: {config_path}")


def test_link_settings_built_by_hand_with_a_bad_ca_fail_naming_the_key(tmp_path: Path) -> None:
    """A link built from hand-made settings (not the config) still gets a ConfigError, not ssl's."""
    from firmware_daemon.link.client import StationLink
    from firmware_daemon.link.settings import LinkSettings
    from firmware_daemon.service.status import StationState, StatusBuilder
    from radio_protocol.errors import ConfigError
    from radio_protocol.jose import KeyRing

    ca = tmp_path / "ca.crt"
    ca.write_text("not a certificate\n")
    settings = LinkSettings(district="kon-ray", station="dak-koi-01", host="127.0.0.1", tls=True, tls_ca=ca)
    signer = Signer(load_or_create_private_key(tmp_path / "station.key")[0])
    clock = SimulatedClock(T0)
    status = StatusBuilder(station="dak-koi-01", signer=signer, clock=clock, state=StationState(),
                           clock_synced=lambda: True, tz=UTC)
    with pytest.raises(ConfigError, match=f"mqtt.tls.ca: {ca} holds no usable PEM CA certificate"):
        StationLink(settings, district_keys=KeyRing([]), outbox_factory=lambda: None,  # type: ignore[arg-type,return-value]
                    status=status, clock=clock)
