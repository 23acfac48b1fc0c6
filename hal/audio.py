"""Play a media file on a sound card: streamed, converted when needed, metered, guarded.

``AudioOutput.play`` decodes the file block by block with soundfile (WAV, FLAC, OGG,
MP3; memory stays flat however long the file is), remixes the channels and resamples
(soxr's streaming resampler) only when the device refuses the file's own format, and
writes to a *blocking* PortAudio stream (no callback: cffi callbacks break under
systemd's ``MemoryDenyWriteExecute=yes``). The writes run in a worker thread while
the caller watches a deadline, so a sound card that stops taking samples (USB card
unplugged, driver hang) gives ``AudioDeviceError`` instead of hanging the daemon.
Levels (RMS, peak, silence) are measured on the samples actually written.

sounddevice is imported lazily (first device use) so that importing this module for
``probe``, the data classes or ``LevelMeter`` does not initialise PortAudio.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import numpy as np
import soundfile as sf
import soxr

from hal.errors import AudioDeviceError, HalError, MediaError
from hal.media import (
    DBFS_FLOOR,
    SILENCE_DBFS,
    SILENCE_WINDOW_S,
    LevelMeter,
    MediaInfo,
    PlaybackResult,
    open_media,
    probe,
    remix,
)

log = logging.getLogger(__name__)

__all__ = [
    "DBFS_FLOOR",
    "SILENCE_DBFS",
    "SILENCE_WINDOW_S",
    "AudioOutput",
    "LevelMeter",
    "MediaInfo",
    "PlaybackResult",
    "open_media",
    "probe",
    "remix",
]

ABORT_WAIT_S = 1.0
"""How long a timed-out play waits for ``stream.abort()`` before giving up on it too."""
DTYPES = ("int16", "float32")


_pa_lock = threading.Lock()
_open_streams = 0


def _sounddevice() -> ModuleType:
    try:
        import sounddevice
    except OSError as exc:  # libportaudio missing
        raise AudioDeviceError(f"PortAudio is not available: {exc}") from exc
    return sounddevice


def _stream_opened(delta: int) -> None:
    global _open_streams
    with _pa_lock:
        _open_streams += delta


def _rescan(sd: ModuleType) -> None:
    """Re-initialise PortAudio so a re-plugged USB card shows up (only with no stream open)."""
    with _pa_lock:
        if _open_streams:
            return
        try:
            sd._terminate()
            sd._initialize()
        except Exception:
            log.exception("PortAudio re-initialisation failed")


def _describe(devices: list[dict[str, Any]]) -> str:
    outputs = [f"{d['index']}: {d['name']!r}" for d in devices if d["max_output_channels"] > 0]
    return ", ".join(outputs) if outputs else "none (PortAudio sees no output device)"


def _find_device(sd: ModuleType, device: str | int | None) -> dict[str, Any] | str:
    """The device's PortAudio info, or the reason it was not found."""
    try:
        devices = [dict(d) for d in sd.query_devices()]
    except Exception as exc:
        return f"PortAudio cannot list devices: {exc}"
    listing = _describe(devices)
    if device is None:
        try:
            return dict(sd.query_devices(kind="output"))
        except Exception:
            return f"no default output device; available: {listing}"
    if isinstance(device, int):
        if 0 <= device < len(devices) and devices[device]["max_output_channels"] > 0:
            return devices[device]
        return f"no output device with index {device}; available: {listing}"
    outputs = [d for d in devices if d["max_output_channels"] > 0]
    exact = [d for d in outputs if d["name"] == device]
    if exact:
        return exact[0]
    partial = [d for d in outputs if device.lower() in d["name"].lower()]
    if len(partial) == 1:
        return partial[0]
    if partial:
        return f"audio device name {device!r} is ambiguous: matches {_describe(partial)}"
    return f"no output device named {device!r}; available: {listing}"


