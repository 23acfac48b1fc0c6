"""The real audio output: a PortAudio device through sounddevice.

``PortAudioOutput.prepare(path)`` opens the file and the device's stream without playing
anything and returns a :class:`~hal.audio.playback.PreparedPortAudio`; its ``run`` plays
it (``AudioOutput.play`` does both in one call).

Playback decodes the file block by block with soundfile (WAV, FLAC, OGG, MP3; memory
stays flat however long the file is), remixes the channels and resamples (soxr's
streaming resampler) only when the device refuses the file's own format, and writes to
a *blocking* PortAudio stream (no callback: cffi callbacks break under systemd's
``MemoryDenyWriteExecute=yes``). The writes run in a worker thread while the caller
watches a deadline, so a sound card that stops taking samples (USB card unplugged,
driver hang) gives ``AudioDeviceError`` instead of hanging the daemon; so does a card
that takes longer than the margin to open. Levels (RMS, peak, silence) are measured on
the samples actually written.

sounddevice is imported lazily (first device use, ``hal.audio.devices``) so that
importing this module does not start PortAudio.
"""

from __future__ import annotations

import logging
import os
import threading
from types import ModuleType
from typing import Any

from hal.audio.base import DEFAULT_MARGIN_S, AudioOutput
from hal.audio.devices import find_device, rescan, sounddevice_module
from hal.audio.playback import OutputStream, Playback, PreparedPortAudio, StreamFactory
from hal.errors import AudioDeviceError, HalError
from hal.media import MediaInfo, open_media

log = logging.getLogger(__name__)

__all__ = ["DTYPES", "PortAudioOutput"]

DTYPES = ("int16", "float32")


class PortAudioOutput(AudioOutput):
    """A PortAudio output device, opened afresh for each ``prepare`` (or ``play``).

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
        stream_factory: StreamFactory | None = None,
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

    def resolve_device(self) -> dict[str, Any]:
        """PortAudio's info for the configured device (``index``, ``name``, ...).

        Rescans PortAudio once when the device is not found (a re-plugged USB card).
        Raises ``AudioDeviceError`` naming the device and listing the available ones.
        """
        sd = sounddevice_module()
        found = find_device(sd, self.device)
        if isinstance(found, str):
            rescan(sd)
            found = find_device(sd, self.device)
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

    def prepare(
        self, path: str | os.PathLike[str], *, margin_s: float = DEFAULT_MARGIN_S
    ) -> PreparedPortAudio:
        """Open ``path`` and the device's stream without playing anything.

        Raises ``MediaError`` for a missing or undecodable file, ``AudioDeviceError``
        for a missing device, one that refuses every format, fails to open, or takes
        more than ``margin_s`` to open (a hung card). ``margin_s`` is also the write
        deadline of ``PreparedPlayback.run``.
        """
        if isinstance(margin_s, bool) or not margin_s > 0:
            raise ValueError(f"audio margin_s must be positive seconds, not {margin_s!r}")
        media = open_media(path)
        info = MediaInfo(
            media.frames / media.samplerate, media.samplerate, media.channels, media.frames
        )
        try:
            sd = sounddevice_module()
            dev = self.resolve_device()
            rate, count = self._settings(sd, dev, info)
        except BaseException:
            media.close()
            raise
        factory = self.stream_factory or sd.OutputStream
        name = str(dev["name"])

        def open_stream() -> OutputStream:
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

        playback = Playback(media, rate, count, self.dtype, self.blocksize, margin_s)
        opened = threading.Event()
        threading.Thread(
            target=playback.open_worker, args=(open_stream, opened), name="audio-open", daemon=True
        ).start()
        if not opened.wait(margin_s):
            with playback.lock:
                playback.abandoned = True
                stream = playback.stream
            if stream is not None:  # opened just as we gave up
                playback._close(stream, quiet=True)
            media.close()
            raise AudioDeviceError(f"device {name!r} hung: opening it took more than {margin_s:g} s")
        failure = playback.error
        if failure is not None:
            media.close()
            if isinstance(failure, HalError):
                raise failure
            raise AudioDeviceError(
                f"cannot open device {name!r}: {type(failure).__name__}: {failure}"
            ) from failure
        log.info("audio ready path=%s device=%r stream=%dHz/%dch", path, name, rate, count)
        return PreparedPortAudio(path, info, name, playback)
