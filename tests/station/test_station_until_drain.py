"""``run --simulate START --until END`` waits (bounded) for the last acks before it exits;
with the broker unreachable it gives up soon and names what is pending. (With a collector
acking: tests/system/test_delivery_offline_airings.py.)"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from mqtt_broker import BrokerEnv, free_port
from scheduled_station_kit import UNTIL_RUN, pending_after, prepared_station

from firmware_daemon.cli import main as station_main


@pytest.mark.timeout(60)
def test_until_run_with_broker_unreachable_exits_soon_naming_what_is_pending(
        mqtt_env: BrokerEnv, tmp_path: Path, capture_file: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    path = prepared_station(mqtt_env, tmp_path, port=free_port())  # nothing listens there
    started = time.monotonic()
    assert station_main(["-c", str(path), *UNTIL_RUN]) == 0
    assert time.monotonic() - started < 8  # gave up early: the link never came up
    assert pending_after(path) == (4, 4)  # kept for the next start, nothing lost
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("outbox not drained")]
    assert len(lines) == 1
    assert lines[0].startswith("outbox not drained at --until pending=4 seqs=1,2,3,4 link=down ")
