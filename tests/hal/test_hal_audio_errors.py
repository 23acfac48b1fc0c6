"""hal.audio.PortAudioOutput: bad media, missing or refusing devices, bad arguments, and
failures in the middle of a play (each a ``HalError`` with what was aired so far)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from audio_testkit import RATE, StreamSpy, capture, spy_factory, tone, trim, write

from hal.audio import MediaInfo, PortAudioOutput, probe
from hal.errors import AudioDeviceError, MediaError


def _corrupt(tmp_path: Path) -> Path:
    path = tmp_path / "corrupt.mp3"
    path.write_bytes(b"this is not audio at all " * 40)
    return path


def _empty_wav(tmp_path: Path) -> Path:
    return write(tmp_path / "empty.wav", np.zeros((0, 1)))


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda d: d / "absent.mp3", "media-missing"),
        (lambda d: d, "media-missing"),
        (_corrupt, "media-corrupt"),
        (_empty_wav, "media-corrupt"),
    ],
    ids=["absent", "directory", "garbage", "no-frames"],
)
def test_audio_bad_media_raises_media_error(
    tmp_path: Path, capture_file: Path, make: Any, reason: str
) -> None:
    path = make(tmp_path)
    started: list[bool] = []
    with pytest.raises(MediaError) as caught:
        PortAudioOutput("testout").play(path, on_start=lambda: started.append(True))
    assert caught.value.reason == reason
    assert str(path) in str(caught.value)
    assert started == []
    with pytest.raises(MediaError):
        probe(path)


@pytest.mark.parametrize(
    ("device", "needle"),
    [("no-such-card", "'no-such-card'"), (99, "index 99"), ("t", "ambiguous")],
)
def test_audio_unknown_device_fails_fast_listing_devices(
    tmp_path: Path, capture_file: Path, device: str | int, needle: str
) -> None:
    media = write(tmp_path / "a.wav", tone(0.2))
    begun = time.monotonic()
    with pytest.raises(AudioDeviceError) as caught:
        PortAudioOutput(device).play(media)
    assert time.monotonic() - begun < 2.0
    assert caught.value.reason == "audio-device"
    assert needle in str(caught.value)
    assert "'testout'" in str(caught.value)
    assert not capture_file.exists()


@pytest.mark.parametrize("device", [0, "testo", "default", None])
def test_audio_device_by_index_substring_or_default(
    tmp_path: Path, capture_file: Path, device: str | int | None
) -> None:
    media = write(tmp_path / "a.wav", tone(0.2), subtype="PCM_16")
    PortAudioOutput(device).play(media)
    assert np.array_equal(
        trim(capture(capture_file, 2)), trim(sf.read(str(media), dtype="int16")[0])
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"latency": "medium"},
        {"latency": 0},
        {"latency": -0.1},
        {"dtype": "int8"},
        {"samplerate": 0},
        {"channels": 0},
        {"blocksize": 0},
    ],
)
def test_audio_rejects_bad_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError) as caught:
        PortAudioOutput("testout", **kwargs)
    assert next(iter(kwargs)) in str(caught.value)


@pytest.mark.parametrize("margin_s", [0, -1.0, float("nan")])
def test_audio_play_rejects_non_positive_margin(tmp_path: Path, margin_s: float) -> None:
    media = write(tmp_path / "a.wav", tone(0.1))
    with pytest.raises(ValueError, match="margin_s"):
        PortAudioOutput("testout").play(media, margin_s=margin_s)


def test_audio_corrupt_flac_mid_stream_raises_media_corrupt_with_partial(
    tmp_path: Path, capture_file: Path
) -> None:
    media = write(tmp_path / "cut.flac", tone(2.0), subtype="PCM_16")
    whole = media.read_bytes()
    media.write_bytes(whole[: len(whole) // 2])  # a download cut short

    with pytest.raises(MediaError) as caught:
        PortAudioOutput("testout").play(media)

    assert caught.value.reason == "media-corrupt"
    assert caught.value.partial is not None
    assert 0.0 < caught.value.partial.played_s < 2.0
    assert capture_file.stat().st_size == round(caught.value.partial.played_s * RATE) * 4


def test_audio_device_error_mid_write_raises_audio_device_error(
    tmp_path: Path, capture_file: Path
) -> None:
    import sounddevice

    media = write(tmp_path / "a.wav", tone(1.0))
    spies: list[StreamSpy] = []
    real_factory = spy_factory(spies)

    def failing_factory(**kwargs: Any) -> StreamSpy:
        spy = real_factory(**kwargs)
        real_write = spy.write

        def write(block: np.ndarray) -> bool:
            if spy.writes == 3:
                raise sounddevice.PortAudioError("Unanticipated host error [PaErrorCode -9999]")
            return real_write(block)

        spy.write = write  # type: ignore[method-assign]
        return spy

    with pytest.raises(AudioDeviceError) as caught:
        PortAudioOutput("testout", blocksize=4410, stream_factory=failing_factory).play(media)

    assert "Unanticipated host error" in str(caught.value)
    assert caught.value.partial is not None
    assert caught.value.partial.played_s == pytest.approx(0.3)
    assert spies[0].calls == ["start", "abort", "close"]


class _RefusingPortAudio:
    """Stands in for sounddevice's format check on a card that takes only 48 kHz stereo."""

    def __init__(self) -> None:
        self.tried: list[tuple[int, int]] = []

    def check_output_settings(
        self, *, device: int, samplerate: int, channels: int, dtype: str
    ) -> None:
        self.tried.append((samplerate, channels))
        if (samplerate, channels) != (48000, 2):
            raise ValueError("Invalid sample rate [PaErrorCode -9997]")


@pytest.mark.parametrize(
    ("file_rate", "file_channels", "tried"),
    [
        (48000, 2, [(48000, 2)]),
        (48000, 1, [(48000, 1), (48000, 2)]),
        (22050, 1, [(22050, 1), (22050, 2), (22050, 8), (48000, 1), (48000, 2)]),
    ],
)
def test_audio_settings_fall_back_to_device_default_rate_and_stereo(
    file_rate: int, file_channels: int, tried: list[tuple[int, int]]
) -> None:
    portaudio = _RefusingPortAudio()
    card = {
        "index": 3,
        "name": "USB Audio",
        "max_output_channels": 8,
        "default_samplerate": 48000.0,
    }
    info = MediaInfo(1.0, file_rate, file_channels, file_rate)

    chosen = PortAudioOutput("USB")._settings(portaudio, card, info)  # type: ignore[arg-type]

    assert chosen == (48000, 2)
    assert portaudio.tried == tried


def test_audio_settings_error_lists_every_refusal() -> None:
    portaudio = _RefusingPortAudio()
    card = {
        "index": 3,
        "name": "USB Audio",
        "max_output_channels": 1,
        "default_samplerate": 44100.0,
    }
    with pytest.raises(AudioDeviceError) as caught:
        PortAudioOutput("USB")._settings(portaudio, card, MediaInfo(1.0, 22050, 1, 22050))  # type: ignore[arg-type]
    assert "'USB Audio' refuses every format tried" in str(caught.value)
    assert "22050 Hz x1" in str(caught.value) and "48000 Hz x1" in str(caught.value)
