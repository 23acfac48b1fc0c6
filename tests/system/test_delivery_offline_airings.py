"""Airings recorded while the district is away reach its store exactly once.

The real station daemon airs its stored schedule (4 slots, tests/station/scheduled_station_kit.py)
on a simulated clock; the real collector, against a real Mosquitto, stores what the station's
link delivers: after a whole run with the broker down, and at the end of a
``run --simulate --until`` that waits for its last acks before it exits.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from mqtt_broker import BrokerEnv
from scheduled_station_kit import SLOTS, STATION, UNTIL_RUN, pending_after, prepared_station
from test_link_support import make_link
from waiting import wait_until

from district_collector.intake.service import CollectorService
from district_collector.store.sqlite import SqliteStore
from firmware_daemon.airing.outbox import Outbox
from firmware_daemon.cli import main as station_main
from firmware_daemon.config import load_station_config
from firmware_daemon.daemon import Daemon
from firmware_daemon.daemon import install_scheduler as install
from radio_protocol.clock import SimulatedClock
from radio_protocol.jose import Signer, load_private_key, parse_jws
from radio_protocol.timefmt import parse_rfc3339


@pytest.mark.timeout(90)
def test_station_airs_with_broker_down_then_collector_stores_each_once(
        mqtt_env: BrokerEnv, tmp_path: Path, mock_factory: Any, capture_file: Path) -> None:
    config = load_station_config(prepared_station(mqtt_env, tmp_path))

    mqtt_env.broker.stop()  # the district is unreachable for the whole run
    clock = SimulatedClock(parse_rfc3339("2024-03-01T00:00:00+07:00"))
    daemon = Daemon(config, clock=clock, pin_factory=mock_factory)
    daemon.startup_hooks.append(install)
    daemon.max_idle_s = 86400.0
    end_at = parse_rfc3339("2024-03-10T00:00:00+07:00")

    def stop_at_end(now_mono: float) -> float:
        if clock.now() < end_at:
            return now_mono + (end_at - clock.now()).total_seconds()
        daemon.request_stop("simulated days done")
        return now_mono + 1.0
    daemon.add_timer("end", stop_at_end)
    assert daemon.run() == 0
    assert daemon.link is not None and daemon.link.stats.connects == 0  # it tried, in vain
    assert [s.state for s in mock_factory.pin(17).states] == [False] + [True, False] * 4
    with Outbox(config.outbox_path) as outbox:
        assert (outbox.last_seq(), outbox.pending_count()) == (4, 4)

    mqtt_env.broker.start()
    collector = CollectorService(mqtt_env.config, mqtt_env.district_signer)
    collector.start()
    outbox = Outbox(config.outbox_path, Signer(load_private_key(config.key_path)))
    link = make_link(config, outbox)
    link.start()
    try:
        wait_until(lambda: outbox.pending_count() == 0, 20, "the airings recorded offline to be acked")
    finally:
        link.stop()
        collector.stop()
        outbox.close()
    time.sleep(0.05)
    with SqliteStore(mqtt_env.config.database) as db:
        assert db.seqs(STATION) == [1, 2, 3, 4]
        events = [json.loads(parse_jws(r.jws)[2]) for r in db.iter_events(STATION)]
        summary = db.seq_summary(STATION)
    assert [(e["slot"], e["outcome"]) for e in events] == [(s, "completed") for s in SLOTS]
    assert (summary.gaps, summary.chain_breaks, summary.conflicts) == ((), (), ())


@pytest.mark.timeout(60)
def test_until_run_exits_after_the_last_acks(mqtt_env: BrokerEnv, tmp_path: Path,
                                             capture_file: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    path = prepared_station(mqtt_env, tmp_path)
    collector = CollectorService(mqtt_env.config, mqtt_env.district_signer)
    collector.start()
    try:
        assert station_main(["-c", str(path), *UNTIL_RUN]) == 0
    finally:
        collector.stop()
    assert pending_after(path) == (4, 0)  # every event acked before the process exited
    with SqliteStore(mqtt_env.config.database) as store:
        stored = [json.loads(parse_jws(row.jws)[2])["seq"] for row in store.iter_events(STATION)]
    assert stored == [1, 2, 3, 4]
    assert any(r.getMessage().startswith("outbox drained at --until") for r in caplog.records)