class _Playback:
    """One play in progress: the worker's state, shared with the watching caller."""

    def __init__(
        self,
        media: sf.SoundFile,
        open_stream: Callable[[], Any],
        samplerate: int,
        channels: int,
        dtype: str,
        blocksize: int,
        margin_s: float,
        stop: threading.Event | None,
        on_start: Callable[[], None] | None,
    ) -> None:
        self.media = media
        self.open_stream = open_stream
        self.samplerate = samplerate
        self.channels = channels
        self.dtype = dtype
        self.blocksize = blocksize
        self.margin_s = margin_s
        self.stop = stop
        self.on_start = on_start
        self.meter = LevelMeter(samplerate)
        self.underruns = 0
        self.stopped = False
        self.error: BaseException | None = None
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.stream: Any = None
        self.abandoned = False
        self.released = False
        self.start_mono = time.monotonic()  # real time on purpose: this guards hardware
        self.deadline_mono = self.start_mono + margin_s
        self.submitted_frames = 0

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
        while True:
            try:
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
        stream = self.open_stream()
        _stream_opened(+1)
        with self.lock:
            self.stream = stream
            late = self.abandoned
        if late:  # the caller gave up while the device was opening
            self._close(stream, quiet=False)
            return
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
            if self.stopped:
                stream.abort()
            else:
                stream.stop()
            clean = True
        finally:
            if not self.abandoned:
                self._close(stream, quiet=clean)

    def _close(self, stream: Any, *, quiet: bool) -> None:
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
            _stream_opened(-1)

    def _call_on_start(self) -> None:
        if self.on_start is None:
            return
        try:
            self.on_start()
        except Exception:
            log.exception("audio on_start callback failed")

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
        return PlaybackResult(
            played_s=self.meter.frames / self.samplerate,
            media_s=media_s,
            rms_dbfs=self.meter.rms_dbfs,
            peak_dbfs=self.meter.peak_dbfs,
            silent_s=self.meter.silent_s,
            underruns=self.underruns,
            stopped=self.stopped,
        )


