"""hal.audio against real PortAudio writing through the ALSA file plugin (tests/asound-test.conf).

Each test plays generated media to the ``testout`` device and reads back the raw
capture: the samples PortAudio really delivered to ALSA.
"""

from __future__ import annotations

import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from hal.audio import LevelMeter, MediaInfo, PlaybackResult, PortAudioOutput, probe, remix
from hal.errors import AudioDeviceError, MediaError

RATE = 44100


def _tone(
    seconds: float, rate: int = RATE, freq: float = 440.0, amp: float = 0.5, channels: int = 2
) -> np.ndarray:
    """A float64 sine (channel k at freq * (k + 1)), shape (frames, channels)."""
    t = np.arange(round(seconds * rate)) / rate
    return np.stack([amp * np.sin(2 * np.pi * freq * (k + 1) * t) for k in range(channels)], 1)


def _write(path: Path, data: np.ndarray, rate: int = RATE, subtype: str | None = None) -> Path:
    sf.write(str(path), data, rate, subtype=subtype)
    return path


def _capture(path: Path, channels: int, dtype: str = "int16") -> np.ndarray:
    return np.fromfile(path, dtype=dtype).reshape(-1, channels)


def _trim(frames: np.ndarray) -> np.ndarray:
    """Drop all-zero frames at both ends."""
    nonzero = np.flatnonzero(np.any(frames != 0, axis=1))
    return frames[nonzero[0] : nonzero[-1] + 1] if nonzero.size else frames[:0]


def _dominant_hz(signal: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(signal.size)))
    return float(np.fft.rfftfreq(signal.size, 1 / rate)[int(np.argmax(spectrum))])


def test_audio_mp3_supported_by_libsndfile() -> None:
    assert "MP3" in sf.available_formats()


@pytest.mark.parametrize(
    ("suffix", "subtype"),
    [("wav", "PCM_16"), ("flac", "PCM_16"), ("ogg", "VORBIS"), ("mp3", "MPEG_LAYER_III")],
)
def test_audio_play_capture_equals_decoded_samples(
    tmp_path: Path, capture_file: Path, suffix: str, subtype: str
) -> None:
    media = _write(tmp_path / f"tone.{suffix}", _tone(1.5), subtype=subtype)
    started: list[bool] = []

    result = PortAudioOutput("testout").play(media, on_start=lambda: started.append(True))

    expected = sf.read(str(media), dtype="int16", always_2d=True)[0]
    captured = _capture(capture_file, 2)
    assert started == [True]
    assert np.array_equal(_trim(captured), _trim(expected))
    assert result.played_s == pytest.approx(expected.shape[0] / RATE)
    assert result.media_s == pytest.approx(probe(media).duration_s)
    assert (result.stopped, result.underruns) == (False, 0)


def test_audio_play_float32_stream_is_sample_exact(tmp_path: Path, capture_file: Path) -> None:
    data = _tone(0.5).astype(np.float32)
    media = _write(tmp_path / "tone.wav", data, subtype="FLOAT")

    PortAudioOutput("testout", dtype="float32").play(media)

    assert np.array_equal(_trim(_capture(capture_file, 2, "float32")), _trim(data))


def test_audio_resamples_22050_file_to_forced_48000_stream(
    tmp_path: Path, capture_file: Path
) -> None:
    media = _write(tmp_path / "low.wav", _tone(1.0, rate=22050, freq=1000.0, channels=1), 22050)

    result = PortAudioOutput("testout", samplerate=48000, channels=2).play(media)

    captured = _capture(capture_file, 2)
    assert abs(captured.shape[0] - 48000) <= 2
    assert np.array_equal(captured[:, 0], captured[:, 1])  # mono copied to both channels
    assert _dominant_hz(captured[:, 0].astype(np.float64), 48000) == pytest.approx(1000.0, abs=5)
    assert result.played_s == pytest.approx(1.0, abs=0.001)
    assert result.media_s == pytest.approx(1.0)


def test_audio_stereo_file_on_mono_stream_is_averaged(tmp_path: Path, capture_file: Path) -> None:
    media = _write(tmp_path / "st.wav", _tone(0.3), subtype="PCM_16")
    source = sf.read(str(media), dtype="int16")[0].astype(np.int32)

    PortAudioOutput("testout", channels=1).play(media)

    expected = np.rint(source.mean(axis=1)).astype(np.int16).reshape(-1, 1)
    assert np.array_equal(_trim(_capture(capture_file, 1)), _trim(expected))


