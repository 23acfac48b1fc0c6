"""Real processes for the broadcast tests: the collector (``radio-district run``), station
daemons (``radio-station run``) airing into a paced PulseAudio null sink, a media server,
and a normal schedule signed and published the way ``schedule publish`` does it.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import yaml
from mqtt_broker import BrokerEnv
from test_link_support import write_station_config

from district_collector.config import DistrictConfig, load_district_config
from district_collector.schedules.publish import PreparedSchedule, send_schedules
from district_collector.store.base import StoreError
from district_collector.store.opening import open_store
from radio_protocol.jose import file_sha256, parse_jws, sha256_hex
from radio_protocol.names import SCHEDULE_TYP
from radio_protocol.timefmt import format_rfc3339, zone

REPO = Path(__file__).resolve().parents[2]
TZ = zone("Asia/Ho_Chi_Minh")


def station_config(env: BrokerEnv, root: Path, station: str) -> Path:
    """The station's YAML: paced audio device, short warm-up, clock not required synced
    (containers report it unsynchronized), media from the loopback test server."""
    path = write_station_config(env, root, station=station)
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    cfg["audio"] = {"device": "paced", "margin_s": 5}
    cfg["amplifier"] = {"pin": 17, "active_high": True, "warmup_s": 0.2, "tail_s": 0.2}
    cfg["require_synced_clock"] = False
    cfg["media"] = {"allow_local_hosts": True, "timeout_s": 5, "deadline_s": 30}
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


class Procs:
    """Started processes, each stopped (SIGTERM, then SIGKILL) by :meth:`close`."""

    def __init__(self) -> None:
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, argv: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=out, env=env, cwd=REPO)
        self.running.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def close(self) -> None:
        for proc in reversed(self.running):
            self.stop(proc)


@contextmanager
def processes() -> Iterator[Procs]:
    procs = Procs()
    try:
        yield procs
    finally:
        procs.close()


def start_collector(procs: Procs, env: BrokerEnv, pulse: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return procs.start([sys.executable, "-m", "district_collector.cli", "-c", str(env.district_config), "run"],
                       log, pulse)


def start_station(procs: Procs, config: Path, pulse: dict[str, str], capture: Path,
                  log: Path) -> subprocess.Popen[bytes]:
    return procs.start([sys.executable, "-m", "firmware_daemon.cli", "-c", str(config), "run"], log,
                       dict(pulse, AUDIO_CAPTURE_FILE=str(capture)))


def district_config(env: BrokerEnv) -> DistrictConfig:
    return load_district_config(env.district_config)


def events(env: BrokerEnv, station: str) -> list[dict[str, Any]]:
    """The station's airing events the collector stored, in seq order."""
    with open_store(district_config(env), read_only=True) as store:
        return [json.loads(parse_jws(e.jws)[2]) for e in store.iter_events(station)]


def online(env: BrokerEnv, station: str) -> bool:
    try:
        with open_store(district_config(env), read_only=True) as store:
            row = store.status(station)
    except (StoreError, sqlite3.Error):  # the collector has not created its store yet
        return False
    return row is not None and row.state == "online"


def tone(path: Path, seconds: float, freq: float, rate: int = 16000, amplitude: float = 0.3) -> Path:
    t = np.arange(round(seconds * rate)) / rate
    sf.write(str(path), (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32), rate, subtype="PCM_16")
    return path


def media_member(config: DistrictConfig, source: Path) -> dict[str, Any]:
    """Put ``source`` in the district media dir under its SHA-256; its schedule member."""
    assert config.media is not None
    sha = file_sha256(source)
    config.media.dir.mkdir(parents=True, exist_ok=True)
    (config.media.dir / f"{sha}.wav").write_bytes(source.read_bytes())
    return {"sha256": sha, "url": f"{config.media.base_url}/{sha}.wav", "bytes": source.stat().st_size,
            "duration_s": round(sf.info(str(source)).duration, 3)}


def publish_normal(env: BrokerEnv, station: str, segments: list[tuple[str, Path]],
                   slots: list[tuple[str, datetime]]) -> None:
    """Sign, store and publish (retained) version 1 for ``station``: normal segments and
    ``at`` slots, as ``schedule publish`` stores and sends a schedule."""
    config = district_config(env)
    today = slots[0][1].astimezone(TZ).date().isoformat()
    body = {"v": 1, "type": "schedule", "district": "kon-ray", "station": station, "version": 1,
            "issued_at": format_rfc3339(datetime.now(TZ)), "valid_from": today, "valid_until": today,
            "timezone": "Asia/Ho_Chi_Minh",
            "segments": [{"id": sid, "title": f"Chuyên mục {sid}", "program": "chuyen-doi-so", "topic": "policy",
                          "priority": "normal", "media": media_member(config, src)} for sid, src in segments],
            "slots": [{"segment": sid, "at": format_rfc3339(at.astimezone(TZ))} for sid, at in slots]}
    jws = env.district_signer.sign(body, SCHEDULE_TYP)
    with open_store(config) as store:
        store.add_schedule(station, 1, jws, sha256_hex(jws), datetime.now(TZ))
    sent = send_schedules(config, [PreparedSchedule(station, 1, jws, body, len(slots), None, None, ())])
    assert sent == {station: None}


def broadcast(env: BrokerEnv, pulse: dict[str, str], *args: str, timeout_s: float = 200) -> subprocess.CompletedProcess[str]:
    """``radio-district -c district.yaml broadcast ARGS`` as a real process."""
    return subprocess.run([sys.executable, "-m", "district_collector.cli", "-c", str(env.district_config),
                           "broadcast", *args], capture_output=True, text=True, env=pulse, cwd=REPO,
                          timeout=timeout_s)


def speech(path: Path, text: str) -> Path:
    subprocess.run(["espeak-ng", "-v", "vi", "-w", str(path), text], check=True, capture_output=True, timeout=60)
    return path


def growing(path: Path, min_bytes: int) -> bool:
    return path.exists() and path.stat().st_size >= min_bytes


def wait_log(log: Path, text: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared in {log}:\n{log.read_text(errors='replace')[-3000:]}")
