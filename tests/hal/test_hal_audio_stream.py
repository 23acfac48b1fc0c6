"""hal.audio.PortAudioOutput's stream guard on real PortAudio: hung writes and opens,
underflows, ``stop``, the callbacks, and the prepare/run/close life of a stream."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from audio_testkit import RATE, StreamSpy, capture, spy_factory, tone, trim, write

from hal.audio import PlaybackResult, PortAudioOutput, probe
from hal.errors import AudioDeviceError


def test_audio_hung_write_raises_within_margin(tmp_path: Path, capture_file: Path) -> None:
    media = write(tmp_path / "a.wav", tone(0.5))
    release = threading.Event()
    spies: list[StreamSpy] = []
    output = PortAudioOutput("testout", stream_factory=spy_factory(spies, hang=release))
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
    media = write(tmp_path / "a.wav", tone(1.0))
    spies: list[StreamSpy] = []
    output = PortAudioOutput("testout", blocksize=4410, stream_factory=spy_factory(spies, every=3))

    result = output.play(media)

    assert spies[0].writes == 10
    assert result.underruns == 3
    assert spies[0].calls == ["start", "stop", "close"]


def test_audio_stop_event_ends_between_blocks(tmp_path: Path, capture_file: Path) -> None:
    media = write(tmp_path / "a.wav", tone(2.0), subtype="PCM_16")
    stop = threading.Event()

    result = PortAudioOutput("testout", blocksize=4096).play(media, stop=stop, on_start=stop.set)

    assert result.stopped is True
    assert result.played_s == pytest.approx(4096 / RATE)
    assert result.media_s == pytest.approx(2.0)
    expected = sf.read(str(media), dtype="int16", frames=4096)[0]
    assert np.array_equal(capture(capture_file, 2)[:4096], expected)


def test_audio_stop_already_set_plays_nothing(tmp_path: Path, capture_file: Path) -> None:
    media = write(tmp_path / "a.wav", tone(0.5))
    stop = threading.Event()
    stop.set()
    started: list[bool] = []

    result = PortAudioOutput("testout").play(media, stop=stop, on_start=lambda: started.append(True))

    assert result == PlaybackResult(0.0, 0.5, -120.0, -120.0, 0.0, 0, True)
    assert started == []


def test_audio_failing_on_start_does_not_stop_playback(
    tmp_path: Path, capture_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    media = write(tmp_path / "a.wav", tone(0.5))

    def broken() -> None:
        raise RuntimeError("timestamp store down")

    result = PortAudioOutput("testout").play(media, on_start=broken)

    assert result.played_s == pytest.approx(0.5)
    assert "on_start callback failed" in caplog.text


def test_audio_prepare_opens_without_playing_then_runs_once(
    tmp_path: Path, capture_file: Path
) -> None:
    media = write(tmp_path / "a.wav", tone(0.3), subtype="PCM_16")
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
        trim(capture(capture_file, 2)), trim(sf.read(str(media), dtype="int16")[0])
    )


def test_audio_prepare_close_releases_an_unplayed_stream(
    tmp_path: Path, capture_file: Path
) -> None:
    import hal.audio.devices

    media = write(tmp_path / "a.wav", tone(0.2))
    spies: list[StreamSpy] = []
    before = hal.audio.devices._open_streams  # a stream of another test may still be reaped
    prepared = PortAudioOutput("testout", stream_factory=spy_factory(spies)).prepare(media)
    assert hal.audio.devices._open_streams == before + 1
    prepared.close()
    prepared.close()
    assert spies[0].calls == ["close"] and hal.audio.devices._open_streams == before
    with pytest.raises(RuntimeError):
        prepared.run()


def test_audio_prepare_hung_open_gives_up_within_margin(
    tmp_path: Path, capture_file: Path
) -> None:
    media = write(tmp_path / "a.wav", tone(0.2))
    release = threading.Event()
    spies: list[StreamSpy] = []
    real_factory = spy_factory(spies)

    def slow_factory(**kwargs: Any) -> StreamSpy:
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
    path = write(tmp_path / "tone.wav", tone(1.0), subtype="PCM_16")
    blocks: list[float] = []
    started: list[int] = []
    result = PortAudioOutput("testout", blocksize=4096).play(
        path, on_start=lambda: started.append(len(blocks)), on_block=blocks.append)
    assert started == [0]
    assert len(blocks) == -(-RATE // 4096)  # ceil: the last block is short
    assert blocks[:-1] == [pytest.approx(4096 / RATE)] * (len(blocks) - 1)
    assert sum(blocks) == pytest.approx(result.played_s) == pytest.approx(1.0)
    assert trim(capture(capture_file, 2)).shape[0] >= RATE - 1  # the sine starts at 0