@pytest.mark.parametrize(
    ("have", "want", "expected"),
    [
        ([[1], [2]], 2, [[1, 1], [2, 2]]),
        ([[1, 3], [2, 5]], 1, [[2], [4]]),
        ([[1, 2], [3, 4]], 4, [[1, 2, 1, 2], [3, 4, 3, 4]]),
        ([[1, 2, 3]], 2, [[1, 2]]),
        ([[7, 8]], 2, [[7, 8]]),
    ],
)
def test_audio_remix_channel_tables(
    have: list[list[int]], want: int, expected: list[list[int]]
) -> None:
    out = remix(np.array(have, dtype=np.int16), want)
    assert out.dtype == np.int16
    assert out.tolist() == expected


def test_audio_levels_of_known_sine_and_silence(tmp_path: Path, capture_file: Path) -> None:
    sine = _tone(1.0, amp=0.5, channels=1)
    data = np.concatenate([sine, np.zeros((RATE, 1))])
    media = _write(tmp_path / "half.wav", data, subtype="FLOAT")

    result = PortAudioOutput("testout", dtype="float32").play(media)

    assert result.peak_dbfs == pytest.approx(-6.02, abs=0.1)
    assert result.rms_dbfs == pytest.approx(-12.04, abs=0.1)  # -9.03 dB over half the time
    assert result.silent_s == pytest.approx(1.0, abs=0.06)
    assert result.played_s == pytest.approx(2.0)


def test_audio_level_meter_is_independent_of_block_borders() -> None:
    rng = np.random.default_rng(7)
    data = np.concatenate([rng.normal(0, 0.1, (30000, 2)), np.zeros((30011, 2))]).astype(np.float32)
    whole = LevelMeter(RATE)
    whole.add(data)
    pieces = LevelMeter(RATE)
    for start in range(0, data.shape[0], 997):
        pieces.add(data[start : start + 997])

    assert pieces.frames == whole.frames == data.shape[0]
    assert pieces.rms_dbfs == pytest.approx(whole.rms_dbfs, abs=1e-9)
    assert pieces.peak_dbfs == whole.peak_dbfs
    assert pieces.silent_s == pytest.approx(whole.silent_s)
    assert whole.silent_s == pytest.approx(30011 / RATE, abs=0.05)


def test_audio_level_meter_floor_for_digital_silence() -> None:
    meter = LevelMeter(RATE)
    meter.add(np.zeros((RATE, 1), dtype=np.int16))
    assert (meter.rms_dbfs, meter.peak_dbfs, meter.silent_s) == (-120.0, -120.0, 1.0)


def test_audio_streams_long_file_with_bounded_memory(tmp_path: Path, capture_file: Path) -> None:
    media = tmp_path / "long.wav"
    block = (_tone(1.0, rate=48000) * 32767).astype(np.int16)
    with sf.SoundFile(str(media), "w", 48000, 2, "PCM_16") as out:
        for _ in range(90):
            out.write(block)
    file_bytes = media.stat().st_size  # about 17 MB

    tracemalloc.start()
    try:
        result = PortAudioOutput("testout").play(media)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert result.played_s == pytest.approx(90.0)
    assert capture_file.stat().st_size == 90 * 48000 * 2 * 2
    assert peak < 2_000_000 < file_bytes / 8


def test_audio_probe_reports_media_info(tmp_path: Path) -> None:
    media = _write(tmp_path / "p.flac", _tone(0.25, rate=32000, channels=1), 32000)
    assert probe(media) == MediaInfo(duration_s=0.25, samplerate=32000, channels=1, frames=8000)
    assert PortAudioOutput("testout").probe(media) == probe(media)


def _corrupt(tmp_path: Path) -> Path:
    path = tmp_path / "corrupt.mp3"
    path.write_bytes(b"this is not audio at all " * 40)
    return path


def _empty_wav(tmp_path: Path) -> Path:
    return _write(tmp_path / "empty.wav", np.zeros((0, 1)))


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
    media = _write(tmp_path / "a.wav", _tone(0.2))
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
    media = _write(tmp_path / "a.wav", _tone(0.2), subtype="PCM_16")
    PortAudioOutput(device).play(media)
    assert np.array_equal(
        _trim(_capture(capture_file, 2)), _trim(sf.read(str(media), dtype="int16")[0])
    )


