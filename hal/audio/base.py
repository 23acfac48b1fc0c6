"""The audio output's interface: what the airing uses, whatever plays the samples.

Two base classes, in the manner of gpiozero's ``Factory``/``Pin``: :class:`AudioOutput`
(a sound device, or a stand-in for one) and :class:`PreparedAudio` (one playback made
ready: media open, device open, nothing played yet). Every backend derives from them,
the real one (:class:`hal.audio.portaudio.PortAudioOutput`), the test fake
(:class:`hal.fake.FakeAudioOutput`) and :class:`UnavailableAudio` alike, so they take
the same arguments and cannot drift. What is the same for every backend is written once
here: ``play`` is ``prepare`` + ``run``; a prepared playback runs once; ``close`` is
idempotent. Every capability is part of the interface (``prepare``, ``on_block``,
``HalError.partial``), so callers never have to look for it.

Playing is split in two so that the airing can open the media file and the device
*before* it switches the amplifier on: a dead card or bad media never powers the
loudspeakers.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from types import TracebackType

from hal.errors import HalError
from hal.media import MediaInfo, PlaybackResult, probe

__all__ = ["DEFAULT_MARGIN_S", "AudioOutput", "PreparedAudio", "UnavailableAudio"]

DEFAULT_MARGIN_S = 5.0
"""Seconds a device may take to open, and a write may lag its audio, before it is hung."""


class PreparedAudio(ABC):
    """A playback made ready by :meth:`AudioOutput.prepare`: the media file decodes, the
    device exists and its stream is open, and no sample has gone out yet.

    ``path`` is the media file, ``info`` its :class:`~hal.media.MediaInfo`. ``ran`` and
    ``closed`` say what the caller did with it. A context manager (``close`` on exit).

    A backend MUST override:

    * :meth:`_play` - play to the end or until ``stop``; the arguments are those of
      :meth:`run`, already checked.

    A backend MAY override:

    * :meth:`_release` - free what a playback that never ran holds (stream, file).
      The default holds nothing.

    Not to be overridden: :meth:`run` (once only), :meth:`close` (idempotent, and a
    no-op after ``run``: the playback released its resources itself).
    """

    def __init__(self, path: str | os.PathLike[str], info: MediaInfo) -> None:
        self.path = path
        self.info = info
        self.ran = False
        self.closed = False

    def run(
        self,
        *,
        stop: threading.Event | None = None,
        on_start: Callable[[], None] | None = None,
        on_block: Callable[[float], None] | None = None,
    ) -> PlaybackResult:
        """Play to the end, or until ``stop`` is set (checked between blocks).

        ``on_start()`` is called just before the first block is written; ``on_block(seconds)``
        after each block written, with the seconds of audio in it (a watchdog's progress;
        a write that hangs stops these calls). Either may be called from another thread.
        Raises ``HalError`` (``AudioDeviceError``, ``MediaError``); one raised after
        playback began has ``partial`` set to the ``PlaybackResult`` up to the failure.
        Raises ``RuntimeError`` when run twice or after ``close``.
        """
        if self.ran or self.closed:
            raise RuntimeError("a prepared playback runs once (and not after close)")
        self.ran = True
        return self._play(stop=stop, on_start=on_start, on_block=on_block)

    def close(self) -> None:
        """Release a playback that never ran. Idempotent; a no-op after :meth:`run`."""
        if self.closed:
            return
        self.closed = True
        if not self.ran:
            self._release()

    @abstractmethod
    def _play(
        self,
        *,
        stop: threading.Event | None,
        on_start: Callable[[], None] | None,
        on_block: Callable[[float], None] | None,
    ) -> PlaybackResult:
        """The backend's playback (see :meth:`run` for the contract)."""

    def _release(self) -> None:
        """Free the resources of a playback that never ran (default: none held)."""
        return None

    def __enter__(self) -> PreparedAudio:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AudioOutput(ABC):
    """An audio output: a sound device, or a stand-in for one.

    A backend MUST override:

    * :meth:`prepare` - open ``path`` and the device without playing anything, and
      return a :class:`PreparedAudio` of the backend's own kind.

    A backend MAY override:

    * :meth:`probe` - the file's :class:`~hal.media.MediaInfo`; the default reads the
      header with soundfile (no device involved).

    Not to be overridden: :meth:`play`, which is ``prepare`` then ``run`` for every backend.
    """

    def probe(self, path: str | os.PathLike[str]) -> MediaInfo:
        """The file's ``MediaInfo``. Raises ``MediaError``."""
        return probe(path)

    @abstractmethod
    def prepare(
        self, path: str | os.PathLike[str], *, margin_s: float = DEFAULT_MARGIN_S
    ) -> PreparedAudio:
        """Open ``path`` and the device's stream without playing anything.

        Raises ``MediaError`` for a missing or undecodable file, ``AudioDeviceError`` for
        a device that is missing, refuses the file, or takes more than ``margin_s`` to
        open. ``margin_s`` is also the write deadline of the returned playback's ``run``.
        """

    def play(
        self,
        path: str | os.PathLike[str],
        *,
        stop: threading.Event | None = None,
        margin_s: float = DEFAULT_MARGIN_S,
        on_start: Callable[[], None] | None = None,
        on_block: Callable[[float], None] | None = None,
    ) -> PlaybackResult:
        """``prepare(path)`` then ``run``: play ``path`` to the end, or until ``stop``.

        Raises what :meth:`prepare` and :meth:`PreparedAudio.run` raise.
        """
        with self.prepare(path, margin_s=margin_s) as prepared:
            return prepared.run(stop=stop, on_start=on_start, on_block=on_block)


class UnavailableAudio(AudioOutput):
    """Stands in for an audio output that could not be set up: ``probe``, ``prepare`` and
    ``play`` raise its error, so each airing is recorded as failed (with the error's
    reason) before the amplifier goes on, instead of the station not starting."""

    def __init__(self, error: HalError) -> None:
        self.error = error

    def probe(self, path: str | os.PathLike[str]) -> MediaInfo:
        raise self.error

    def prepare(
        self, path: str | os.PathLike[str], *, margin_s: float = DEFAULT_MARGIN_S
    ) -> PreparedAudio:
        raise self.error
