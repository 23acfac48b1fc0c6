"""hal.audio.base: ``play`` = ``prepare`` + ``run`` written once, a prepared playback runs
once and closes once, for every backend (a minimal one here, the fake, UnavailableAudio)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from hal.audio import (
    AudioOutput,
    PlaybackResult,
    PortAudioOutput,
    PreparedAudio,
    PreparedPortAudio,
    UnavailableAudio,
    probe,
)
from hal.errors import AudioDeviceError, MediaError
from hal.fake import FakeAudioOutput, FakePrepared

RATE = 8000


@pytest.fixture
def media(tmp_path: Path) -> Path:
    path = tmp_path / "seg.wav"
    sf.write(str(path), np.full(RATE, 0.25, dtype=np.float32), RATE)
    return path


class Recording(AudioOutput):
    """The smallest backend: records what the base class asks of it."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def prepare(self, path: str | os.PathLike[str], *, margin_s: float = 5.0) -> PreparedAudio:
        self.calls.append(f"prepare margin_s={margin_s:g}")
        return RecordingPlayback(self, path)


class RecordingPlayback(PreparedAudio):
    def __init__(self, output: Recording, path: str | os.PathLike[str]) -> None:
        super().__init__(path, probe(path))
        self.output = output

    def _play(self, *, stop: threading.Event | None, on_start: Callable[[], None] | None,
              on_block: Callable[[float], None] | None) -> PlaybackResult:
        self.output.calls.append("play")
        if on_start is not None:
            on_start()
        if on_block is not None:
            on_block(self.info.duration_s)
        return PlaybackResult(self.info.duration_s, self.info.duration_s, -12.0, -12.0, 0.0, 0,
                              False)

    def _release(self) -> None:
        self.output.calls.append("release")


def test_audio_base_backends_share_the_base() -> None:
    for backend in (PortAudioOutput, FakeAudioOutput, UnavailableAudio):
        assert issubclass(backend, AudioOutput)
    for prepared in (PreparedPortAudio, FakePrepared):
        assert issubclass(prepared, PreparedAudio)


def test_audio_base_needs_prepare() -> None:
    class NoPrepare(AudioOutput):
        pass

    with pytest.raises(TypeError, match="prepare"):
        NoPrepare()  # type: ignore[abstract]


def test_audio_base_play_is_prepare_then_run_with_every_callback(media: Path) -> None:
    output = Recording()
    started: list[bool] = []
    blocks: list[float] = []
    result = output.play(media, margin_s=2.5, on_start=lambda: started.append(True),
                         on_block=blocks.append)
    assert output.calls == ["prepare margin_s=2.5", "play"]  # closed after run: no release
    assert started == [True] and blocks == [1.0] and result.played_s == 1.0


def test_audio_base_probe_reads_the_header(media: Path) -> None:
    assert Recording().probe(media) == probe(media)
    with pytest.raises(MediaError):
        Recording().probe(media.with_name("absent.wav"))


def test_audio_base_prepared_runs_once_and_releases_only_unrun(media: Path) -> None:
    output = Recording()
    prepared = output.prepare(media)
    prepared.run()
    with pytest.raises(RuntimeError, match="runs once"):
        prepared.run()
    prepared.close()
    assert prepared.ran and prepared.closed and output.calls.count("release") == 0

    unrun = output.prepare(media)
    with unrun:
        pass
    unrun.close()
    assert output.calls.count("release") == 1 and not unrun.ran
    with pytest.raises(RuntimeError, match="not after close"):
        unrun.run()


def test_unavailable_audio_raises_its_error_everywhere(media: Path) -> None:
    error = AudioDeviceError("no output device named 'USB'")
    audio = UnavailableAudio(error)
    for call in (lambda: audio.probe(media), lambda: audio.prepare(media),
                 lambda: audio.play(media)):
        with pytest.raises(AudioDeviceError) as caught:
            call()
        assert caught.value is error
