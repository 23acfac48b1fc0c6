"""The station as a real process against a real Mosquitto: Last Will after SIGKILL, clean
SIGTERM, a start with the broker down.

The station runs in a subprocess (``radio-station run``); this process watches its status
as the district would. SIGKILL during delivery to the real collector:
tests/system/test_delivery_link_to_collector.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from mqtt_broker import BrokerEnv
from test_link_support import REPO, STATION, write_station_config
from waiting import wait_until

from radio_protocol.jose import KeyRing, verify
from radio_protocol.names import STATUS_TYP
from radio_protocol.topics import topic


@pytest.fixture
def env(mqtt_env: BrokerEnv) -> BrokerEnv:
    """The shared real-Mosquitto district (``mqtt_env``, tests/mqtt_broker.py) under a short name."""
    return mqtt_env


def run_cli(config_path: Path, log_path: Path) -> subprocess.Popen[bytes]:
    """``radio-station -c CONFIG run`` as a subprocess."""
    with log_path.open("ab") as log:
        return subprocess.Popen([sys.executable, "-m", "firmware_daemon.cli", "-c", str(config_path), "run"],
                                stdout=log, stderr=log, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)))


class StatusWatcher:
    """A district-side subscriber to one station's retained status, verifying signatures."""

    def __init__(self, env: BrokerEnv, station: str = STATION) -> None:
        self.keys = KeyRing.from_jwks([env.stations[station].jwk])
        self.seen: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.client = env.client("collector")
        self.client.on_message = self._on_message
        self.client.subscribe(topic("kon-ray", station, "status"), qos=1)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        payload = verify(bytes(message.payload), self.keys, STATUS_TYP).payload
        with self._lock:
            self.seen.append(payload)

    def states(self) -> list[str]:
        with self._lock:
            return [p["state"] for p in self.seen]

    def last(self) -> dict[str, Any]:
        with self._lock:
            return self.seen[-1]


def test_link_last_will_offline_after_sigkill(env: BrokerEnv, tmp_path: Path,
                                              procs: list[subprocess.Popen[bytes]]) -> None:
    watcher = StatusWatcher(env)
    proc = run_cli(write_station_config(env, tmp_path / "st"), tmp_path / "station.log")
    procs.append(proc)
    wait_until(lambda: "online" in watcher.states(), 15, "the station's online status")
    proc.kill()
    proc.wait(5)
    wait_until(lambda: watcher.states()[-1] == "offline", 10, "the Last Will (offline status)")
    will = watcher.last()
    assert (will["station"], will["type"], will["amp"]) == (STATION, "status", "off")


def test_link_run_sigterm_publishes_offline_and_exits_0(env: BrokerEnv, tmp_path: Path,
                                                       procs: list[subprocess.Popen[bytes]]) -> None:
    watcher = StatusWatcher(env)
    log_path = tmp_path / "station.log"
    proc = run_cli(write_station_config(env, tmp_path / "st"), log_path)
    procs.append(proc)
    wait_until(lambda: "online" in watcher.states(), 15, "the station's online status")
    proc.terminate()
    assert proc.wait(10) == 0
    wait_until(lambda: watcher.states()[-1] == "offline", 5, "the offline status of a clean stop")
    log = log_path.read_text()
    assert "amplifier forced off at start" in log and "amplifier off at shutdown" in log
    assert log.index("mqtt link stopped") < log.index("amplifier off at shutdown")


def test_link_run_starts_with_broker_down(env: BrokerEnv, tmp_path: Path,
                                          procs: list[subprocess.Popen[bytes]]) -> None:
    config_path = write_station_config(env, tmp_path / "st")
    env.broker.stop()
    log_path = tmp_path / "station.log"
    proc = run_cli(config_path, log_path)
    procs.append(proc)
    wait_until(lambda: "daemon running" in log_path.read_text(), 15, "the daemon to start")
    time.sleep(0.5)
    assert proc.poll() is None
    proc.send_signal(2)  # SIGINT
    assert proc.wait(10) == 0
    assert "amplifier off at shutdown" in log_path.read_text()