class _StreamSpy:
    """Wraps a real PortAudio stream; its writes can hang or report underflows."""

    def __init__(self, stream: Any, hang: threading.Event | None, underflow_every: int) -> None:
        self.stream = stream
        self.hang = hang
        self.underflow_every = underflow_every
        self.writes = 0
        self.calls: list[str] = []
        self.closed = threading.Event()

    def start(self) -> None:
        self.calls.append("start")
        self.stream.start()

    def write(self, block: np.ndarray) -> bool:
        self.writes += 1
        if self.hang is not None:
            self.hang.wait()  # a sound card that never takes the samples
        self.stream.write(block)
        return self.underflow_every > 0 and self.writes % self.underflow_every == 0

    def stop(self) -> None:
        self.calls.append("stop")
        self.stream.stop()

    def abort(self) -> None:
        self.calls.append("abort")
        self.stream.abort()

    def close(self) -> None:
        self.calls.append("close")
        self.stream.close()
        self.closed.set()


def _spy_factory(
    spies: list[_StreamSpy], hang: threading.Event | None = None, every: int = 0
) -> Any:
    import sounddevice

    def factory(**kwargs: Any) -> _StreamSpy:
        spies.append(_StreamSpy(sounddevice.OutputStream(**kwargs), hang, every))
        return spies[-1]

    return factory


def test_audio_hung_write_raises_within_margin(tmp_path: Path, capture_file: Path) -> None:
    media = _write(tmp_path / "a.wav", _tone(0.5))
    release = threading.Event()
    spies: list[_StreamSpy] = []
    output = PortAudioOutput("testout", stream_factory=_spy_factory(spies, hang=release))
    started: list[bool] = []
    begun = time.monotonic()
    try:
        with pytest.raises(AudioDeviceError) as caught:
            output.play(media, margin_s=0.3, on_start=lambda: started.append(True))
        elapsed = time.monotonic() - begun
    finally:
        release.set()

    assert elapsed < 0.5 + 0.3 + 0.5
    assert "hung" in str(caught.value) and "'testout'" in str(caught.value)
    assert started == [True]
    assert caught.value.partial is not None and caught.value.partial.played_s == 0.0
    assert spies[0].calls[:2] == ["start", "abort"]
    assert spies[0].closed.wait(2.0)  # released once the write came back


def test_audio_counts_underflowed_writes(tmp_path: Path, capture_file: Path) -> None:
    media = _write(tmp_path / "a.wav", _tone(1.0))
    spies: list[_StreamSpy] = []
    output = PortAudioOutput("testout", blocksize=4410, stream_factory=_spy_factory(spies, every=3))

    result = output.play(media)

    assert spies[0].writes == 10
    assert result.underruns == 3
    assert spies[0].calls == ["start", "stop", "close"]


def test_audio_stop_event_ends_between_blocks(tmp_path: Path, capture_file: Path) -> None:
    media = _write(tmp_path / "a.wav", _tone(2.0), subtype="PCM_16")
    stop = threading.Event()

    result = PortAudioOutput("testout", blocksize=4096).play(media, stop=stop, on_start=stop.set)

    assert result.stopped is True
    assert result.played_s == pytest.approx(4096 / RATE)
    assert result.media_s == pytest.approx(2.0)
    expected = sf.read(str(media), dtype="int16", frames=4096)[0]
    assert np.array_equal(_capture(capture_file, 2)[:4096], expected)


def test_audio_stop_already_set_plays_nothing(tmp_path: Path, capture_file: Path) -> None:
    media = _write(tmp_path / "a.wav", _tone(0.5))
    stop = threading.Event()
    stop.set()
    started: list[bool] = []

    result = PortAudioOutput("testout").play(media, stop=stop, on_start=lambda: started.append(True))

    assert result == PlaybackResult(0.0, 0.5, -120.0, -120.0, 0.0, 0, True)
    assert started == []


