"""A station's schedule machinery for the slot runner tests, on a simulated clock.

Real parts: ScheduleStore and Outbox (SQLite files), MediaCache files, the Airer over
gpiozero's MockFactory pin; audio through hal's FakeAudioOutput or a player that holds
the airing until told (for pre-emption).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from gpiozero.pins.mock import MockFactory
from schedule_testkit import LOCAL_MEDIA, payload, segment, sha256_hex
from test_schedule_store import DISTRICT as STORE_DISTRICT

from firmware_daemon.airing.airer import Airer
from firmware_daemon.airing.outbox import Outbox
from firmware_daemon.config import StationConfig, load_station_config
from firmware_daemon.schedule.media_cache import MediaCache
from firmware_daemon.schedule.runner import SlotRunner
from firmware_daemon.schedule.store import ScheduleStore
from firmware_daemon.service.status import StationState
from hal.amplifier import GpioAmplifier
from hal.audio import AudioOutput, PlaybackResult, PreparedAudio, probe
from hal.fake import FakeAudioOutput
from radio_protocol.clock import SimulatedClock
from radio_protocol.jose import KeyRing, Signer, load_or_create_private_key, parse_jws
from radio_protocol.names import SCHEDULE_TYP

VN = ZoneInfo("Asia/Ho_Chi_Minh")


PIN = 17


def vn(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=VN)


class WallClock(SimulatedClock):
    """A controllable clock that does NOT count as simulated (so sync state matters)."""

    simulated = False  # type: ignore[assignment]


class HeldAudio(AudioOutput):
    """Plays until ``finish`` or ``stop`` is set (real time): lets a test pre-empt."""

    def __init__(self) -> None:
        self.playing = threading.Event()
        self.finish = threading.Event()
        self.started = 0

    def prepare(self, path: str | os.PathLike[str], *, margin_s: float = 5.0) -> PreparedAudio:
        return _HeldPlayback(self, path)


class _HeldPlayback(PreparedAudio):
    def __init__(self, audio: HeldAudio, path: str | os.PathLike[str]) -> None:
        super().__init__(path, probe(path))
        self.audio = audio

    def _play(self, *, stop: threading.Event | None, on_start: Callable[[], None] | None,
              on_block: Callable[[float], None] | None) -> PlaybackResult:
        media_s = self.info.duration_s
        held = self.audio
        if on_start:
            on_start()
        held.started += 1
        held.playing.set()
        while not held.finish.is_set() and not (stop is not None and stop.is_set()):
            held.finish.wait(0.01)
        held.playing.clear()
        stopped = bool(stop is not None and stop.is_set())
        held.finish.clear()
        return PlaybackResult(0.5 if stopped else media_s, media_s, -20.0, -3.0, 0.0, 0, stopped)


class Station:
    """One station's schedule machinery over files in ``root`` (re-creatable = restart)."""

    def __init__(self, root: Path, clock: SimulatedClock, audio: Any = None,
                 clock_synced: Callable[[], bool] = lambda: True, require_synced: bool = True) -> None:
        self.root = root
        (root / "station.yaml").write_text(
            'station: {id: dak-koi-01, district: kon-ray, commune: "23335"}\n'
            "data_dir: data\namplifier: {pin: 17, warmup_s: 2.0, tail_s: 1.0}\n"
            "gpio: {pin_factory: mock}\naudio: {device: testout}\n", encoding="utf-8")
        self.config: StationConfig = load_station_config(root / "station.yaml")
        self.clock = clock
        self.factory = MockFactory()
        self.pin = self.factory.pin(PIN)
        self.amp = GpioAmplifier(PIN, pin_factory=self.factory)
        key, _ = load_or_create_private_key(self.config.key_path)
        self.signer = Signer(key)
        self.outbox = Outbox(self.config.outbox_path, self.signer, clock)
        self.audio = audio or FakeAudioOutput()
        self.airer = Airer(self.amp, self.audio, self.outbox, clock, self.config,
                           clock_synced=lambda: True, boot_id="boot-1")
        self.district = DISTRICT
        self.store = ScheduleStore(self.config.data_dir / "schedule", district="kon-ray",
                                   station="dak-koi-01", keys=KeyRing.from_jwks([DISTRICT.public_jwk]))
        self.cache = MediaCache(self.config.data_dir / "media", LOCAL_MEDIA)
        self.state = StationState()
        self.runner = SlotRunner(store=self.store, cache=self.cache, airer=self.airer, clock=clock,
                                 warmup_s=2.0, grace_s=600.0, require_synced_clock=require_synced,
                                 clock_synced=clock_synced, state=self.state, outbox=self.outbox)

    def put_media(self, data: bytes) -> None:
        (self.cache.directory / sha256_hex(data)).write_bytes(data)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(parse_jws(j)[2]) for j in self.outbox.events(0)]

    def summary(self) -> list[tuple[str, str, str, str | None]]:
        return [(e["segment"]["id"], e["slot"], e["outcome"], e["reason"]) for e in self.events()]

    def run_until(self, until_at: datetime) -> None:
        self.runner.run(threading.Event(), until_at)

    def close(self) -> None:
        self.runner.shutdown()
        self.store.close()
        self.outbox.close()
        self.amp.close()


DISTRICT: Signer = STORE_DISTRICT  # the key the hostile table's good schedules are signed with


def schedule_jws(data: bytes, version: int = 1, **overrides: Any) -> bytes:
    sha = sha256_hex(data)
    body = payload(version=version, segments=[segment("cds-a", sha=sha, size=len(data))],
                   slots=[{"segment": "cds-a", "rrule": "FREQ=DAILY;BYHOUR=6,17;BYMINUTE=30",
                           "dtstart": "2024-03-01T00:00:00+07:00"}])
    body.update(overrides)
    return DISTRICT.sign(body, SCHEDULE_TYP)


def pump(st: Station, done: Callable[[], bool]) -> None:
    """Drive the runner as the daemon's timer does until ``done()`` (at most 10 s real)."""
    for _ in range(400):
        if done():
            return
        st.runner.timer(st.clock.monotonic())
    raise AssertionError("runner did not get there")


def start(stations: list[Station], root: Path, clock: SimulatedClock, data: bytes,
          **kwargs: Any) -> Station:
    st = Station(root, clock, **kwargs)
    stations.append(st)
    st.put_media(data)
    return st
