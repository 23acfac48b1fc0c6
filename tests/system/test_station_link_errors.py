"""A real ``radio-station run`` that cannot reach its broker says why, and
``radio-station status`` shows the same.

Real parts: Mosquitto configured by ``radio-district broker-config`` (``mqtt_env``, with
its TLS listener), the station as a subprocess exactly as systemd starts it, and
``radio-station status`` as a second process reading the state file the first writes.
Each broken setup (a CA that did not sign the broker, a wrong password, a closed port,
a host name that does not resolve) must be logged once with its reason and host:port,
not again while the same failure repeats (within 5 minutes), and show in ``status``
(exit 3, link down, the same last error); after SIGTERM ``status`` says it is not
running (exit 1). With the broker up, ``status`` shows the link connected, nothing
pending, the schedule in force and its next slot.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from mqtt_broker import BrokerEnv, make_tls_files
from schedule_testkit import make_wav, payload, segment, sha256_hex
from scheduled_station_kit import station_yaml
from test_link_support import REPO, write_station_config
from waiting import wait_until

from district_collector.admin.local_broker import free_port
from firmware_daemon.config import load_station_config
from firmware_daemon.schedule.store import ScheduleStore
from firmware_daemon.service.state_file import STATE_FILE_NAME, read_state_file
from radio_protocol.jose import KeyRing
from radio_protocol.names import SCHEDULE_TYP
from radio_protocol.timefmt import format_rfc3339

FIRST_REPORT = "mqtt cannot reach the broker station=dak-koi-01"
REPEAT_REPORT = "mqtt still cannot reach the broker"
ENV = dict(os.environ, PYTHONPATH=str(REPO))


@pytest.fixture
def env(mqtt_env: BrokerEnv) -> BrokerEnv:
    return mqtt_env


def start_station(config: Path, log_path: Path, procs: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    """``radio-station -c CONFIG run`` as systemd runs it (log to a file)."""
    with log_path.open("ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "firmware_daemon.cli", "-c", str(config), "run"],
                                stdout=log, stderr=log, cwd=REPO, env=ENV)
    procs.append(proc)
    return proc


def station_status(config: Path, *extra: str) -> tuple[int, str]:
    """``radio-station -c CONFIG status`` in its own process: (exit code, stdout)."""
    done = subprocess.run([sys.executable, "-m", "firmware_daemon.cli", "-c", str(config), "status", *extra],
                          capture_output=True, text=True, cwd=REPO, env=ENV, timeout=60)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout


def link_state(config: Path) -> dict[str, Any] | None:
    state = read_state_file(load_station_config(config).data_dir / STATE_FILE_NAME)
    return None if state is None else state.data.get("link")


def broken_config(env: BrokerEnv, root: Path, case: str) -> tuple[Path, str, str]:
    """A station config broken as ``case`` says: (path, failure kind, words its reason must hold)."""
    tls = case == "tls-other-ca"
    path = write_station_config(env, root, tls=tls)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    mqtt = data["mqtt"]
    if tls:
        mqtt["tls"]["ca"] = str(make_tls_files(root / "other-ca")[0])
        kind, words = "tls-handshake", (f"TLS handshake failed with localhost:{env.broker.tls_port}: "
                                        "certificate verify failed: ")
    elif case == "wrong-password":
        wrong = root / "wrong.password"
        wrong.write_text("not-the-password\n", encoding="utf-8")
        os.chmod(wrong, 0o600)
        mqtt["password_file"] = str(wrong)
        kind, words = "refused-credentials", (f"broker 127.0.0.1:{env.broker.port} refused credentials "
                                              "for user 'dak-koi-01': Not authorized")
    elif case == "closed-port":
        mqtt["port"] = free_port()
        kind, words = "connection-refused", f"connection refused by 127.0.0.1:{mqtt['port']}"
    else:
        mqtt["host"] = "nonexistent.invalid"
        kind, words = "dns", "DNS lookup of 'nonexistent.invalid' failed: "
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path, kind, words


@pytest.mark.parametrize("case", ["tls-other-ca", "wrong-password", "closed-port", "dns"])
def test_station_link_error_logged_once_and_shown_by_status(
        env: BrokerEnv, tmp_path: Path, procs: list[subprocess.Popen[bytes]], case: str) -> None:
    config, kind, words = broken_config(env, tmp_path / "st", case)
    log_path = tmp_path / "station.log"
    proc = start_station(config, log_path, procs)
    # paho retries after 1, 2, 4 s: three failed attempts, all within the 5-minute interval
    link = wait_until(lambda: (s := link_state(config)) and s["failures"] >= 3 and s, 90,
                      "three failed connection attempts in the state file", step_s=0.2)
    assert link["state"] == "down" and link["last_error"]["kind"] == kind
    assert words in link["last_error"]["detail"]
    lines = log_path.read_text(encoding="utf-8").splitlines()
    reports = [line for line in lines if FIRST_REPORT in line or REPEAT_REPORT in line]
    assert len(reports) == 1, reports  # once, not at every retry
    assert f"kind={kind} failures=1: " in reports[0] and words in reports[0]
    assert "mqtt link started" in "\n".join(lines)

    code, out = station_status(config)
    assert code == 3, out
    assert "Service:          running (pid " in out and "Link:             DOWN since " in out
    assert f"Last link error:  {kind} at " in out and words in out
    code, out = station_status(config, "--format", "json")
    report = json.loads(out)
    assert (code, report["service"]) == (3, "running")
    assert report["state"]["link"]["last_error"]["kind"] == kind

    proc.terminate()
    assert proc.wait(60) == 0
    code, out = station_status(config)
    assert code == 1 and "NOT RUNNING: stopped at " in out
    assert f"Last link error:  {kind} at " in out  # the last known state


def station_with_schedule(env: BrokerEnv, root: Path) -> tuple[Path, datetime]:
    """dak-koi-01 with a signed schedule in force now (daily at 06:30 from tomorrow, local
    time) and its media in the cache: (config path, the next slot)."""
    path = station_yaml(root, env)
    config = load_station_config(path)
    now_at = datetime.now(config.tz)
    first_at = datetime.combine(now_at.date() + timedelta(days=1), datetime.min.time(), config.tz).replace(
        hour=6, minute=30)
    wav = make_wav(root / "a.wav", seconds=0.2)
    body = payload(issued_at=format_rfc3339(now_at - timedelta(hours=1)),
                   valid_from=(now_at.date() - timedelta(days=1)).isoformat(),
                   valid_until=(now_at.date() + timedelta(days=30)).isoformat(),
                   segments=[segment("cds-a", sha=sha256_hex(wav), size=len(wav))],
                   slots=[{"segment": "cds-a", "rrule": "FREQ=DAILY", "dtstart": format_rfc3339(first_at)}])
    store = ScheduleStore(config.data_dir / "schedule", district="kon-ray", station="dak-koi-01",
                          keys=KeyRing.from_jwks([env.district_jwk]))
    assert store.offer(env.district_signer.sign(body, SCHEDULE_TYP), now_at).accepted
    store.close()
    (config.data_dir / "media").mkdir(exist_ok=True)
    (config.data_dir / "media" / sha256_hex(wav)).write_bytes(wav)
    return path, first_at


def test_station_status_connected_after_the_broker_comes_up(
        env: BrokerEnv, tmp_path: Path, procs: list[subprocess.Popen[bytes]]) -> None:
    config, next_at = station_with_schedule(env, tmp_path)
    env.broker.stop()
    log_path = tmp_path / "station.log"
    start_station(config, log_path, procs)
    wait_until(lambda: (s := link_state(config)) and s["failures"] >= 1, 60, "a refused connection")
    code, out = station_status(config)
    assert code == 3 and "Last link error:  connection-refused at " in out
    env.broker.start()
    wait_until(lambda: (s := link_state(config)) and s["state"] == "connected", 90,
               "the link to connect once the broker is up", step_s=0.2)
    code, out = station_status(config)
    assert code == 0, out
    assert "Link:             connected since " in out
    assert f"Broker:           127.0.0.1:{env.broker.port} (plain)" in out
    assert "Pending events:   0 (last seq 0)" in out
    assert "Schedule:         version 1, valid " in out and ", in force since " in out
    assert f'Next slot:        {next_at:%Y-%m-%d} 06:30:00 +07:00 cds-a "Chuyển đổi số là gì?"' in out
    assert "Last link error:  connection-refused at " in out  # kept after the success, with its time
    text = log_path.read_text(encoding="utf-8")
    assert f"mqtt connected station=dak-koi-01 broker=127.0.0.1:{env.broker.port} session_present=False after " in text
    assert "failures (last: connection-refused)" in text
