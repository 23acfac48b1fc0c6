"""Fakes of the hardware interfaces, for tests of the layers above (airing, daemon).

Both are built on the same base classes as the real backends, so they take the same
arguments and keep the same rules (``play`` = ``prepare`` + ``run``, ``off`` never raises).

``FakeAudioOutput`` imports no sounddevice: it reads the file with soundfile (so
missing/corrupt media fail exactly as for real), meters the decoded samples and returns
a plausible ``PlaybackResult`` without any device; it can be told to fail, hang or pace.
``FakeAmplifier`` records every commanded state and can be told to fail or to report no
power. For pin-level tests use ``GpioAmplifier(..., pin_factory=MockFactory())``
(gpiozero's own shipped mock) instead.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hal.amplifier.base import Amplifier
from hal.audio.base import DEFAULT_MARGIN_S, AudioOutput, PreparedAudio
from hal.errors import AmplifierError, AudioDeviceError, HalError
from hal.media import DBFS_FLOOR, LevelMeter, MediaInfo, PlaybackResult, open_media, probe


@dataclass(frozen=True)
class FakePlay:
    """One recorded ``play`` call."""

    path: Path
    margin_s: float
    result: PlaybackResult | None
    error: BaseException | None


class FakePrepared(PreparedAudio):
    """What ``FakeAudioOutput.prepare`` returns; ``run`` plays through the fake's controls.

    ``ran`` and ``closed`` (from the base) tell a test what the caller did with it.
    """

    def __init__(self, fake: FakeAudioOutput, path: Path, info: MediaInfo,
                 margin_s: float) -> None:
        super().__init__(path, info)
        self.path: Path = path
        self.margin_s = margin_s
        self._fake = fake

    def _play(
        self,
        *,
        stop: threading.Event | None,
        on_start: Callable[[], None] | None,
        on_block: Callable[[float], None] | None,
    ) -> PlaybackResult:
        return self._fake._run(self.path, stop, self.margin_s, on_start, on_block)


class FakeAudioOutput(AudioOutput):
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

    def release(self) -> None:
        """Let a hanging ``play`` return (raising) at once."""
        self._released.set()

    def prepare(
        self, path: str | os.PathLike[str], *, margin_s: float = DEFAULT_MARGIN_S
    ) -> FakePrepared:
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


class FakeAmplifier(Amplifier):
    """An amplifier with no hardware: records every change of its commanded state.

    ``states`` lists the commanded states, a change each (the first is ``False``: like the real
    one, it is off the moment it exists). ``fail_on``: raise this from every ``on()``
    (a pin that cannot be driven); ``fail_off``: raise it inside every ``off()`` (which
    logs it and does not raise, as the base class promises). ``powered``: what the
    feedback input reads - ``None`` for no feedback input, else a callable given the
    commanded state (default: ``True`` when a feedback is wanted and it follows the
    command). ``released`` is True once ``close()`` has released it.
    """

    def __init__(self, *, feedback: bool = False, fail_on: AmplifierError | None = None,
                 fail_off: AmplifierError | None = None,
                 powered: Callable[[bool], bool] | None = None) -> None:
        super().__init__()
        self.label = "fake"
        self.feedback_label = "fake-feedback"
        self.fail_on = fail_on
        self.fail_off = fail_off
        self.feedback = feedback
        self.powered = powered or (lambda commanded: commanded)
        self.states: list[bool] = [False]
        self.released = False

    def _switch(self, on: bool) -> None:
        failure = self.fail_on if on else self.fail_off
        if failure is not None:
            raise failure
        if self.states[-1] != on:
            self.states.append(on)

    def _commanded(self) -> bool:
        return self.states[-1]

    def _powered(self) -> bool | None:
        return self.powered(self.states[-1]) if self.feedback else None

    def _release(self) -> None:
        self.released = True
