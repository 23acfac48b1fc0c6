"""One playback on an open PortAudio stream: decode, convert, write, meter, and guard.

``PreparedPortAudio`` is what ``PortAudioOutput.prepare`` returns: media open, stream open
and not started. ``run`` writes the blocks from a worker thread while the caller
watches a deadline (segment so far + ``margin_s``), so a card that stops taking
samples gives ``AudioDeviceError`` instead of hanging the daemon; ``on_block`` reports
each block written (the station's watchdog progress).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Protocol

import numpy as np
import soundfile as sf
import soxr

from hal.audio.base import PreparedAudio
from hal.audio.devices import stream_opened
from hal.errors import AudioDeviceError, HalError, MediaError
from hal.media import LevelMeter, MediaInfo, PlaybackResult, remix

log = logging.getLogger(__name__)

ABORT_WAIT_S = 1.0
"""How long a timed-out play waits for ``stream.abort()`` before giving up on it too."""
FLOAT_DECODED = frozenset({"MPEG_LAYER_I", "MPEG_LAYER_II", "MPEG_LAYER_III"})
"""Subtypes libsndfile decodes to float: an int16 stream reads them as float32 and
converts here (``int16_from_float``), cheaper than libsndfile's own conversion."""


class OutputStream(Protocol):
    """What a playback needs of ``sounddevice.OutputStream`` (blocking writes)."""

    def start(self) -> None: ...

    def write(self, data: np.ndarray) -> bool: ...

    def stop(self) -> None: ...

    def abort(self) -> None: ...

    def close(self) -> None: ...


StreamFactory = Callable[..., OutputStream]
"""Builds a stream from ``sounddevice.OutputStream``'s keyword arguments."""


def int16_from_float(block: np.ndarray) -> np.ndarray:
    """float32 samples (full scale 1.0) to int16 the way libsndfile reads them as int16:
    x 32768, clipped to the int16 range, rounded half to even. Overwrites ``block``."""
    np.multiply(block, 32768.0, out=block)
    np.clip(block, -32768.0, 32767.0, out=block)
    np.rint(block, out=block)
    return block.astype(np.int16)


