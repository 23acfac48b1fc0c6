"""End to end with the broker down: the real station daemon (MQTT configured, nothing
listening) airs its stored schedule on a simulated clock; once Mosquitto and the
collector are up, every airing reaches the district's store exactly once."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from mqtt_broker import BrokerEnv
from schedule_testkit import make_wav, payload, segment, sha256_hex
from test_link_support import make_link, wait_until
from test_schedule_month import station_yaml

from district_collector.intake.service import CollectorService
from district_collector.store.sqlite import SqliteStore
from firmware_daemon.airing.outbox import Outbox
from firmware_daemon.config import load_station_config
from firmware_daemon.daemon import Daemon
from firmware_daemon.daemon import install_scheduler as install
from firmware_daemon.schedule.store import ScheduleStore
from radio_protocol.clock import SimulatedClock
from radio_protocol.jose import KeyRing, Signer, load_private_key, parse_jws
from radio_protocol.timefmt import parse_rfc3339

SLOTS = ["2024-03-01T17:00:00.000+07:00", "2024-03-05T06:30:00.000+07:00",
         "2024-03-05T17:00:00.000+07:00", "2024-03-08T17:00:00.000+07:00"]


@pytest.mark.timeout(90)
def test_station_airs_with_broker_down_then_collector_stores_each_once(
        mqtt_env: BrokerEnv, tmp_path: Path, mock_factory: Any, capture_file: Path) -> None:
    config = load_station_config(station_yaml(tmp_path, mqtt_env))
    wav = make_wav(tmp_path / "a.wav", seconds=0.2)
    store = ScheduleStore(config.data_dir / "schedule", district="kon-ray", station="dak-koi-01",
                          keys=KeyRing.from_jwks([mqtt_env.district_jwk]))
    body = payload(segments=[segment("cds-a", sha=sha256_hex(wav), size=len(wav))])
    offered = store.offer(mqtt_env.district_signer.sign(body, "cr-schedule+json"),
                          parse_rfc3339("2024-02-28T00:00:00+07:00"))
    assert offered.accepted
    store.close()
    (config.data_dir / "media").mkdir(exist_ok=True)
    (config.data_dir / "media" / sha256_hex(wav)).write_bytes(wav)

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
        assert db.seqs("dak-koi-01") == [1, 2, 3, 4]
        events = [json.loads(parse_jws(r.jws)[2]) for r in db.iter_events("dak-koi-01")]
        summary = db.seq_summary("dak-koi-01")
    assert [(e["slot"], e["outcome"]) for e in events] == [(s, "completed") for s in SLOTS]
    assert (summary.gaps, summary.chain_breaks, summary.conflicts) == ((), (), ())
