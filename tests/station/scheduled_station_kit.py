"""A station config on disk for the whole-daemon tests, and a station with a schedule in force.

:func:`station_yaml` writes ``dak-koi-01``'s config (mock GPIO on pin :data:`PIN`, PortAudio
into the ALSA file device ``testout``), with the ``mqtt`` section and district key of a
``BrokerEnv`` (tests/mqtt_broker.py) when one is given. :func:`prepared_station` adds the
district's signed schedule (one segment, 4 slots from 2024-03-01 to 03-10) already in the
schedule store and its media in place, so a run on a simulated clock airs 4 slots.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from mqtt_broker import BrokerEnv
from schedule_testkit import make_wav, payload, segment, sha256_hex

from firmware_daemon.airing.outbox import Outbox
from firmware_daemon.config import load_station_config
from firmware_daemon.schedule.store import ScheduleStore
from radio_protocol.jose import KeyRing
from radio_protocol.names import SCHEDULE_TYP
from radio_protocol.timefmt import parse_rfc3339

STATION = "dak-koi-01"
PIN = 17
# The 4 slots the prepared station's schedule holds before 2024-03-10.
SLOTS = ["2024-03-01T17:00:00.000+07:00", "2024-03-05T06:30:00.000+07:00",
         "2024-03-05T17:00:00.000+07:00", "2024-03-08T17:00:00.000+07:00"]
# ``radio-station run`` arguments that air the prepared station's 4 slots on a simulated clock.
UNTIL_RUN = ["run", "--simulate", "2024-03-01T00:00:00+07:00", "--until", "2024-03-10T00:00:00+07:00"]


def station_yaml(root: Path, env: BrokerEnv | None, extra: str = "") -> Path:
    """``root/station.yaml`` for dak-koi-01 (data in ``root/station``), plus ``extra`` lines."""
    kit = None if env is None else env.stations[STATION]
    data_dir = root / "station"
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    if kit is not None:
        shutil.copy(kit.key_path, data_dir / "station.key")
        os.chmod(data_dir / "station.key", 0o600)
    lines = [
        'station: {id: dak-koi-01, district: kon-ray, commune: "23335"}',
        "timezone: Asia/Ho_Chi_Minh",
        f"data_dir: {data_dir}",
        f"amplifier: {{pin: {PIN}, warmup_s: 2.0, tail_s: 1.0}}",
        "gpio: {pin_factory: mock}",
        "audio: {device: testout}",
        "require_synced_clock: true",
        "media: {allow_local_hosts: true, timeout_s: 5, deadline_s: 30}  # test media servers are on 127.0.0.1",
    ]
    if env is not None and kit is not None:
        lines += [
            f"mqtt: {{host: 127.0.0.1, port: {env.broker.port}, username: dak-koi-01, "
            f"password_file: {kit.password_file}, tls: null, republish_s: 2}}",
            f"district_keys: [{json.dumps(env.district_jwk)}]",
        ]
    path = root / "station.yaml"
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


def prepared_station(env: BrokerEnv, tmp_path: Path, port: int | None = None) -> Path:
    """A station with the district's schedule (4 slots up to 03-10) in force and its media;
    its broker port is ``port`` when given (else the env's broker)."""
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
    """(last seq, pending count) of the outbox of the station configured at ``path``."""
    with Outbox(load_station_config(path).outbox_path) as outbox:
        return outbox.last_seq(), outbox.pending_count()
