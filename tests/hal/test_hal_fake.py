"""hal.fake.FakeAudioOutput: the stand-in the airing and daemon tests use."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from hal.audio import PlaybackResult
from hal.errors import AudioDeviceError, MediaError
from hal.fake import FakeAudioOutput

RATE = 16000


def _media(tmp_path: Path, seconds: float = 1.0, silence_s: float = 0.0) -> Path:
    t = np.arange(round(seconds * RATE)) / RATE
    data = np.concatenate([0.5 * np.sin(2 * np.pi * 440 * t), np.zeros(round(silence_s * RATE))])
    path = tmp_path / "seg.flac"
    sf.write(str(path), data, RATE)
    return path


def test_fake_audio_plays_and_records_with_real_levels(tmp_path: Path) -> None:
    media = _media(tmp_path, 1.0, silence_s=0.5)
    fake = FakeAudioOutput()
    started: list[bool] = []

    result = fake.play(media, margin_s=2.0, on_start=lambda: started.append(True))

    assert result.played_s == pytest.approx(1.5)
    assert result.media_s == pytest.approx(1.5)
    assert result.peak_dbfs == pytest.approx(-6.02, abs=0.1)
    assert result.silent_s == pytest.approx(0.5, abs=0.06)
    assert (result.underruns, result.stopped) == (0, False)
    assert started == [True]
    assert [(p.path, p.margin_s, p.result, p.error) for p in fake.plays] == [
        (media, 2.0, result, None)
    ]
    assert fake.probe(media).frames == 1.5 * RATE


@pytest.mark.parametrize(
    ("after_start", "calls"), [(False, []), (True, [True])], ids=["before", "after-start"]
)
def test_fake_audio_fail_with_raises_and_records(
    tmp_path: Path, after_start: bool, calls: list[bool]
) -> None:
    boom = AudioDeviceError("usb card gone")
    fake = FakeAudioOutput(fail_with=boom, fail_after_start=after_start)
    started: list[bool] = []

    with pytest.raises(AudioDeviceError) as caught:
        fake.play(_media(tmp_path), on_start=lambda: started.append(True))

    assert caught.value is boom
    assert started == calls
    assert (boom.partial is not None) is after_start  # the real one sets it once started
    assert fake.plays[0].error is boom and fake.plays[0].result is None


def test_fake_audio_missing_media_fails_like_the_real_one(tmp_path: Path) -> None:
    with pytest.raises(MediaError) as caught:
        FakeAudioOutput().play(tmp_path / "absent.mp3")
    assert caught.value.reason == "media-missing"


def test_fake_audio_hang_raises_after_margin(tmp_path: Path) -> None:
    fake = FakeAudioOutput(hang=True)
    begun = time.monotonic()
    with pytest.raises(AudioDeviceError, match="hung") as caught:
        fake.play(_media(tmp_path), margin_s=0.2)
    assert 0.2 <= time.monotonic() - begun < 1.0
    assert caught.value.partial is not None and caught.value.partial.played_s == 0.0


def test_fake_audio_stop_at_and_preset_stop(tmp_path: Path) -> None:
    media = _media(tmp_path, 2.0)
    result = FakeAudioOutput(stop_at_s=0.5).play(media)
    assert (result.played_s, result.stopped) == (0.5, True)

    stop = threading.Event()
    stop.set()
    assert FakeAudioOutput().play(media, stop=stop) == PlaybackResult(
        0.0, 2.0, -120.0, -120.0, 0.0, 0, True
    )


def test_fake_audio_paced_play_can_be_preempted(tmp_path: Path) -> None:
    media = _media(tmp_path, 2.0)
    stop = threading.Event()
    timer = threading.Timer(0.1, stop.set)
    timer.start()

    result = FakeAudioOutput(pace=0.5).play(media, stop=stop)  # 2 s of audio in 1 s

    timer.join()
    assert result.stopped is True
    assert 0.1 <= result.played_s <= 1.5  # stopped well before the 2 s end, even if loaded


def test_fake_audio_and_hal_audio_import_do_not_load_portaudio() -> None:
    import subprocess
    import sys

    code = "import sys, hal.fake, hal.audio; print('sounddevice' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_fake_audio_prepare_fails_like_a_refusing_device_and_runs_once(tmp_path: Path) -> None:
    media = _media(tmp_path)
    boom = AudioDeviceError("no such card")
    with pytest.raises(AudioDeviceError):
        FakeAudioOutput(fail_with=boom).prepare(media)

    fake = FakeAudioOutput()
    prepared = fake.prepare(media, margin_s=3.0)
    assert prepared.info.frames == RATE and fake.plays == []
    result = prepared.run()
    with pytest.raises(RuntimeError, match="runs once"):
        prepared.run()
    prepared.close()
    assert fake.prepared == [prepared] and prepared.ran and prepared.closed
    assert [(p.margin_s, p.result) for p in fake.plays] == [(3.0, result)]