class AudioOutput:
    """A PortAudio output device, opened afresh for each ``play``.

    ``device``: a PortAudio device index, a (sub)string of its name (exact name wins;
    an ambiguous substring is an error), or ``None`` for PortAudio's default output.
    ``latency``: ``"high"`` (clean on a Pi, about 30 ms), ``"low"`` or seconds.
    ``dtype``: ``"int16"`` or ``"float32"``, the stream's sample format.
    ``samplerate``/``channels``: force the stream's format (otherwise the file's own,
    falling back to the device's default rate and 2 or 1 channels when refused).
    ``blocksize``: frames decoded per block. ``stream_factory``: builds the stream from
    ``sounddevice.OutputStream``'s keyword arguments (a seam for tests).
    """

    def __init__(
        self,
        device: str | int | None = "default",
        latency: str | float = "high",
        *,
        dtype: str = "int16",
        samplerate: int | None = None,
        channels: int | None = None,
        blocksize: int = 4096,
        stream_factory: Callable[..., Any] | None = None,
    ) -> None:
        if isinstance(latency, str):
            if latency not in ("high", "low"):
                raise ValueError(f"audio latency must be 'high', 'low' or seconds, not {latency!r}")
        elif isinstance(latency, bool) or not latency > 0:
            raise ValueError(f"audio latency must be positive seconds, not {latency!r}")
        if dtype not in DTYPES:
            raise ValueError(f"audio dtype must be one of {DTYPES}, not {dtype!r}")
        if samplerate is not None and samplerate <= 0:
            raise ValueError(f"audio samplerate must be positive, not {samplerate!r}")
        if channels is not None and channels <= 0:
            raise ValueError(f"audio channels must be positive, not {channels!r}")
        if blocksize <= 0:
            raise ValueError(f"audio blocksize must be positive, not {blocksize!r}")
        self.device = device
        self.latency = latency
        self.dtype = dtype
        self.samplerate = samplerate
        self.channels = channels
        self.blocksize = blocksize
        self.stream_factory = stream_factory

    def probe(self, path: str | os.PathLike[str]) -> MediaInfo:
        """The file's ``MediaInfo``. Raises ``MediaError``."""
        return probe(path)

    def resolve_device(self) -> dict[str, Any]:
        """PortAudio's info for the configured device (``index``, ``name``, ...).

        Rescans PortAudio once when the device is not found (a re-plugged USB card).
        Raises ``AudioDeviceError`` naming the device and listing the available ones.
        """
        sd = _sounddevice()
        found = _find_device(sd, self.device)
        if isinstance(found, str):
            _rescan(sd)
            found = _find_device(sd, self.device)
        if isinstance(found, str):
            raise AudioDeviceError(found)
        return found

    def _settings(self, sd: ModuleType, dev: dict[str, Any], info: MediaInfo) -> tuple[int, int]:
        """The (samplerate, channels) to open: the file's own if the device takes them."""
        max_channels = int(dev["max_output_channels"])
        rates = [self.samplerate] if self.samplerate else [info.samplerate]
        if not self.samplerate:
            rates += [int(dev["default_samplerate"]), 48000, 44100]
        counts = [self.channels] if self.channels else [info.channels, 2, 1, max_channels]
        counts = [c for c in counts if 1 <= c <= max_channels] or [max_channels]
        refusals: list[str] = []
        for rate in dict.fromkeys(rates):
            for count in dict.fromkeys(counts):
                try:
                    sd.check_output_settings(
                        device=dev["index"], samplerate=rate, channels=count, dtype=self.dtype
                    )
                except Exception as exc:
                    refusals.append(f"{rate} Hz x{count}: {exc}")
                    continue
                return rate, count
        raise AudioDeviceError(
            f"device {dev['name']!r} refuses every format tried: {'; '.join(refusals)}"
        )

    def play(
        self,
        path: str | os.PathLike[str],
        *,
        stop: threading.Event | None = None,
        margin_s: float = 5.0,
        on_start: Callable[[], None] | None = None,
    ) -> PlaybackResult:
        """Play ``path`` to the end, or until ``stop`` is set (checked between blocks).

        ``on_start`` is called (in the playback thread) just before the first block is
        written. A write still blocked ``margin_s`` after the audio written so far
        should have played aborts the stream and raises ``AudioDeviceError``; so does a
        missing or refusing device. Raises ``MediaError`` for a missing or undecodable
        file. A ``HalError`` raised after playback began has ``partial`` set to the
        ``PlaybackResult`` up to the failure.
        """
        if isinstance(margin_s, bool) or not margin_s > 0:
            raise ValueError(f"audio margin_s must be positive seconds, not {margin_s!r}")
        media = open_media(path)
        info = MediaInfo(
            media.frames / media.samplerate, media.samplerate, media.channels, media.frames
        )
        try:
            sd = _sounddevice()
            dev = self.resolve_device()
            rate, count = self._settings(sd, dev, info)
        except BaseException:
            media.close()
            raise
        factory = self.stream_factory or sd.OutputStream
        name = dev["name"]

        def open_stream() -> Any:
            try:
                return factory(
                    device=dev["index"],
                    samplerate=rate,
                    channels=count,
                    dtype=self.dtype,
                    latency=self.latency,
                )
            except Exception as exc:
                raise AudioDeviceError(f"cannot open device {name!r}: {exc}") from exc

        playback = _Playback(
            media, open_stream, rate, count, self.dtype, self.blocksize, margin_s, stop, on_start
        )
        log.info(
            "audio play started path=%s device=%r file=%dHz/%dch stream=%dHz/%dch/%s",
            path,
            name,
            info.samplerate,
            info.channels,
            rate,
            count,
            self.dtype,
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
                f"device {name!r} hung: a write did not return within {margin_s:g} s "
                f"past its audio ({playback.submitted_frames / rate:.3f} s submitted)"
            )
            hung.partial = playback.result(info.duration_s)
            log.error("audio play aborted path=%s %s", path, hung)
            raise hung
        result = playback.result(info.duration_s)
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
