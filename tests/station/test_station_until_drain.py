"""``run --simulate START --until END`` waits (bounded) for the last acks before it exits, so
the district does not keep showing the station's last events as pending."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
from mqtt_broker import BrokerEnv, free_port
from schedule_testkit import make_wav, payload, segment, sha256_hex
from test_schedule_month import station_yaml

from district_collector.intake.service import CollectorService
from district_collector.store.sqlite import SqliteStore
from firmware_daemon.airing.outbox import Outbox
from firmware_daemon.cli import main as station_main
from firmware_daemon.config import load_station_config
from firmware_daemon.schedule.store import ScheduleStore
from radio_protocol.jose import KeyRing, parse_jws
from radio_protocol.names import SCHEDULE_TYP
from radio_protocol.timefmt import parse_rfc3339

STATION = "dak-koi-01"
RUN = ["run", "--simulate", "2024-03-01T00:00:00+07:00", "--until", "2024-03-10T00:00:00+07:00"]


def prepared_station(env: BrokerEnv, tmp_path: Path, port: int | None = None) -> Path:
    """A station with the district's schedule (4 slots up to 03-10) in force and its media."""
    path = station_yaml(tmp_path, env)
    if port is not None:
        path.write_text(path.read_text().replace(f"port: {env.broker.port},", f"port: {port},"))
    config = load_station_config(path)
    wav = make_wav(tmp_path / "a.wav", seconds=0.2)
    store = ScheduleStore(config.data_dir / "schedule", district="kon-ray", station=STATION,
                          keys=KeyRing.from_jwks([env.district_jwk]))
    body = payload(segments=[segment("cds-a", sha=sha256_hex(wav), size=len(wav))])
    assert store.offer(env.district_signer.sign(body, SCHEDULE_TYP),
                       parse_rfc3339("2024-02-28T00:00:00+07:00")).accepted
    store.close()
    (config.data_dir / "media").mkdir(exist_ok=True)
    (config.data_dir / "media" / sha256_hex(wav)).write_bytes(wav)
    return path


def pending_after(path: Path) -> tuple[int, int]:
    with Outbox(load_station_config(path).outbox_path) as outbox:
        return outbox.last_seq(), outbox.pending_count()


@pytest.mark.timeout(60)
def test_until_run_exits_after_the_last_acks(mqtt_env: BrokerEnv, tmp_path: Path,
                                             capture_file: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    path = prepared_station(mqtt_env, tmp_path)
    collector = CollectorService(mqtt_env.config, mqtt_env.district_signer)
    collector.start()
    try:
        assert station_main(["-c", str(path), *RUN]) == 0
    finally:
        collector.stop()
    assert pending_after(path) == (4, 0)  # every event acked before the process exited
    with SqliteStore(mqtt_env.config.database) as store:
        stored = [json.loads(parse_jws(row.jws)[2])["seq"] for row in store.iter_events(STATION)]
    assert stored == [1, 2, 3, 4]
    assert any(r.getMessage().startswith("outbox drained at --until") for r in caplog.records)


@pytest.mark.timeout(60)
def test_until_run_with_broker_unreachable_exits_soon_naming_what_is_pending(
        mqtt_env: BrokerEnv, tmp_path: Path, capture_file: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    path = prepared_station(mqtt_env, tmp_path, port=free_port())  # nothing listens there
    started = time.monotonic()
    assert station_main(["-c", str(path), *RUN]) == 0
    assert time.monotonic() - started < 8  # gave up early: the link never came up
    assert pending_after(path) == (4, 4)  # kept for the next start, nothing lost
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("outbox not drained")]
    assert len(lines) == 1
    assert lines[0].startswith("outbox not drained at --until pending=4 seqs=1,2,3,4 link=down ")
