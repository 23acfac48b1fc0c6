"""The slot runner on a simulated clock: on time, once, never skipped silently.

Real parts: ScheduleStore and Outbox (SQLite files), MediaCache files, the Airer over
gpiozero's MockFactory pin; audio through hal's FakeAudioOutput or a player that holds
the airing until told (for pre-emption).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from gpiozero.pins.mock import MockFactory
from schedule_testkit import make_wav, new_signer, payload, segment, sha256_hex
from test_schedule_store import DISTRICT as STORE_DISTRICT
from test_schedule_store import HOSTILE

from firmware_daemon.airing.airer import Airer
from firmware_daemon.airing.outbox import Outbox
from firmware_daemon.config import StationConfig, load_station_config
from firmware_daemon.schedule.media_cache import MediaCache
from firmware_daemon.schedule.runner import UNSYNCED_MESSAGE, SlotRunner
from firmware_daemon.schedule.store import ScheduleStore
from firmware_daemon.service.status import StationState, build_status
from hal.amplifier import GpioAmplifier
from hal.audio import AudioOutput, PlaybackResult, PreparedAudio, probe
from hal.fake import FakeAudioOutput
from radio_protocol.clock import SimulatedClock
from radio_protocol.jose import KeyRing, Signer, load_or_create_private_key, parse_jws

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
        self.cache = MediaCache(self.config.data_dir / "media")
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


@pytest.fixture
def wav(tmp_path: Path) -> bytes:
    return make_wav(tmp_path / "seg.wav", seconds=1.0)


@pytest.fixture
def stations() -> Iterator[list[Station]]:
    made: list[Station] = []
    yield made
    for st in made:
        st.close()


def schedule_jws(data: bytes, version: int = 1, **overrides: Any) -> bytes:
    sha = sha256_hex(data)
    body = payload(version=version, segments=[segment("cds-a", sha=sha, size=len(data))],
                   slots=[{"segment": "cds-a", "rrule": "FREQ=DAILY;BYHOUR=6,17;BYMINUTE=30",
                           "dtstart": "2024-03-01T00:00:00+07:00"}])
    body.update(overrides)
    return DISTRICT.sign(body, "cr-schedule+json")


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


def test_runner_airs_on_time_with_amp_warmup(tmp_path: Path, wav: bytes, stations: list[Station]) -> None:
    clock = SimulatedClock(vn(2024, 3, 5, 6, 0))
    st = start(stations, tmp_path, clock, wav)
    assert st.runner.on_schedule(schedule_jws(wav)).accepted
    st.run_until(vn(2024, 3, 5, 18, 0))
    events = st.events()
    assert [(e["slot"], e["outcome"]) for e in events] == [
        ("2024-03-05T06:30:00.000+07:00", "completed"), ("2024-03-05T17:30:00.000+07:00", "completed")]
    for e in events:
        assert e["amp"]["on_at"] == e["slot"].replace("06:30:00", "06:29:58").replace("17:30:00", "17:29:58")
        assert e["started_at"] == e["slot"]  # first sample at the slot time
        assert e["schedule_version"] == 1
    assert [s.state for s in st.pin.states] == [False, True, False, True, False]
    assert st.state.schedule.next_slot == vn(2024, 3, 6, 6, 30)


class SlowOpenAudio(FakeAudioOutput):
    """Opening the media and the stream takes ``open_s`` of the (simulated) clock."""

    def __init__(self, clock: SimulatedClock, open_s: float) -> None:
        super().__init__()
        self.clock = clock
        self.open_s = open_s
        self.first_block_at: list[datetime] = []

    def prepare(self, path: Any, *, margin_s: float = 5.0) -> Any:
        self.clock.sleep(self.open_s)
        return super().prepare(path, margin_s=margin_s)

    def _run(self, path: Any, stop: Any, margin_s: float, on_start: Any, *rest: Any) -> PlaybackResult:
        def first() -> None:
            self.first_block_at.append(self.clock.now())
            if on_start is not None:
                on_start()
        return super()._run(path, stop, margin_s, first, *rest)


def test_runner_first_sample_at_the_slot_despite_the_open_time(tmp_path: Path, wav: bytes,
                                                               stations: list[Station]) -> None:
    """Opening media and stream (before the amp goes on) takes 0.25 s: the airing starts
    early enough that the amp still goes on warmup_s before the slot and the first
    sample leaves at the slot time, not 0.25 s late."""
    clock = SimulatedClock(vn(2024, 3, 5, 6, 0))
    audio = SlowOpenAudio(clock, 0.25)
    st = start(stations, tmp_path, clock, wav, audio=audio)
    assert st.runner.on_schedule(schedule_jws(wav)).accepted
    st.run_until(vn(2024, 3, 5, 7, 0))
    assert audio.first_block_at == [vn(2024, 3, 5, 6, 30)]
    (event,) = st.events()
    assert (event["amp"]["on_at"], event["started_at"], event["outcome"]) == (
        "2024-03-05T06:29:58.000+07:00", "2024-03-05T06:30:00.000+07:00", "completed")


def test_runner_simulated_playback_takes_simulated_time_and_overlaps_the_next_slot(
        tmp_path: Path, stations: list[Station]) -> None:
    """A 5 s segment at 06:30:00 and another at 06:30:03 (equal priority): on a simulated
    clock the first really plays 5 s, so the second waits for it (amp off after the tail,
    on again, warm-up) instead of both fitting in no time."""
    long_wav = make_wav(tmp_path / "long.wav", seconds=5.0)
    clock = SimulatedClock(vn(2024, 3, 5, 6, 29))
    st = start(stations, tmp_path, clock, long_wav)
    sha = sha256_hex(long_wav)
    body = payload(segments=[segment("first", sha=sha, size=len(long_wav), duration_s=5.0),
                             segment("second", sha=sha, size=len(long_wav), duration_s=5.0)],
                   slots=[{"segment": "first", "at": "2024-03-05T06:30:00+07:00"},
                          {"segment": "second", "at": "2024-03-05T06:30:03+07:00"}])
    assert st.runner.on_schedule(DISTRICT.sign(body, "cr-schedule+json")).accepted
    st.run_until(vn(2024, 3, 5, 6, 31))
    times = [(e["segment"]["id"], e["amp"]["on_at"][11:19], e["started_at"][11:19], e["ended_at"][11:19],
              e["amp"]["off_at"][11:19], e["played_s"], e["outcome"]) for e in st.events()]
    assert times == [("first", "06:29:58", "06:30:00", "06:30:05", "06:30:06", 5.0, "completed"),
                     ("second", "06:30:06", "06:30:08", "06:30:13", "06:30:14", 5.0, "completed")]


def test_runner_clock_step_forward_airs_late_or_records_missed_once(tmp_path: Path, wav: bytes,
                                                                   stations: list[Station]) -> None:
    clock = SimulatedClock(vn(2024, 3, 5, 6, 0))
    st = start(stations, tmp_path, clock, wav)
    st.runner.on_schedule(schedule_jws(wav))
    st.run_until(vn(2024, 3, 5, 6, 20))
    clock.step_wall(15 * 60)  # 06:35: the 06:30 slot is 5 min late, inside grace: airs now
    st.run_until(vn(2024, 3, 5, 17, 0))
    clock.step_wall(40 * 60)  # 17:40: the 17:30 slot is 10 min (= grace) gone -> missed
    st.run_until(vn(2024, 3, 5, 17, 45))
    clock.step_wall(13 * 3600)  # 06:45 next day: 06:30 is 15 min gone -> missed, clock-unsynced
    st.run_until(vn(2024, 3, 6, 12, 0))
    assert st.summary() == [
        ("cds-a", "2024-03-05T06:30:00.000+07:00", "completed", None),
        ("cds-a", "2024-03-05T17:30:00.000+07:00", "missed", "clock-unsynced"),
        ("cds-a", "2024-03-06T06:30:00.000+07:00", "missed", "clock-unsynced"),
    ]
    assert st.events()[0]["started_at"].startswith("2024-03-05T06:35:")


def test_runner_clock_step_backward_does_not_air_twice(tmp_path: Path, wav: bytes,
                                                       stations: list[Station]) -> None:
    clock = SimulatedClock(vn(2024, 3, 5, 6, 0))
    st = start(stations, tmp_path, clock, wav)
    st.runner.on_schedule(schedule_jws(wav))
    st.run_until(vn(2024, 3, 5, 6, 40))
    clock.step_wall(-30 * 60)  # back to 06:10
    st.run_until(vn(2024, 3, 5, 7, 0))
    assert st.summary() == [("cds-a", "2024-03-05T06:30:00.000+07:00", "completed", None)]


def test_runner_restart_does_not_reair_and_downtime_is_missed_once(tmp_path: Path, wav: bytes,
                                                                  stations: list[Station]) -> None:
    clock = SimulatedClock(vn(2024, 3, 5, 6, 0))
    st = start(stations, tmp_path, clock, wav)
    st.runner.on_schedule(schedule_jws(wav))
    st.run_until(vn(2024, 3, 5, 6, 31))  # aired 06:30
    st.close()
    stations.remove(st)
    clock.step_wall(-60)  # a reboot with the clock a minute behind: 06:30 is due "again"
    st2 = start(stations, tmp_path, clock, wav)
    st2.run_until(vn(2024, 3, 5, 6, 45))
    st2.close()
    stations.remove(st2)
    clock.advance(12 * 3600)  # down until 18:45: the 17:30 slot passed while down
    st3 = start(stations, tmp_path, clock, wav)
    st3.run_until(vn(2024, 3, 5, 19, 0))
    st3.close()
    stations.remove(st3)
    st4 = start(stations, tmp_path, clock, wav)
    st4.run_until(vn(2024, 3, 5, 20, 0))
    assert st4.summary() == [
        ("cds-a", "2024-03-05T06:30:00.000+07:00", "completed", None),
        ("cds-a", "2024-03-05T17:30:00.000+07:00", "missed", "station-down"),
    ]
    assert st4.store.version == 1  # the schedule survived the restarts with no network


def test_runner_crash_mid_airing_is_settled_not_reaired(tmp_path: Path, wav: bytes,
                                                        stations: list[Station]) -> None:
    clock = SimulatedClock(vn(2024, 3, 5, 6, 0))
    st = start(stations, tmp_path, clock, wav)
    st.runner.on_schedule(schedule_jws(wav))
    schedule = st.store.current
    assert schedule is not None
    # as if the power went at 06:30:30, mid-airing: the slot is 'started', no event exists
    from firmware_daemon.schedule.slots import expand
    slot = expand(schedule, vn(2024, 3, 5, 6, 0), vn(2024, 3, 5, 7, 0))[0]
    st.store.mark(slot.key, slot.at, "cds-a", 1, "started", vn(2024, 3, 5, 6, 29, 58), 0)
    st.close()
    stations.remove(st)
    clock.advance(45 * 60)
    st2 = start(stations, tmp_path, clock, wav)
    st2.run_until(vn(2024, 3, 5, 7, 0))
    assert st2.summary() == [("cds-a", "2024-03-05T06:30:00.000+07:00", "failed", "station-down")]


def test_runner_unsynced_clock_waits_and_says_why(tmp_path: Path, wav: bytes,
                                                  stations: list[Station]) -> None:
    clock = WallClock(vn(2024, 3, 5, 6, 29))
    synced = {"ok": False}
    st = start(stations, tmp_path, clock, wav, clock_synced=lambda: synced["ok"])
    st.runner.on_schedule(schedule_jws(wav))
    for _ in range(6):  # 06:29 .. 06:41, one step per 2 minutes
        st.runner.step()
        clock.advance(120)
    assert st.state.schedule.schedule_error is not None
    assert "clock-unsynced" in st.state.schedule.schedule_error
    synced["ok"] = True
    st.runner.step()
    assert st.state.schedule.schedule_error is None
    assert st.summary() == [("cds-a", "2024-03-05T06:30:00.000+07:00", "missed", "clock-unsynced")]


def test_runner_unsynced_clock_and_a_rejected_schedule_are_both_in_the_status(
        tmp_path: Path, wav: bytes, stations: list[Station]) -> None:
    clock = WallClock(vn(2024, 3, 5, 6, 0))
    synced = {"ok": False}
    st = start(stations, tmp_path, clock, wav, clock_synced=lambda: synced["ok"])
    assert st.runner.on_schedule(schedule_jws(wav, version=2)).accepted
    assert not st.runner.on_schedule(schedule_jws(wav, version=1)).accepted  # a replayed older one
    st.runner.step()
    error = st.state.schedule.schedule_error
    assert error is not None and error.startswith(st.store.error or "?") and st.store.error
    assert error.endswith("; " + UNSYNCED_MESSAGE)
    synced["ok"] = True
    st.runner.step()
    assert st.state.schedule.schedule_error == st.store.error


def test_runner_unsynced_clock_airs_when_not_required(tmp_path: Path, wav: bytes,
                                                      stations: list[Station]) -> None:
    clock = WallClock(vn(2024, 3, 5, 6, 29, 58))
    st = start(stations, tmp_path, clock, wav, clock_synced=lambda: False, require_synced=False)
    st.runner.on_schedule(schedule_jws(wav))
    st.runner.step()
    assert st.runner.busy
    pump(st, lambda: not st.runner.busy)
    assert [e["outcome"] for e in st.events()] == ["completed"]


def test_runner_current_airing_names_the_slot_in_progress(tmp_path: Path, wav: bytes,
                                                         stations: list[Station]) -> None:
    audio = HeldAudio()
    clock = SimulatedClock(vn(2024, 3, 5, 6, 29, 58))
    st = start(stations, tmp_path, clock, wav, audio=audio)
    assert st.runner.on_schedule(schedule_jws(wav)).accepted
    assert st.runner.current_airing is None
    st.runner.step()
    assert audio.playing.wait(5)
    airing = st.runner.current_airing
    assert airing is not None and airing.thread.is_alive()
    assert (airing.slot.segment.id, airing.slot.at, airing.version) == ("cds-a", vn(2024, 3, 5, 6, 30), 1)
    audio.finish.set()
    pump(st, lambda: not st.runner.busy)
    assert st.runner.current_airing is None
    assert [e["outcome"] for e in st.events()] == ["completed"]


def test_runner_emergency_preempts_normal_then_equal_priority_queue(tmp_path: Path, wav: bytes,
                                                                    stations: list[Station]) -> None:
    audio = HeldAudio()
    clock = SimulatedClock(vn(2024, 3, 5, 6, 29, 58))
    st = start(stations, tmp_path, clock, wav, audio=audio)
    sha = sha256_hex(wav)
    body = payload(segments=[segment("norm-1", sha=sha, size=len(wav), duration_s=300),
                             segment("norm-2", sha=sha, size=len(wav), duration_s=300),
                             segment("em", priority="emergency", sha=sha, size=len(wav))],
                   slots=[{"segment": "norm-1", "at": "2024-03-05T06:30:00+07:00"},
                          {"segment": "em", "at": "2024-03-05T06:32:00+07:00"},
                          {"segment": "norm-2", "at": "2024-03-05T06:32:00+07:00"}])
    assert st.runner.on_schedule(DISTRICT.sign(body, "cr-schedule+json")).accepted
    st.runner.step()
    assert audio.playing.wait(5)
    clock.advance(118)  # 06:31:58 + warm-up: the emergency is due
    st.runner.step()
    assert st.runner.busy
    pump(st, lambda: audio.started == 2 and audio.playing.is_set())  # the emergency airs
    audio.finish.set()
    pump(st, lambda: audio.started == 3 and audio.playing.is_set())  # then norm-2, queued
    audio.finish.set()
    pump(st, lambda: not st.runner.busy)
    assert [(e["segment"]["id"], e["outcome"], e["reason"], e["priority"]) for e in st.events()] == [
        ("norm-1", "interrupted", "preempted", "normal"),
        ("em", "completed", None, "emergency"),
        ("norm-2", "completed", None, "normal"),
    ]
    assert [s.state for s in st.pin.states] == [False, True, False, True, False, True, False]


def test_runner_busy_beyond_grace_records_overrun_once(tmp_path: Path, wav: bytes,
                                                       stations: list[Station]) -> None:
    audio = HeldAudio()
    clock = SimulatedClock(vn(2024, 3, 5, 6, 29, 58))
    st = start(stations, tmp_path, clock, wav, audio=audio)
    sha = sha256_hex(wav)
    body = payload(segments=[segment("long", sha=sha, size=len(wav), duration_s=1800),
                             segment("short", sha=sha, size=len(wav))],
                   slots=[{"segment": "long", "at": "2024-03-05T06:30:00+07:00"},
                          {"segment": "short", "at": "2024-03-05T06:40:00+07:00"}])
    st.runner.on_schedule(DISTRICT.sign(body, "cr-schedule+json"))
    st.runner.step()
    assert audio.playing.wait(5)
    for _ in range(5):  # 06:30 -> 06:55 while "long" plays
        clock.advance(300)
        st.runner.step()
    audio.finish.set()
    pump(st, lambda: not st.runner.busy)
    assert st.summary() == [
        ("short", "2024-03-05T06:40:00.000+07:00", "missed", "overrun"),
        ("long", "2024-03-05T06:30:00.000+07:00", "completed", None),
    ]


def test_runner_slot_counts_do_not_depend_on_version_change(tmp_path: Path, wav: bytes,
                                                            stations: list[Station]) -> None:
    clock = SimulatedClock(vn(2024, 3, 5, 6, 0))
    st = start(stations, tmp_path, clock, wav)
    st.runner.on_schedule(schedule_jws(wav, version=1))
    st.run_until(vn(2024, 3, 5, 6, 35))
    assert st.runner.on_schedule(schedule_jws(wav, version=2)).accepted  # repeats 06:30
    st.run_until(vn(2024, 3, 5, 7, 0))
    assert [e["schedule_version"] for e in st.events()] == [1]


def test_runner_status_reports_version_and_next_slot(tmp_path: Path, wav: bytes,
                                                     stations: list[Station]) -> None:
    clock = SimulatedClock(vn(2024, 3, 5, 6, 0))
    st = start(stations, tmp_path, clock, wav)
    assert st.state.schedule.schedule_version is None and st.state.schedule.next_slot is None
    st.runner.on_schedule(schedule_jws(wav, version=4))
    state = st.state.schedule
    assert (state.schedule_version, state.schedule_error, state.next_slot, state.media_missing) == \
        (4, None, vn(2024, 3, 5, 6, 30), ())
    st.run_until(vn(2024, 3, 5, 6, 35))
    assert st.state.schedule.next_slot == vn(2024, 3, 5, 17, 30)  # the aired slot is behind us
    (st.cache.directory / sha256_hex(wav)).unlink()
    st.runner.fetch_now()  # the district is unreachable (port 1): still missing
    assert st.state.schedule.media_missing == ("cds-a",)
    assert st.runner.on_schedule(schedule_jws(wav, version=5)).accepted
    assert st.state.schedule.schedule_version == 5


def test_runner_missing_and_corrupt_media_fail_with_reason(tmp_path: Path, wav: bytes,
                                                           stations: list[Station]) -> None:
    clock = SimulatedClock(vn(2024, 3, 5, 6, 0))
    st = Station(tmp_path, clock)
    stations.append(st)
    st.runner.on_schedule(schedule_jws(wav))
    assert st.state.schedule.media_missing == ("cds-a",)  # listed before the slot
    st.run_until(vn(2024, 3, 5, 7, 0))
    (st.cache.directory / sha256_hex(wav)).write_bytes(wav[:-4] + b"oops")
    st.run_until(vn(2024, 3, 5, 18, 0))
    assert st.summary() == [
        ("cds-a", "2024-03-05T06:30:00.000+07:00", "failed", "media-missing"),
        ("cds-a", "2024-03-05T17:30:00.000+07:00", "failed", "media-corrupt"),
    ]
    assert [s.state for s in st.pin.states] == [False]  # the amp never went on


def test_runner_fetches_media_when_schedule_arrives(tmp_path: Path, wav: bytes,
                                                    stations: list[Station]) -> None:
    from schedule_testkit import media_server

    clock = SimulatedClock(vn(2024, 3, 5, 6, 0))
    st = Station(tmp_path, clock)
    stations.append(st)
    (st.cache.directory / ("f" * 64)).write_bytes(b"old media of an old schedule")
    with media_server() as server:
        server.files["/media/a.wav"] = wav
        jws = DISTRICT.sign(payload(segments=[segment("cds-a", sha=sha256_hex(wav), size=len(wav),
                                                      url=server.url("/media/a.wav"))]),
                            "cr-schedule+json")
        st.runner.start_fetcher()
        st.runner.on_schedule(jws)
        for _ in range(200):
            if st.state.schedule.media_missing == ():
                break
            threading.Event().wait(0.02)
    assert st.state.schedule.media_missing == ()
    assert sorted(p.name for p in st.cache.directory.iterdir()) == [sha256_hex(wav)]  # old pruned
    st.run_until(vn(2024, 3, 5, 6, 35))
    assert [e["outcome"] for e in st.events()] == ["completed"]


def test_runner_hostile_update_keeps_previous_schedule_airing(tmp_path: Path, wav: bytes,
                                                              stations: list[Station]) -> None:
    clock = SimulatedClock(vn(2024, 3, 5, 6, 0))
    st = start(stations, tmp_path, clock, wav)
    assert st.runner.on_schedule(schedule_jws(wav, version=3)).accepted
    intruder = new_signer()
    forged = intruder.sign(payload(version=9, slots=[]), "cr-schedule+json")
    result = st.runner.on_schedule(forged)
    assert result.status == "rejected"
    assert st.state.schedule.schedule_version == 3
    assert "unknown-kid" in (st.state.schedule.schedule_error or "")
    st.run_until(vn(2024, 3, 5, 7, 0))
    assert st.summary() == [("cds-a", "2024-03-05T06:30:00.000+07:00", "completed", None)]


@pytest.mark.parametrize("name,make,expected", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_runner_each_hostile_schedule_is_in_status_and_previous_keeps_airing(
        tmp_path: Path, wav: bytes, stations: list[Station], name: str, make: Callable[[], bytes],
        expected: str) -> None:
    clock = SimulatedClock(vn(2024, 3, 5, 6, 0))
    st = start(stations, tmp_path, clock, wav)
    assert st.runner.on_schedule(schedule_jws(wav, version=2)).accepted
    result = st.runner.on_schedule(make())
    assert result.status == "rejected"
    status = build_status(station="dak-koi-01", state="online", at=clock.now(), schedule=st.state.schedule,
                          outbox_pending=0, last_seq=0, clock_synced=True, amp_on=False, uptime_s=1.0)
    assert expected in (status["schedule_error"] or ""), status["schedule_error"]
    assert status["schedule_version"] == 2 and status["next_slot"] == "2024-03-05T06:30:00.000+07:00"
    assert status["media_missing"] == []
    st.run_until(vn(2024, 3, 5, 6, 35))
    assert [(e["slot"], e["outcome"], e["schedule_version"]) for e in st.events()] == [
        ("2024-03-05T06:30:00.000+07:00", "completed", 2)]
    assert [s.state for s in st.pin.states] == [False, True, False]
    assert expected in (st.state.schedule.schedule_error or "")  # still reported after airing


def test_runner_shutdown_mid_airing_is_shutdown_even_with_an_emergency_later(
        tmp_path: Path, wav: bytes, stations: list[Station]) -> None:
    audio = HeldAudio()
    clock = SimulatedClock(vn(2024, 3, 5, 6, 29, 58))
    st = start(stations, tmp_path, clock, wav, audio=audio)
    sha = sha256_hex(wav)
    body = payload(segments=[segment("norm", sha=sha, size=len(wav), duration_s=300),
                             segment("em", priority="emergency", sha=sha, size=len(wav))],
                   slots=[{"segment": "norm", "at": "2024-03-05T06:30:00+07:00"},
                          {"segment": "em", "at": "2024-03-05T06:44:00+07:00"}])
    st.runner.on_schedule(DISTRICT.sign(body, "cr-schedule+json"))
    st.runner.step()
    assert audio.playing.wait(5)
    st.runner.shutdown()  # SIGTERM at 06:30, the emergency is 14 minutes away
    assert st.summary() == [("norm", "2024-03-05T06:30:00.000+07:00", "interrupted", "shutdown")]


def test_runner_emergency_in_a_new_schedule_mid_airing_is_preempted(
        tmp_path: Path, wav: bytes, stations: list[Station]) -> None:
    """The emergency arrives (version 2) while version 1's normal slot is on the air."""
    audio = HeldAudio()
    clock = SimulatedClock(vn(2024, 3, 5, 6, 29, 58))
    st = start(stations, tmp_path, clock, wav, audio=audio)
    sha = sha256_hex(wav)
    norm = segment("norm", sha=sha, size=len(wav), duration_s=300)
    first = payload(segments=[norm], slots=[{"segment": "norm", "at": "2024-03-05T06:30:00+07:00"}])
    assert st.runner.on_schedule(DISTRICT.sign(first, "cr-schedule+json")).accepted
    st.runner.step()
    assert audio.playing.wait(5)
    clock.advance(60)
    second = payload(version=2, segments=[norm, segment("em", priority="emergency", sha=sha, size=len(wav))],
                     slots=[{"segment": "norm", "at": "2024-03-05T06:30:00+07:00"},
                            {"segment": "em", "at": "2024-03-05T06:31:02+07:00"}])
    assert st.runner.on_schedule(DISTRICT.sign(second, "cr-schedule+json")).accepted
    pump(st, lambda: audio.started == 2 and audio.playing.is_set())
    audio.finish.set()
    pump(st, lambda: not st.runner.busy)
    assert st.summary() == [("norm", "2024-03-05T06:30:00.000+07:00", "interrupted", "preempted"),
                            ("em", "2024-03-05T06:31:02.000+07:00", "completed", None)]


