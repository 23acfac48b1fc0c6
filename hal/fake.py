"""Fakes of the hardware interfaces for unit tests of the layers above (airing, daemon).

``FakeAudioOutput`` has ``AudioOutput``'s interface and imports no sounddevice: it
reads the file with soundfile (so missing/corrupt media fail exactly as for real),
meters the decoded samples and returns a plausible ``PlaybackResult`` without any
device. The amplifier needs no fake: use ``Amplifier(..., pin_factory=MockFactory())``
(gpiozero's own shipped mock), or ``make_pin_factory("mock")``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hal.audio import DBFS_FLOOR, LevelMeter, MediaInfo, PlaybackResult, open_media, probe
from hal.errors import AudioDeviceError, HalError


@dataclass(frozen=True)
class FakePlay:
    """One recorded ``play`` call."""

    path: Path
    margin_s: float
    result: PlaybackResult | None
    error: BaseException | None


class FakePrepared:
    """What ``FakeAudioOutput.prepare`` returns: ``info``, ``run`` once, ``close``.

    ``ran`` and ``closed`` tell a test what the caller did with it.
    """

    def __init__(self, fake: FakeAudioOutput, path: Path, info: MediaInfo,
                 margin_s: float) -> None:
        self.path = path
        self.info = info
        self.margin_s = margin_s
        self.ran = False
        self.closed = False
        self._fake = fake

    def run(
        self,
        *,
        stop: threading.Event | None = None,
        on_start: Callable[[], None] | None = None,
        on_block: Callable[[float], None] | None = None,
    ) -> PlaybackResult:
        if self.ran or self.closed:
            raise RuntimeError("a prepared playback runs once (and not after close)")
        self.ran = True
        return self._fake._run(self.path, stop, self.margin_s, on_start, on_block)

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> FakePrepared:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FakeAudioOutput:
    """Records plays and answers like ``AudioOutput`` without a sound card.

    ``fail_with``: raise this exception from every ``prepare``/``play`` (as a refusing
    device would), or, when ``fail_after_start`` is True, from ``run`` after
    ``on_start`` (as a device failing mid-segment would).
    ``hang``: behave like a hung card: call ``on_start``, then wait ``margin_s`` of
    real time (or until ``release()``) and raise ``AudioDeviceError``, as the real
    deadline does; pass a small ``margin_s`` in tests.
    ``stop_at_s``: pretend ``stop`` was set after this many seconds of audio.
    ``pace``: real seconds to spend per second of audio (0 = instant); with a pace,
    ``stop`` is checked every 0.1 s of audio so another thread can pre-empt.
    A ``stop`` event already set when ``play`` is called gives ``stopped=True`` with
    nothing played. ``on_block(seconds)`` is called after each block "written" (0.1 s
    blocks with a pace, else up to 65536 frames), as the real output does. ``plays`` lists every call in order.
    """

    def __init__(
        self,
        device: str | int | None = "default",
        latency: str | float = "high",
        *,
        fail_with: BaseException | None = None,
        fail_after_start: bool = False,
        hang: bool = False,
        stop_at_s: float | None = None,
        pace: float = 0.0,
    ) -> None:
        self.device = device
        self.latency = latency
        self.fail_with = fail_with
        self.fail_after_start = fail_after_start
        self.hang = hang
        self.stop_at_s = stop_at_s
        self.pace = pace
        self.plays: list[FakePlay] = []
        self.prepared: list[FakePrepared] = []
        self._released = threading.Event()

    def probe(self, path: str | os.PathLike[str]) -> MediaInfo:
        return probe(path)

    def release(self) -> None:
        """Let a hanging ``play`` return (raising) at once."""
        self._released.set()

    def prepare(self, path: str | os.PathLike[str], *, margin_s: float = 5.0) -> FakePrepared:
        """Like ``AudioOutput.prepare``: check the media (and fail as a refusing device
        does when ``fail_with`` is set without ``fail_after_start``), play nothing."""
        try:
            if self.fail_with is not None and not self.fail_after_start:
                raise self.fail_with
            info = probe(path)
        except BaseException as exc:
            self.plays.append(FakePlay(Path(path), margin_s, None, exc))
            raise
        prepared = FakePrepared(self, Path(path), info, margin_s)
        self.prepared.append(prepared)
        return prepared

    def play(
        self,
        path: str | os.PathLike[str],
        *,
        stop: threading.Event | None = None,
        margin_s: float = 5.0,
        on_start: Callable[[], None] | None = None,
        on_block: Callable[[float], None] | None = None,
    ) -> PlaybackResult:
        with self.prepare(path, margin_s=margin_s) as prepared:
            return prepared.run(stop=stop, on_start=on_start, on_block=on_block)

    def _run(
        self,
        path: Path,
        stop: threading.Event | None,
        margin_s: float,
        on_start: Callable[[], None] | None,
        on_block: Callable[[float], None] | None = None,
    ) -> PlaybackResult:
        try:
            result = self._play(path, stop, margin_s, on_start, on_block)
        except BaseException as exc:
            self.plays.append(FakePlay(path, margin_s, None, exc))
            raise
        self.plays.append(FakePlay(path, margin_s, result, None))
        return result

    def _play(
        self,
        path: str | os.PathLike[str],
        stop: threading.Event | None,
        margin_s: float,
        on_start: Callable[[], None] | None,
        on_block: Callable[[float], None] | None,
    ) -> PlaybackResult:
        media = open_media(path)
        with media:
            media_s = media.frames / media.samplerate
            if stop is not None and stop.is_set():
                return PlaybackResult(0.0, media_s, DBFS_FLOOR, DBFS_FLOOR, 0.0, 0, stopped=True)
            if on_start is not None:
                on_start()
            nothing = PlaybackResult(0.0, media_s, DBFS_FLOOR, DBFS_FLOOR, 0.0, 0, False)
            if self.fail_with is not None:
                if isinstance(self.fail_with, HalError) and self.fail_with.partial is None:
                    self.fail_with.partial = nothing  # as the real one: failed after start
                raise self.fail_with
            if self.hang:
                self._released.wait(margin_s)
                hung = AudioDeviceError(f"fake device {self.device!r} hung")
                hung.partial = nothing
                raise hung
            limit = media.frames
            if self.stop_at_s is not None:
                limit = min(limit, round(self.stop_at_s * media.samplerate))
            meter = LevelMeter(media.samplerate)
            step = max(1, media.samplerate // 10) if self.pace > 0 else 65536
            stopped = False
            while meter.frames < limit:
                if stop is not None and stop.is_set():
                    stopped = True
                    break
                block = media.read(min(step, limit - meter.frames), dtype="float32", always_2d=True)
                if block.shape[0] == 0:
                    break
                meter.add(block)
                if on_block is not None:
                    on_block(block.shape[0] / media.samplerate)
                if self.pace > 0:
                    self._released.wait(self.pace * block.shape[0] / media.samplerate)
            return meter.result(
                media_s,
                underruns=0,
                stopped=stopped or (meter.frames < media.frames and self.stop_at_s is not None),
            )
