"""The airing sequence with gpiozero's MockFactory and hal's FakeAudioOutput: every path
ends with the amplifier off and a signed, chained event saying what happened."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from gpiozero.pins.mock import MockConnectedPin, MockFactory

from firmware_daemon.airing.airer import Airer, Segment
from firmware_daemon.airing.outbox import Outbox
from firmware_daemon.config import StationConfig, load_station_config
from hal.amplifier import GpioAmplifier
from hal.audio import AudioOutput, PlaybackResult, PreparedAudio, UnavailableAudio, file_sha256
from hal.errors import AudioDeviceError
from hal.fake import FakeAudioOutput
from radio_protocol.clock import SimulatedClock, SystemClock
from radio_protocol.jose import KeyRing, Signer, load_or_create_private_key, verify
from radio_protocol.timefmt import parse_rfc3339

START_AT = datetime(2024, 3, 4, 23, 29, 58, tzinfo=UTC)  # 06:29:58 in Ho Chi Minh City
SEGMENT = Segment(id="cds-2024-03-a", title="Chuyển đổi số là gì?", program="chuyen-doi-so",
                  topic="policy", sha256="ab" * 32)
PIN = 17
FEEDBACK_PIN = 27


def station_config(tmp_path: Path, warmup_s: float = 2.0) -> StationConfig:
    path = tmp_path / "station.yaml"
    path.write_text(
        'station: {id: dak-koi-01, district: kon-ray, commune: "23335"}\n'
        "data_dir: data\n"
        f"amplifier: {{pin: {PIN}, warmup_s: {warmup_s}, tail_s: 1.0}}\n"
        "gpio: {pin_factory: mock}\n"
        "audio: {device: testout, margin_s: 0.5}\n",
        encoding="utf-8")
    return load_station_config(path)


def tone(path: Path, seconds: float = 1.5, rate: int = 8000) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate, subtype="PCM_16")
    return path


class Rig:
    """An Airer over a mock amplifier pin, a fake audio output and a real outbox."""

    def __init__(self, tmp_path: Path, audio: Any, clock: Any = None,
                 feedback: bool | None = None, warmup_s: float = 2.0) -> None:
        self.config = station_config(tmp_path, warmup_s)
        self.factory = MockFactory()
        self.pin = self.factory.pin(PIN)
        feedback_pin = None
        if feedback is not None:
            feedback_pin = FEEDBACK_PIN
            sense = self.factory.pin(FEEDBACK_PIN)
            if feedback:  # the relay really switches: the output drives the feedback input
                self.factory.pins.pop(self.pin.info)
                self.pin = self.factory.pin(PIN, pin_class=MockConnectedPin, input_pin=sense)
        self.amp = GpioAmplifier(PIN, feedback_pin=feedback_pin, pin_factory=self.factory)
        key, _ = load_or_create_private_key(self.config.key_path)
        self.signer = Signer(key)
        self.outbox = Outbox(self.config.outbox_path, self.signer)
        self.clock = clock or SimulatedClock(START_AT)
        self.audio = audio
        self.airer = Airer(self.amp, audio, self.outbox, self.clock, self.config,
                           clock_synced=lambda: True, boot_id="boot-1")

    def states(self) -> list[bool]:
        return [s.state for s in self.pin.states]

    def stored(self) -> list[dict[str, Any]]:
        ring = KeyRing.from_jwks([self.signer.public_jwk])
        return [verify(j, ring, "cr-event+json").payload for j in self.outbox.events(0)]

    def close(self) -> None:
        self.amp.close()
        self.outbox.close()


@pytest.fixture
def media(tmp_path: Path) -> Path:
    return tone(tmp_path / "segment.wav")


@pytest.fixture
def rigs(tmp_path: Path) -> Iterator[list[Rig]]:
    made: list[Rig] = []
    yield made
    for rig in made:
        rig.close()


def make_rig(rigs: list[Rig], tmp_path: Path, audio: Any, **kwargs: Any) -> Rig:
    rig = Rig(tmp_path, audio, **kwargs)
    rigs.append(rig)
    return rig


def test_airing_completed_event_times_and_pins(tmp_path: Path, media: Path,
                                               rigs: list[Rig]) -> None:
    rig = make_rig(rigs, tmp_path, FakeAudioOutput())
    payload = rig.airer.air(SEGMENT, media, slot_at=START_AT + timedelta(seconds=2),
                            schedule_version=7)
    assert rig.states() == [False, True, False]
    assert list(payload) == ["v", "type", "district", "station", "commune", "seq", "prev",
                             "segment", "priority", "schedule_version", "slot", "started_at",
                             "ended_at", "played_s", "media_s", "outcome", "reason", "amp",
                             "level", "clock_synced", "boot_id", "sw"]
    assert payload["segment"] == {"id": "cds-2024-03-a", "title": "Chuyển đổi số là gì?",
                                  "program": "chuyen-doi-so", "topic": "policy",
                                  "sha256": "ab" * 32}
    assert payload["slot"] == "2024-03-05T06:30:00.000+07:00"
    assert payload["amp"]["on_at"] == "2024-03-05T06:29:58.000+07:00"
    assert payload["amp"]["confirmed"] is None
    on_at = parse_rfc3339(payload["amp"]["on_at"])
    started_at = parse_rfc3339(payload["started_at"])
    ended_at = parse_rfc3339(payload["ended_at"])
    off_at = parse_rfc3339(payload["amp"]["off_at"])
    assert (started_at - on_at).total_seconds() == pytest.approx(2.0)  # warm-up
    assert (ended_at - started_at).total_seconds() == pytest.approx(1.5)  # simulated audio time
    assert (off_at - ended_at).total_seconds() == pytest.approx(1.0, abs=0.06)  # tail
    assert (payload["outcome"], payload["reason"], payload["played_s"], payload["media_s"]) == \
        ("completed", None, 1.5, 1.5)
    assert payload["level"]["peak_dbfs"] == pytest.approx(-6.02, abs=0.05)
    assert payload["level"]["rms_dbfs"] == pytest.approx(-9.03, abs=0.05)
    assert (payload["schedule_version"], payload["clock_synced"], payload["boot_id"]) == \
        (7, True, "boot-1")
    assert rig.stored() == [payload]


@pytest.mark.parametrize("slot_in_s,amp_on_in_s,first_sample_in_s", [
    (3.0, 1.0, 3.0),  # started early: amp on at slot - warm-up, first sample at the slot
    (2.0, 0.0, 2.0),  # started exactly warm-up before
    (0.5, 0.0, 2.0),  # started late (within grace): the full warm-up still comes first
    (-5.0, 0.0, 2.0),
])
def test_airing_waits_for_the_slot_to_switch_on_and_start(tmp_path: Path, media: Path, rigs: list[Rig],
                                                          slot_in_s: float, amp_on_in_s: float,
                                                          first_sample_in_s: float) -> None:
    rig = make_rig(rigs, tmp_path, FakeAudioOutput())
    payload = rig.airer.air(SEGMENT, media, slot_at=START_AT + timedelta(seconds=slot_in_s))
    on_at = parse_rfc3339(payload["amp"]["on_at"])
    started_at = parse_rfc3339(payload["started_at"])
    assert (on_at - START_AT).total_seconds() == pytest.approx(amp_on_in_s)
    assert (started_at - START_AT).total_seconds() == pytest.approx(first_sample_in_s)
    assert payload["outcome"] == "completed" and rig.states() == [False, True, False]


def test_airing_stop_before_the_amp_time_never_switches_on(tmp_path: Path, media: Path,
                                                           rigs: list[Rig]) -> None:
    rig = make_rig(rigs, tmp_path, FakeAudioOutput(), clock=SystemClock())
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    slot_at = rig.clock.now() + timedelta(seconds=30)
    payload = rig.airer.air(SEGMENT, media, slot_at=slot_at, stop=stop)
    assert (payload["outcome"], payload["reason"], payload["amp"]["on_at"]) == ("failed", "shutdown", None)
    assert rig.states() == [False]


@pytest.mark.parametrize("player", [FakeAudioOutput, lambda: _OpensDeviceLate(FakeAudioOutput())],
                         ids=["on_block", "no-block-reports"])
def test_airing_on_a_simulated_clock_audio_takes_its_played_time(tmp_path: Path, media: Path,
                                                                 rigs: list[Rig], player: Any) -> None:
    rig = make_rig(rigs, tmp_path, player())
    before = rig.clock.monotonic()
    payload = rig.airer.air(SEGMENT, media)
    started_at, ended_at = parse_rfc3339(payload["started_at"]), parse_rfc3339(payload["ended_at"])
    off_at = parse_rfc3339(payload["amp"]["off_at"])
    assert payload["played_s"] == 1.5
    assert (ended_at - started_at).total_seconds() == pytest.approx(1.5)
    assert (off_at - started_at).total_seconds() == pytest.approx(1.5 + 1.0, abs=0.06)  # + tail
    assert rig.clock.monotonic() - before == pytest.approx(2.0 + 1.5 + 1.0, abs=0.3)


def test_airing_seq_and_prev_chain_across_outcomes(tmp_path: Path, media: Path,
                                                   rigs: list[Rig]) -> None:
    rig = make_rig(rigs, tmp_path, FakeAudioOutput())
    rig.airer.air(SEGMENT, media)
    rig.airer.record_missed(SEGMENT, slot_at=START_AT, reason="station-down", schedule_version=3)
    rig.airer.record_failed(SEGMENT, reason="clock-unsynced", slot_at=START_AT)
    stored = rig.stored()
    assert [p["seq"] for p in stored] == [1, 2, 3]
    assert [(p["outcome"], p["reason"]) for p in stored] == [
        ("completed", None), ("missed", "station-down"), ("failed", "clock-unsynced")]
    assert stored[1]["started_at"] == "2024-03-05T06:29:58.000+07:00"
    assert stored[1]["amp"] == {"on_at": None, "off_at": None, "confirmed": None}
    ring = KeyRing.from_jwks([rig.signer.public_jwk])
    raw = [verify(j, ring, "cr-event+json").payload_bytes for j in rig.outbox.events(0)]
    assert [p["prev"] for p in stored] == [None] + [hashlib.sha256(b).hexdigest()
                                                    for b in raw[:-1]]


ON_OFF = [False, True, False]
NEVER_ON = [False]


@pytest.mark.parametrize(("audio", "outcome", "reason", "states"), [
    (FakeAudioOutput(fail_with=AudioDeviceError("no such card")), "failed", "audio-device",
     NEVER_ON),
    (FakeAudioOutput(fail_with=RuntimeError("bug")), "failed", "software-error", NEVER_ON),
    (FakeAudioOutput(fail_with=AudioDeviceError("unplugged"), fail_after_start=True),
     "interrupted", "audio-device", ON_OFF),
    (FakeAudioOutput(hang=True), "interrupted", "audio-device", ON_OFF),
    (FakeAudioOutput(fail_with=RuntimeError("bug"), fail_after_start=True),
     "interrupted", "software-error", ON_OFF),
    (FakeAudioOutput(stop_at_s=0.5), "interrupted", "preempted", ON_OFF),
], ids=["device-refuses", "prepare-crashes", "device-dies", "device-hangs", "exception",
        "preempted"])
def test_airing_error_paths_switch_amp_off(tmp_path: Path, media: Path, rigs: list[Rig],
                                           audio: FakeAudioOutput, outcome: str, reason: str,
                                           states: list[bool]) -> None:
    rig = make_rig(rigs, tmp_path, audio)
    payload = rig.airer.air(SEGMENT, media, stop_reason="preempted")
    assert (payload["outcome"], payload["reason"], payload["media_s"]) == (outcome, reason, 1.5)
    assert rig.states() == states  # a device that fails to open never switches the amp on
    assert not rig.amp.is_on
    assert (payload["amp"]["off_at"] is not None) is (states == ON_OFF)
    assert all(p.ran or p.closed for p in audio.prepared)  # the stream was released
    assert rig.stored() == [payload]


@pytest.mark.parametrize(("name", "content", "reason"), [
    ("missing.wav", None, "media-missing"),
    ("corrupt.wav", b"RIFF\x00\x00\x00\x00WAVEjunkjunk", "media-corrupt"),
])
def test_airing_bad_media_fails_without_switching_amp(tmp_path: Path, rigs: list[Rig], name: str,
                                                      content: bytes | None, reason: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    rig = make_rig(rigs, tmp_path, FakeAudioOutput())
    payload = rig.airer.air(SEGMENT, path)
    assert (payload["outcome"], payload["reason"], payload["played_s"]) == ("failed", reason, 0.0)
    assert payload["amp"] == {"on_at": None, "off_at": None, "confirmed": None}
    assert payload["level"] == {"rms_dbfs": None, "peak_dbfs": None, "silent_s": None}
    assert rig.states() == [False]


def test_airing_stop_during_warmup_is_interrupted(tmp_path: Path, media: Path,
                                                  rigs: list[Rig]) -> None:
    rig = make_rig(rigs, tmp_path, FakeAudioOutput(), clock=SystemClock())
    stop = threading.Event()
    timer = threading.Timer(0.1, stop.set)
    timer.start()
    payload = rig.airer.air(SEGMENT, media, stop=stop)  # warm-up is 2 s
    timer.join()
    assert (payload["outcome"], payload["reason"], payload["played_s"]) == \
        ("interrupted", "shutdown", 0.0)
    assert rig.states() == [False, True, False]
    assert rig.pin.states[-1].timestamp < 1.0  # off long before the warm-up would have ended
    assert rig.audio.plays == []
    (prepared,) = rig.audio.prepared
    assert prepared.closed and not prepared.ran  # the opened stream was released unplayed


def test_airing_stop_before_start_fails_without_amp(tmp_path: Path, media: Path,
                                                    rigs: list[Rig]) -> None:
    rig = make_rig(rigs, tmp_path, FakeAudioOutput())
    stop = threading.Event()
    stop.set()
    payload = rig.airer.air(SEGMENT, media, stop=stop, stop_reason="preempted")
    assert (payload["outcome"], payload["reason"]) == ("failed", "preempted")
    assert rig.states() == [False]


@pytest.mark.parametrize(("connected", "confirmed"), [(True, True), (False, False)])
def test_airing_amp_feedback_confirms(tmp_path: Path, media: Path, rigs: list[Rig],
                                      connected: bool, confirmed: bool) -> None:
    rig = make_rig(rigs, tmp_path, FakeAudioOutput(), feedback=connected)
    payload = rig.airer.air(SEGMENT, media)
    assert payload["amp"]["confirmed"] is confirmed
    assert rig.states() == [False, True, False]


def test_airing_keyboard_interrupt_records_then_propagates(tmp_path: Path, media: Path,
                                                           rigs: list[Rig]) -> None:
    rig = make_rig(rigs, tmp_path, FakeAudioOutput(fail_with=KeyboardInterrupt(),
                                                   fail_after_start=True))
    with pytest.raises(KeyboardInterrupt):
        rig.airer.air(SEGMENT, media)
    assert [(p["outcome"], p["reason"]) for p in rig.stored()] == [("interrupted", "shutdown")]
    assert rig.states() == [False, True, False]


class _HungStream:
    """A real PortAudio stream whose writes block until released (a card that stops taking
    samples, as an unplugged USB card does)."""

    def __init__(self, stream: Any, release: threading.Event) -> None:
        self.stream = stream
        self.release = release

    def start(self) -> None:
        self.stream.start()

    def write(self, block: Any) -> bool:
        self.release.wait()
        return bool(self.stream.write(block))

    def stop(self) -> None:
        self.stream.stop()

    def abort(self) -> None:
        self.stream.abort()

    def close(self) -> None:
        self.stream.close()


def test_airing_real_audio_hung_device_is_interrupted_and_amp_off(
        tmp_path: Path, media: Path, rigs: list[Rig], capture_file: Path) -> None:
    import sounddevice

    from hal.audio import PortAudioOutput

    release = threading.Event()
    audio = PortAudioOutput("testout", stream_factory=lambda **kw: _HungStream(
        sounddevice.OutputStream(**kw), release))
    rig = make_rig(rigs, tmp_path, audio, clock=SystemClock(), warmup_s=0.1)
    begun = SystemClock().monotonic()
    try:
        payload = rig.airer.air(SEGMENT, media)  # margin 0.5 s
    finally:
        release.set()
    assert SystemClock().monotonic() - begun < 0.1 + 0.5 + 1.0
    assert (payload["outcome"], payload["reason"]) == ("interrupted", "audio-device")
    assert payload["level"] == {"rms_dbfs": None, "peak_dbfs": None, "silent_s": None}
    assert rig.states() == [False, True, False] and not rig.amp.is_on
    assert rig.stored() == [payload]


class _OpensDeviceLate(AudioOutput):
    """A backend whose ``prepare`` checks nothing: media and device are opened only when
    the playback runs (the whole ``play`` of ``inner``), after the amplifier is on; it
    reports no blocks (``on_block`` is never called)."""

    def __init__(self, inner: FakeAudioOutput) -> None:
        self.inner = inner

    def prepare(self, path: str | os.PathLike[str], *, margin_s: float = 5.0) -> PreparedAudio:
        return _LatePlayback(self.inner, path, margin_s)


class _LatePlayback(PreparedAudio):
    def __init__(self, inner: FakeAudioOutput, path: str | os.PathLike[str],
                 margin_s: float) -> None:
        super().__init__(path, inner.probe(path))
        self.inner = inner
        self.margin_s = margin_s

    def _play(self, *, stop: threading.Event | None, on_start: Callable[[], None] | None,
              on_block: Callable[[float], None] | None) -> PlaybackResult:
        return self.inner.play(self.path, stop=stop, margin_s=self.margin_s, on_start=on_start)


@pytest.mark.parametrize(("fail", "outcome", "states"), [
    (None, "completed", ON_OFF),
    (AudioDeviceError("no card"), "failed", ON_OFF),  # found only once the amp is on
])
def test_airing_backend_opening_device_late_still_airs(tmp_path: Path, media: Path,
                                                       rigs: list[Rig],
                                                       fail: AudioDeviceError | None,
                                                       outcome: str, states: list[bool]) -> None:
    rig = make_rig(rigs, tmp_path, _OpensDeviceLate(FakeAudioOutput(fail_with=fail)))
    payload = rig.airer.air(SEGMENT, media)
    assert payload["outcome"] == outcome and payload["media_s"] == 1.5
    assert rig.states() == states


def test_airing_real_audio_device_hung_at_open_never_switches_amp(
        tmp_path: Path, media: Path, rigs: list[Rig], capture_file: Path) -> None:
    from hal.audio import PortAudioOutput

    release = threading.Event()

    def hanging_open(**kwargs: Any) -> Any:
        release.wait(10)
        raise RuntimeError("device gone")

    audio = PortAudioOutput("testout", stream_factory=hanging_open)
    rig = make_rig(rigs, tmp_path, audio, clock=SystemClock(), warmup_s=0.1)
    begun = SystemClock().monotonic()
    try:
        payload = rig.airer.air(SEGMENT, media)  # margin 0.5 s
    finally:
        release.set()
    assert SystemClock().monotonic() - begun < 0.5 + 1.0
    assert (payload["outcome"], payload["reason"]) == ("failed", "audio-device")
    assert rig.states() == NEVER_ON
    assert payload["amp"] == {"on_at": None, "off_at": None, "confirmed": None}


def test_airing_amp_fault_fails_and_releases_the_prepared_stream(tmp_path: Path, media: Path,
                                                                 rigs: list[Rig]) -> None:
    from hal.errors import AmplifierError

    audio = FakeAudioOutput()
    rig = make_rig(rigs, tmp_path, audio)

    def broken_on() -> None:
        raise AmplifierError("cannot switch amplifier on pin=17: OSError: gpiochip busy")

    rig.amp.on = broken_on  # type: ignore[method-assign]
    payload = rig.airer.air(SEGMENT, media)
    assert (payload["outcome"], payload["reason"]) == ("failed", "amp-fault")
    assert rig.states() == NEVER_ON and audio.plays == []
    (prepared,) = audio.prepared
    assert prepared.closed and not prepared.ran


def test_airing_unavailable_audio_output_fails_before_the_amp(tmp_path: Path, media: Path,
                                                             rigs: list[Rig]) -> None:
    """An output that could not be set up (the daemon and ``play`` keep running): each
    airing is a failed event with the output's reason, and the amp never goes on."""
    error = AudioDeviceError("no device matches 'usb-card'")
    rig = make_rig(rigs, tmp_path, UnavailableAudio(error))
    with pytest.raises(AudioDeviceError):
        rig.audio.prepare(media)
    payload = rig.airer.air(SEGMENT, media, slot_at=START_AT + timedelta(seconds=2))
    assert (payload["outcome"], payload["reason"], payload["amp"]["on_at"]) == \
        ("failed", error.reason, None)
    assert rig.states() == [False]


@pytest.mark.parametrize("size", [0, 1, (1 << 20) - 1, (1 << 20) + 7, 3 << 20])
def test_airing_file_sha256_matches_hashlib_across_chunk_borders(tmp_path: Path, size: int) -> None:
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    with pytest.raises(OSError):
        file_sha256(tmp_path / "missing.bin")
