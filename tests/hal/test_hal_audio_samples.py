"""hal.audio.PortAudioOutput against real PortAudio writing through the ALSA file plugin
(tests/asound-test.conf): the samples, formats and levels that reach the device.

Each test plays generated media to the ``testout`` device and reads back the raw
capture: the samples PortAudio really delivered to ALSA.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from audio_testkit import RATE, capture, dominant_hz, tone, trim, write

from hal.audio import LevelMeter, MediaInfo, PortAudioOutput, probe, remix


def test_audio_mp3_supported_by_libsndfile() -> None:
    assert "MP3" in sf.available_formats()


@pytest.mark.parametrize(
    ("suffix", "subtype"),
    [("wav", "PCM_16"), ("flac", "PCM_16"), ("ogg", "VORBIS"), ("mp3", "MPEG_LAYER_III")],
)
def test_audio_play_capture_equals_decoded_samples(
    tmp_path: Path, capture_file: Path, suffix: str, subtype: str
) -> None:
    media = write(tmp_path / f"tone.{suffix}", tone(1.5), subtype=subtype)
    started: list[bool] = []

    result = PortAudioOutput("testout").play(media, on_start=lambda: started.append(True))

    expected = sf.read(str(media), dtype="int16", always_2d=True)[0]
    captured = capture(capture_file, 2)
    assert started == [True]
    assert np.array_equal(trim(captured), trim(expected))
    assert result.played_s == pytest.approx(expected.shape[0] / RATE)
    assert result.media_s == pytest.approx(probe(media).duration_s)
    assert (result.stopped, result.underruns) == (False, 0)


def test_audio_play_float32_stream_is_sample_exact(tmp_path: Path, capture_file: Path) -> None:
    data = tone(0.5).astype(np.float32)
    media = write(tmp_path / "tone.wav", data, subtype="FLOAT")

    PortAudioOutput("testout", dtype="float32").play(media)

    assert np.array_equal(trim(capture(capture_file, 2, "float32")), trim(data))


def test_audio_resamples_22050_file_to_forced_48000_stream(
    tmp_path: Path, capture_file: Path
) -> None:
    media = write(tmp_path / "low.wav", tone(1.0, rate=22050, freq=1000.0, channels=1), 22050)

    result = PortAudioOutput("testout", samplerate=48000, channels=2).play(media)

    captured = capture(capture_file, 2)
    assert abs(captured.shape[0] - 48000) <= 2
    assert np.array_equal(captured[:, 0], captured[:, 1])  # mono copied to both channels
    assert dominant_hz(captured[:, 0].astype(np.float64), 48000) == pytest.approx(1000.0, abs=5)
    assert result.played_s == pytest.approx(1.0, abs=0.001)
    assert result.media_s == pytest.approx(1.0)


def test_audio_stereo_file_on_mono_stream_is_averaged(tmp_path: Path, capture_file: Path) -> None:
    media = write(tmp_path / "st.wav", tone(0.3), subtype="PCM_16")
    source = sf.read(str(media), dtype="int16")[0].astype(np.int32)

    PortAudioOutput("testout", channels=1).play(media)

    expected = np.rint(source.mean(axis=1)).astype(np.int16).reshape(-1, 1)
    assert np.array_equal(trim(capture(capture_file, 1)), trim(expected))


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
    sine = tone(1.0, amp=0.5, channels=1)
    data = np.concatenate([sine, np.zeros((RATE, 1))])
    media = write(tmp_path / "half.wav", data, subtype="FLOAT")

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
    block = (tone(1.0, rate=48000) * 32767).astype(np.int16)
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
    media = write(tmp_path / "p.flac", tone(0.25, rate=32000, channels=1), 32000)
    assert probe(media) == MediaInfo(duration_s=0.25, samplerate=32000, channels=1, frames=8000)
    assert PortAudioOutput("testout").probe(media) == probe(media)


def test_audio_accepts_latency_in_seconds(tmp_path: Path, capture_file: Path) -> None:
    media = write(tmp_path / "a.wav", tone(0.2))
    assert PortAudioOutput("testout", latency=0.05).play(media).played_s == pytest.approx(0.2)