class Playback:
    """One play: its stream (opened by ``open_worker``), then the worker's state while it
    plays (``run``), shared with the watching caller."""

    def __init__(
        self,
        media: sf.SoundFile,
        samplerate: int,
        channels: int,
        dtype: str,
        blocksize: int,
        margin_s: float,
    ) -> None:
        self.media = media
        self.samplerate = samplerate
        self.channels = channels
        self.dtype = dtype
        self.blocksize = blocksize
        self.margin_s = margin_s
        self.stop: threading.Event | None = None
        self.on_start: Callable[[], None] | None = None
        self.on_block: Callable[[float], None] | None = None
        self.meter = LevelMeter(samplerate)
        self.underruns = 0
        self.stopped = False
        self.error: BaseException | None = None
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.stream: OutputStream | None = None
        self.abandoned = False
        self.released = False
        self.start_mono = time.monotonic()  # real time on purpose: this guards hardware
        self.deadline_mono = self.start_mono + margin_s
        self.submitted_frames = 0

    def open_worker(self, open_stream: Callable[[], OutputStream], opened: threading.Event) -> None:
        """Open the stream (not started); a caller that gave up meanwhile gets it closed."""
        try:
            stream = open_stream()
            stream_opened(+1)
            with self.lock:
                self.stream = stream
                late = self.abandoned
            if late:  # the caller gave up while the device was opening
                self._close(stream, quiet=True)
        except BaseException as exc:  # handed to the caller, which raises it
            self.error = exc
        finally:
            opened.set()

    def blocks(self) -> Iterator[np.ndarray]:
        """Decoded blocks in the stream's rate, channels and dtype."""
        media = self.media
        resampler = None
        mix_channels = min(media.channels, self.channels)
        if media.samplerate != self.samplerate:
            resampler = soxr.ResampleStream(
                media.samplerate, self.samplerate, mix_channels, dtype=self.dtype
            )
        decoded = 0
        from_float = self.dtype == "int16" and media.subtype in FLOAT_DECODED
        while True:
            try:
                if from_float:
                    data = media.read(self.blocksize, dtype="float32", always_2d=True)
                    data = int16_from_float(data)
                else:
                    data = media.read(self.blocksize, dtype=self.dtype, always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise MediaError(
                    "media-corrupt", f"decoding {media.name} failed after frame {decoded}: {exc}"
                ) from exc
            decoded += data.shape[0]
            last = data.shape[0] < self.blocksize
            if last and abs(decoded - media.frames) > max(media.frames // 100, 1):
                log.warning(
                    "media shorter or longer than its header path=%s decoded=%d header=%d",
                    media.name,
                    decoded,
                    media.frames,
                )
            data = remix(data, mix_channels)
            if resampler is not None:
                data = resampler.resample_chunk(data, last=last)
            data = remix(data, self.channels)
            if data.shape[0]:
                yield np.ascontiguousarray(data)
            if last:
                return

    def run(self) -> None:
        try:
            self._play()
        except BaseException as exc:  # handed to the caller, which raises it
            self.error = exc
        finally:
            self.media.close()
            self.done.set()

    def _play(self) -> None:
        stream = self.stream
        assert stream is not None, "run() needs the stream open_worker opened"
        clean = False
        try:
            stream.start()
            first = True
            for block in self.blocks():
                if self.stop is not None and self.stop.is_set():
                    self.stopped = True
                    break
                if first:
                    first = False
                    self._call_on_start()
                self.submitted_frames += block.shape[0]
                self.deadline_mono = (
                    self.start_mono + self.submitted_frames / self.samplerate + self.margin_s
                )
                if stream.write(block):
                    self.underruns += 1
                if self.abandoned:
                    return
                self.meter.add(block)
                self._call_on_block(block.shape[0] / self.samplerate)
            if self.stopped:
                stream.abort()
            else:
                stream.stop()
            clean = True
        finally:
            if not self.abandoned:
                self._close(stream, quiet=clean)

    def _close(self, stream: OutputStream, *, quiet: bool) -> None:
        """Abort (unless ``quiet``) and close the stream, once whoever calls first."""
        with self.lock:
            if self.released:
                return
            self.released = True
        try:
            if not quiet:
                stream.abort()
            stream.close()
        except Exception:
            log.exception("audio stream close failed")
        finally:
            stream_opened(-1)

    def _call_on_start(self) -> None:
        if self.on_start is None:
            return
        try:
            self.on_start()
        except Exception:
            log.exception("audio on_start callback failed")

    def _call_on_block(self, seconds: float) -> None:
        if self.on_block is None:
            return
        try:
            self.on_block(seconds)
        except Exception:
            log.exception("audio on_block callback failed")

    def abandon(self, worker: threading.Thread) -> None:
        """Give up on a hung stream: abort it (without waiting long) and release it later."""
        with self.lock:
            self.abandoned = True
            stream = self.stream

        aborted = threading.Event()

        def reap() -> None:
            if stream is not None and not self.released:
                try:
                    stream.abort()
                except Exception:
                    log.exception("audio stream abort failed")
            aborted.set()
            worker.join()
            if stream is not None:
                self._close(stream, quiet=True)
                log.warning("hung audio stream released")

        threading.Thread(target=reap, name="audio-reaper", daemon=True).start()
        if not aborted.wait(ABORT_WAIT_S):
            log.error("audio stream abort hung too; leaving it to a background thread")

    def result(self, media_s: float) -> PlaybackResult:
        return self.meter.result(media_s, underruns=self.underruns, stopped=self.stopped)


class PreparedPortAudio(PreparedAudio):
    """A play made ready by ``PortAudioOutput.prepare``: media open, stream open and not
    started (see :class:`~hal.audio.base.PreparedAudio` for ``run`` and ``close``).

    ``device``: the device's PortAudio name; ``samplerate``/``channels``: the stream's
    format. A write still blocked ``margin_s`` after the audio written so far should have
    played aborts the stream and raises ``AudioDeviceError``.
    """

    def __init__(
        self, path: str | os.PathLike[str], info: MediaInfo, device: str, playback: Playback
    ) -> None:
        super().__init__(path, info)
        self.device = device
        self.samplerate = playback.samplerate
        self.channels = playback.channels
        self._playback = playback

    def _play(
        self,
        *,
        stop: threading.Event | None,
        on_start: Callable[[], None] | None,
        on_block: Callable[[float], None] | None,
    ) -> PlaybackResult:
        playback, name, path, rate = self._playback, self.device, self.path, self.samplerate
        playback.stop = stop
        playback.on_start = on_start
        playback.on_block = on_block
        playback.start_mono = time.monotonic()
        playback.deadline_mono = playback.start_mono + playback.margin_s
        log.info(
            "audio play started path=%s device=%r file=%dHz/%dch stream=%dHz/%dch/%s",
            path,
            name,
            self.info.samplerate,
            self.info.channels,
            rate,
            self.channels,
            playback.dtype,
        )
        # The worker owns the media file and the stream from here on (it closes both).
        worker = threading.Thread(target=playback.run, name="audio-play", daemon=True)
        worker.start()
        while not playback.done.is_set():
            remaining = playback.deadline_mono - time.monotonic()
            if remaining <= 0:
                break
            playback.done.wait(remaining)
        if not playback.done.is_set():
            playback.abandon(worker)
            hung = AudioDeviceError(
                f"device {name!r} hung: a write did not return within {playback.margin_s:g} s "
                f"past its audio ({playback.submitted_frames / rate:.3f} s submitted)"
            )
            hung.partial = playback.result(self.info.duration_s)
            log.error("audio play aborted path=%s %s", path, hung)
            raise hung
        result = playback.result(self.info.duration_s)
        failure = playback.error
        if isinstance(failure, HalError):
            failure.partial = result if playback.submitted_frames else None
            log.error("audio play failed path=%s %s", path, failure)
            raise failure
        if failure is not None:
            error = AudioDeviceError(f"device {name!r} failed: {type(failure).__name__}: {failure}")
            error.partial = result if playback.submitted_frames else None
            log.error("audio play failed path=%s %s", path, error)
            raise error from failure
        log.info(
            "audio play finished path=%s played_s=%.3f underruns=%d stopped=%s rms_dbfs=%.1f",
            path,
            result.played_s,
            result.underruns,
            result.stopped,
            result.rms_dbfs,
        )
        return result

    def _release(self) -> None:
        """Release the stream and the media file of a playback that never ran."""
        playback = self._playback
        if playback.stream is not None:
            playback._close(playback.stream, quiet=True)
        playback.media.close()
