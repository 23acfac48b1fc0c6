"""The airing when things go wrong (bad media, dead or hung device, amp fault, stop,
Ctrl-C): the amplifier ends off and the event says what happened."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from airing_testkit import (
    NEVER_ON,
    ON_OFF,
    SEGMENT,
    START_AT,
    Rig,
    make_rig,
)

from hal.audio import UnavailableAudio
from hal.errors import AudioDeviceError
from hal.fake import FakeAudioOutput
from radio_protocol.clock import SystemClock


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