@pytest.mark.parametrize("step_s,expected", [
    (13 * 60, [("cds-a", "2024-03-05T06:30:00.000+07:00", "completed", None)]),  # 06:33: within grace
    (40 * 60, [("cds-a", "2024-03-05T06:30:00.000+07:00", "missed", "clock-unsynced")]),  # 07:00
])
def test_runner_ntp_sync_after_boot_steps_the_clock_forward(tmp_path: Path, wav: bytes, stations: list[Station],
                                                            step_s: int, expected: list[Any]) -> None:
    """Boot with a stale clock (06:20, unsynchronized); NTP then steps it and reports synced."""
    clock = WallClock(vn(2024, 3, 5, 6, 20))
    synced = {"ok": False}
    st = start(stations, tmp_path, clock, wav, clock_synced=lambda: synced["ok"])
    st.runner.on_schedule(schedule_jws(wav))
    for _ in range(3):
        st.runner.step()
        clock.advance(1)
    clock.step_wall(step_s)
    synced["ok"] = True
    for _ in range(5):  # the runner's looks after the step, one a second
        st.runner.step()
        pump(st, lambda: not st.runner.busy)
        clock.advance(1)
    clock.advance(3600)  # and an hour of looks later nothing more happens to that slot
    st.runner.step()
    pump(st, lambda: not st.runner.busy)
    assert st.summary() == expected
    assert st.state.schedule.schedule_error is None
