"""The whole program on a simulated clock: a month of catalogue aired, delivered, stored.

District: the shipped example catalogue (October 2026) is published by the real
``radio-district schedule publish`` to a real Mosquitto; media is served over HTTP.
Station: the real daemon (``Daemon`` + the slot runner hook that ``radio-station run``
uses) with gpiozero's MockFactory pins and real PortAudio into the ALSA file device
``testout``; the schedule arrives retained over MQTT, media is fetched by SHA-256, and the
simulated clock runs the month in seconds. The collector (real service, real broker)
must end with exactly the catalogue's slots as ``completed`` events, and the amplifier
pin must have switched on and off around each one.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from gpiozero.pins.mock import MockFactory
from mqtt_broker import BrokerEnv, make_district
from schedule_testkit import make_wav, media_server, new_signer, payload, segment, sha256_hex
from scheduled_station_kit import PIN, station_yaml
from test_schedule_catalogue import example_catalogue, retained, with_media

from district_collector.cli import main as district_main
from district_collector.config import MediaConfig
from district_collector.intake.service import CollectorService
from district_collector.schedules.catalogue import load_catalogue, schedule_payload
from district_collector.schedules.publish import resolve_media
from district_collector.store.sqlite import SqliteStore
from firmware_daemon.airing.outbox import Outbox
from firmware_daemon.cli import main as station_main
from firmware_daemon.config import load_station_config
from firmware_daemon.daemon import Daemon
from firmware_daemon.daemon import install_scheduler as install
from firmware_daemon.schedule.store import ScheduleStore
from radio_protocol.clock import SimulatedClock
from radio_protocol.jose import KeyRing, load_or_create_private_key, parse_jws
from radio_protocol.names import SCHEDULE_TYP
from radio_protocol.schedule.expand import expand
from radio_protocol.schedule.parse import parse_schedule
from radio_protocol.timefmt import parse_rfc3339

START = "2026-09-30T22:00:00+07:00"
END = "2026-11-01T00:00:00+07:00"


def stored_events(env: BrokerEnv) -> list[dict[str, Any]]:
    with SqliteStore(env.config.database) as store:
        return [json.loads(parse_jws(row.jws)[2]) for row in store.iter_events("dak-koi-01")]


@pytest.mark.timeout(120)
def test_month_of_catalogue_airs_every_slot_once_and_reaches_the_collector(
        mqtt_env: BrokerEnv, tmp_path: Path, mock_factory: Any, capture_file: Path) -> None:
    cat_path = example_catalogue(tmp_path / "office", seconds=0.25)
    media_dir = tmp_path / "district-media"
    collector = CollectorService(mqtt_env.config, mqtt_env.district_signer)
    collector.start()
    with media_server() as server:
        server.directory = media_dir
        with_media(mqtt_env, media_dir, server.url("/media"))
        assert district_main(["-c", str(mqtt_env.district_config), "schedule", "publish",
                              str(cat_path), "--stations", "dak-koi-01"]) == 0
        schedule = parse_schedule(json.loads(parse_jws(retained(mqtt_env, "dak-koi-01"))[2]))
        expected = {(s.segment.id, s.at) for s in expand(schedule)}
        assert len(expected) == 25

        config = load_station_config(station_yaml(tmp_path, mqtt_env))
        clock = SimulatedClock(parse_rfc3339(START))
        daemon = Daemon(config, clock=clock, pin_factory=mock_factory)
        daemon.startup_hooks.append(install)
        daemon.max_idle_s = 86400.0
        end_at = parse_rfc3339(END)

        def stop_when_month_delivered(now_mono: float) -> float:
            if clock.now() < end_at:
                return now_mono + (end_at - clock.now()).total_seconds()
            outbox = daemon.outbox
            if outbox is not None and outbox.pending_count() == 0 and outbox.last_seq() >= 25:
                daemon.request_stop("month done")
            time.sleep(0.02)  # real time for the link and the collector to deliver and ack
            return now_mono

        daemon.add_timer("month-end", stop_when_month_delivered)
        started = time.monotonic()
        assert daemon.run() == 0
        real_s = time.monotonic() - started
    for _ in range(100):  # the last events' acks came back, so they are committed; be safe
        if len(stored_events(mqtt_env)) >= 25:
            break
        time.sleep(0.05)
    collector.stop()

    events = sorted(stored_events(mqtt_env), key=lambda e: e["seq"])
    assert [e["seq"] for e in events] == list(range(1, 26))
    assert {(e["segment"]["id"], parse_rfc3339(e["slot"])) for e in events} == expected
    assert {e["outcome"] for e in events} == {"completed"}
    assert {e["schedule_version"] for e in events} == {1}
    for e in events:
        slot_at, on_at = parse_rfc3339(e["slot"]), parse_rfc3339(e["amp"]["on_at"])
        started_at = parse_rfc3339(e["started_at"])
        assert timedelta(0) <= started_at - slot_at < timedelta(seconds=10)  # on the minute
        assert started_at - on_at >= timedelta(seconds=2)  # warm-up before the first sample
        assert parse_rfc3339(e["amp"]["off_at"]) > parse_rfc3339(e["ended_at"])
        assert e["played_s"] == pytest.approx(0.25, abs=0.01)
        # the audio took simulated time: ended_at - started_at is the played duration
        assert (parse_rfc3339(e["ended_at"]) - started_at).total_seconds() == pytest.approx(
            e["played_s"], abs=0.002)
    on_time = [e for e in events if e["started_at"] == e["slot"]]
    assert len(on_time) == 24  # the one exception queued behind a priority slot at 17:00 on 10/08
    queued = next(e for e in events if e not in on_time)
    assert (queued["segment"]["id"], queued["slot"]) == ("cds-2026-10-mo-hinh", "2026-10-08T17:00:00.000+07:00")
    assert [s.state for s in mock_factory.pin(PIN).states] == [False] + [True, False] * 25
    # the last airing went through real PortAudio into the ALSA file device
    last = sf.read(str(cat_path.parent / "media" / "cds-2026-10-thuong-mai-dien-tu.wav"), dtype="int16")[0]
    captured = np.fromfile(capture_file, dtype=np.int16)
    nonzero = np.flatnonzero(captured)
    assert nonzero.size and np.array_equal(captured[nonzero[0]:nonzero[-1] + 1],
                                           last[np.flatnonzero(last)[0]:np.flatnonzero(last)[-1] + 1])
    assert real_s < 60


def test_month_cli_simulate_airs_schedule_already_in_force(tmp_path: Path, capture_file: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """``radio-station run --simulate START --until END`` airs a stored schedule, no network."""
    district = new_signer()
    path = station_yaml(tmp_path, None, f"district_keys: [{json.dumps(district.public_jwk)}]\n")
    config = load_station_config(path)
    load_or_create_private_key(config.key_path)
    assert station_main(["-c", str(path), "schedule"]) == 0
    assert "no schedule in force at station dak-koi-01" in capsys.readouterr().out
    wav = make_wav(tmp_path / "a.wav", seconds=0.2)
    store = ScheduleStore(config.data_dir / "schedule", district="kon-ray", station="dak-koi-01",
                          keys=KeyRing.from_jwks([district.public_jwk]))
    body = payload(segments=[segment("cds-a", sha=sha256_hex(wav), size=len(wav))])
    assert store.offer(district.sign(body, SCHEDULE_TYP), parse_rfc3339("2024-02-28T00:00:00+07:00")).accepted
    store.close()
    (config.data_dir / "media").mkdir(exist_ok=True)
    (config.data_dir / "media" / sha256_hex(wav)).write_bytes(wav)
    assert station_main(["-c", str(path), "run", "--simulate", "2024-03-01T00:00:00+07:00",
                         "--until", "2024-03-10T00:00:00+07:00"]) == 0
    assert station_main(["-c", str(path), "events"]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("{")]
    got = [(json.loads(parse_jws(ln)[2])["slot"], json.loads(parse_jws(ln)[2])["outcome"]) for ln in lines]
    assert got == [("2024-03-01T17:00:00.000+07:00", "completed"), ("2024-03-05T06:30:00.000+07:00", "completed"),
                   ("2024-03-05T17:00:00.000+07:00", "completed"), ("2024-03-08T17:00:00.000+07:00", "completed")]
    assert station_main(["-c", str(path), "schedule", "--at", "2024-03-10T00:00:00+07:00", "--next", "2"]) == 0
    out = capsys.readouterr().out
    assert "schedule version 1 for dak-koi-01" in out and "aired 4" in out
    assert "2024-03-12 Tue 17:00  cds-a" in out and "2024-03-15 Fri 17:00" in out


def test_month_daemon_restarts_and_downtime_never_reair_nor_skip_silently(tmp_path: Path,
                                                                          capture_file: Path) -> None:
    """Three daemon runs over one month (no network): stopped Oct 9 06:20, back Oct 11 12:00."""
    district = new_signer()
    kit = make_district(tmp_path / "district")
    catalogue = load_catalogue(example_catalogue(tmp_path / "office", seconds=0.2))
    media_dir = tmp_path / "station" / "media"
    config_path = station_yaml(tmp_path, None, f"district_keys: [{json.dumps(district.public_jwk)}]\n")
    config = load_station_config(config_path)
    load_or_create_private_key(config.key_path)
    district_cfg = dataclasses.replace(kit.config, media=MediaConfig("https://m.example/media", media_dir))
    media = resolve_media(catalogue, district_cfg)
    for info in media.values():  # the station's cache holds the files by sha256 (fetched earlier)
        src = media_dir / info["url"].rsplit("/", 1)[1]
        shutil.copy(src, media_dir / info["sha256"])
    body = schedule_payload(catalogue, district="kon-ray", station="dak-koi-01", version=1,
                            issued_at=parse_rfc3339("2026-09-25T08:00:00+07:00"), media=media)
    store = ScheduleStore(config.data_dir / "schedule", district="kon-ray", station="dak-koi-01",
                          keys=KeyRing.from_jwks([district.public_jwk]))
    assert store.offer(district.sign(body, SCHEDULE_TYP), parse_rfc3339(START)).accepted
    store.close()
    clock = SimulatedClock(parse_rfc3339(START))

    def run_until(text: str) -> list[bool]:
        factory = MockFactory()
        daemon = Daemon(config, clock=clock, pin_factory=factory)
        daemon.startup_hooks.append(install)
        daemon.max_idle_s = 86400.0
        until_at = parse_rfc3339(text)

        def stop(now_mono: float) -> float | None:
            if clock.now() >= until_at:
                daemon.request_stop("test")
                return None
            return now_mono + (until_at - clock.now()).total_seconds()

        daemon.add_timer("until", stop)
        assert daemon.run() == 0
        return [s.state for s in factory.pin(PIN).states]

    first = run_until("2026-10-09T06:20:00+07:00")
    clock.advance(60)  # a reboot a minute later, clock a bit behind: nothing airs twice
    clock.step_wall(-30 * 60)
    second = run_until("2026-10-09T06:40:00+07:00")
    clock.advance(2 * 86400 + 5 * 3600 + 20 * 60)  # down from Oct 9 06:40 until Oct 11 12:00
    third = run_until(END)
    with Outbox(config.outbox_path) as outbox:
        events = [json.loads(parse_jws(j)[2]) for j in outbox.events(0)]
    by_outcome: dict[str, list[str]] = {}
    for e in events:
        by_outcome.setdefault(f"{e['outcome']}/{e['reason']}", []).append(e["slot"][:16])
    assert [e["seq"] for e in events] == list(range(1, 26))
    assert len({(e["segment"]["id"], e["slot"]) for e in events}) == 25  # every slot exactly once
    assert by_outcome["missed/station-down"] == ["2026-10-09T17:00", "2026-10-10T06:00", "2026-10-10T17:00"]
    assert len(by_outcome["completed/None"]) == 22
    assert "2026-10-09T06:30" in by_outcome["completed/None"]  # 06:30 aired in the second run
    assert first.count(True) + second.count(True) + third.count(True) == 22