def test_audio_failing_on_start_does_not_stop_playback(
    tmp_path: Path, capture_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    media = _write(tmp_path / "a.wav", _tone(0.5))

    def broken() -> None:
        raise RuntimeError("timestamp store down")

    result = PortAudioOutput("testout").play(media, on_start=broken)

    assert result.played_s == pytest.approx(0.5)
    assert "on_start callback failed" in caplog.text


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
    media = _write(tmp_path / "a.wav", _tone(0.1))
    with pytest.raises(ValueError, match="margin_s"):
        PortAudioOutput("testout").play(media, margin_s=margin_s)


def test_audio_accepts_latency_in_seconds(tmp_path: Path, capture_file: Path) -> None:
    media = _write(tmp_path / "a.wav", _tone(0.2))
    assert PortAudioOutput("testout", latency=0.05).play(media).played_s == pytest.approx(0.2)


def test_audio_corrupt_flac_mid_stream_raises_media_corrupt_with_partial(
    tmp_path: Path, capture_file: Path
) -> None:
    media = _write(tmp_path / "cut.flac", _tone(2.0), subtype="PCM_16")
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

    media = _write(tmp_path / "a.wav", _tone(1.0))
    spies: list[_StreamSpy] = []
    real_factory = _spy_factory(spies)

    def failing_factory(**kwargs: Any) -> _StreamSpy:
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


def test_audio_prepare_opens_without_playing_then_runs_once(
    tmp_path: Path, capture_file: Path
) -> None:
    media = _write(tmp_path / "a.wav", _tone(0.3), subtype="PCM_16")
    output = PortAudioOutput("testout")

    with output.prepare(media) as prepared:
        assert prepared.info == probe(media)
        assert (prepared.device, prepared.samplerate, prepared.channels) == ("testout", RATE, 2)
        assert capture_file.stat().st_size == 0  # the device is open, nothing went out
        result = prepared.run()
        with pytest.raises(RuntimeError, match="runs once"):
            prepared.run()

    assert result.played_s == pytest.approx(0.3)
    assert np.array_equal(
        _trim(_capture(capture_file, 2)), _trim(sf.read(str(media), dtype="int16")[0])
    )


def test_audio_prepare_close_releases_an_unplayed_stream(
    tmp_path: Path, capture_file: Path
) -> None:
    import hal.audio.devices

    media = _write(tmp_path / "a.wav", _tone(0.2))
    spies: list[_StreamSpy] = []
    before = hal.audio.devices._open_streams  # a stream of another test may still be reaped
    prepared = PortAudioOutput("testout", stream_factory=_spy_factory(spies)).prepare(media)
    assert hal.audio.devices._open_streams == before + 1
    prepared.close()
    prepared.close()
    assert spies[0].calls == ["close"] and hal.audio.devices._open_streams == before
    with pytest.raises(RuntimeError):
        prepared.run()


def test_audio_prepare_hung_open_gives_up_within_margin(
    tmp_path: Path, capture_file: Path
) -> None:
    media = _write(tmp_path / "a.wav", _tone(0.2))
    release = threading.Event()
    spies: list[_StreamSpy] = []
    real_factory = _spy_factory(spies)

    def slow_factory(**kwargs: Any) -> _StreamSpy:
        release.wait(10)  # a card whose open blocks (driver hang)
        return real_factory(**kwargs)

    begun = time.monotonic()
    with pytest.raises(AudioDeviceError, match="opening it took more than 0.3 s"):
        PortAudioOutput("testout", stream_factory=slow_factory).prepare(media, margin_s=0.3)
    assert time.monotonic() - begun < 0.3 + 0.5
    release.set()
    deadline = time.monotonic() + 5
    while not (spies and spies[0].closed.is_set()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert spies[0].calls == ["close"]  # the late stream was closed, never started


def test_audio_on_block_reports_each_block_written(tmp_path: Path, capture_file: Path) -> None:
    """``on_block(seconds)`` after each block written: a watchdog's progress and a simulated
    clock's pace. The seconds add up to what was played, block by block in order."""
    path = _write(tmp_path / "tone.wav", _tone(1.0), subtype="PCM_16")
    blocks: list[float] = []
    started: list[int] = []
    result = PortAudioOutput("testout", blocksize=4096).play(
        path, on_start=lambda: started.append(len(blocks)), on_block=blocks.append)
    assert started == [0]
    assert len(blocks) == -(-RATE // 4096)  # ceil: the last block is short
    assert blocks[:-1] == [pytest.approx(4096 / RATE)] * (len(blocks) - 1)
    assert sum(blocks) == pytest.approx(result.played_s) == pytest.approx(1.0)
    assert _trim(_capture(capture_file, 2)).shape[0] >= RATE - 1  # the sine starts at 0
