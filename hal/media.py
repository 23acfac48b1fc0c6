"""Media files for the station: decoding in blocks, channel remixing, level metering.

Pure numpy/soundfile code, no sound card: importing it never starts PortAudio.
``hal.audio`` re-exports these names.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from hal.errors import MediaError
from radio_protocol.jose import file_sha256 as file_sha256  # re-exported for hal.audio

DBFS_FLOOR = -120.0
"""Level reported for digital silence or no samples at all (dBFS cannot be -inf in JSON)."""
SILENCE_DBFS = -60.0
"""A window whose RMS is below this counts as silent."""
SILENCE_WINDOW_S = 0.05
_INT16_POWER = 1.0 / 32768.0**2
"""Scale from the square of an int16 sample to power relative to full scale."""


@dataclass(frozen=True)
class MediaInfo:
    """What a media file holds. ``duration_s`` = ``frames / samplerate``."""

    duration_s: float
    samplerate: int
    channels: int
    frames: int


@dataclass(frozen=True)
class PlaybackResult:
    """Outcome of one ``play``.

    ``played_s``: seconds of audio written to the device; ``media_s``: the file's length;
    ``rms_dbfs``/``peak_dbfs``: level of the written samples relative to full scale
    (a full-scale sine has peak 0.0 and RMS -3.01; ``DBFS_FLOOR`` for none);
    ``silent_s``: seconds written whose RMS over 50 ms windows was below -60 dBFS;
    ``underruns``: writes PortAudio reported as underflowed; ``stopped``: the ``stop``
    event ended playback early.
    """

    played_s: float
    media_s: float
    rms_dbfs: float
    peak_dbfs: float
    silent_s: float
    underruns: int
    stopped: bool


def _dbfs(ratio: float, *, power: bool = False) -> float:
    if ratio <= 0.0:
        return DBFS_FLOOR
    return max(DBFS_FLOOR, (10.0 if power else 20.0) * math.log10(ratio))


class LevelMeter:
    """Accumulates RMS, peak and silent time over blocks of samples, in one pass.

    Blocks are 2-D ``(frames, channels)`` arrays, int16 (scaled by 1/32768) or float.
    Silence is judged on consecutive windows of ``window_s`` that span block borders.
    """

    def __init__(
        self,
        samplerate: int,
        silence_dbfs: float = SILENCE_DBFS,
        window_s: float = SILENCE_WINDOW_S,
    ) -> None:
        self.samplerate = samplerate
        self._window = max(1, round(samplerate * window_s))
        self._silent_power = 10.0 ** (silence_dbfs / 10.0)
        self._sum_squares = 0.0
        self._samples = 0
        self._frames = 0
        self._peak = 0.0
        self._silent_frames = 0
        self._win_sum = 0.0
        self._win_n = 0

    def add(self, block: np.ndarray) -> None:
        """Account for ``block`` (the samples just written).

        Cheap enough for every block of a playback: the peak comes from the block's own
        max/min (int16 needs no conversion for it), the squares in float32 (int16 is
        converted once, unscaled: its squares are scaled by 2**-30 at the end), the
        per-frame energy once (a sum over channels), and all sums over frames - the
        total and each silence window - in float64 from one ``np.add.reduceat``.
        """
        frames = block.shape[0]
        if block.size == 0:
            return
        if block.dtype == np.int16:
            self._peak = max(self._peak, max(int(block.max()), -int(block.min())) / 32768.0)
            squares = block.astype(np.float32)
            np.multiply(squares, squares, out=squares)
            scale = _INT16_POWER
        else:
            x = block if block.dtype in (np.float32, np.float64) else block.astype(np.float64)
            self._peak = max(self._peak, float(x.max()), -float(x.min()))
            squares = x * x
            scale = 1.0
        if squares.ndim == 1:
            squares = squares[:, np.newaxis]
        channels = squares.shape[1]
        energy = squares[:, 0]
        for channel in range(1, channels):
            energy = energy + squares[:, channel]
        # Window borders in this block: the rest of the pending window, then every
        # ``window`` frames. Each sum below is (frames in it) x (mean power per frame).
        window = self._window
        first = window - self._win_n
        starts = np.arange(first - window, frames, window)
        starts[0] = 0
        sums = np.add.reduceat(energy, starts, dtype=np.float64)
        self._sum_squares += float(sums.sum()) * scale
        sums *= scale / channels
        self._samples += block.size
        self._frames += frames
        sums[0] += self._win_sum
        last_n = frames - int(starts[-1]) + (self._win_n if starts.size == 1 else 0)
        closed = sums if last_n == window else sums[:-1]
        if closed.size:
            silent = int(np.count_nonzero(closed < self._silent_power * window))
            self._silent_frames += silent * window
        if last_n == window:
            self._win_sum, self._win_n = 0.0, 0
        else:
            self._win_sum, self._win_n = float(sums[-1]), last_n

    @property
    def frames(self) -> int:
        return self._frames

    @property
    def rms_dbfs(self) -> float:
        return _dbfs(self._sum_squares / self._samples if self._samples else 0.0, power=True)

    @property
    def peak_dbfs(self) -> float:
        return _dbfs(self._peak)

    @property
    def silent_s(self) -> float:
        """Silent seconds, counting the unfinished last window too."""
        pending = (
            self._win_n if self._win_n and self._win_sum / self._win_n < self._silent_power else 0
        )
        return (self._silent_frames + pending) / self.samplerate

    def result(self, media_s: float, *, underruns: int, stopped: bool) -> PlaybackResult:
        """The ``PlaybackResult`` of the samples metered so far (``played_s`` from the
        frames added, at the meter's rate), for a file ``media_s`` long."""
        return PlaybackResult(
            played_s=self.frames / self.samplerate,
            media_s=media_s,
            rms_dbfs=self.rms_dbfs,
            peak_dbfs=self.peak_dbfs,
            silent_s=self.silent_s,
            underruns=underruns,
            stopped=stopped,
        )


class _SequentialSoundFile(sf.SoundFile):
    """A SoundFile read strictly front to back, never seeking.

    python-soundfile seeks to "current position" around every read; libsndfile's MP3
    (and Vorbis) seeks are not sample exact, so block reads of an MP3 came out
    corrupted from frame 8192 on (libsndfile 1.2.2). Reporting "not seekable" makes
    soundfile skip those seeks; reads at the end simply come back short.
    """

    def seekable(self) -> bool:
        return False


def open_media(path: str | os.PathLike[str]) -> sf.SoundFile:
    """Open ``path`` for sequential decoding (``read`` in blocks, no seeking).

    Raises ``MediaError``: ``media-missing`` (no such file, a directory, unreadable),
    ``media-corrupt`` (not a format libsndfile decodes, or no audio frames).
    """
    p = Path(path)
    if not p.is_file():
        raise MediaError("media-missing", f"no media file at {p}")
    try:
        f = _SequentialSoundFile(str(p))
    except PermissionError as exc:
        raise MediaError("media-missing", f"media file {p} is not readable: {exc}") from exc
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, OSError) as exc:
        raise MediaError("media-corrupt", f"cannot decode {p}: {exc}") from exc
    if f.samplerate <= 0 or f.channels <= 0 or f.frames <= 0:
        f.close()
        raise MediaError("media-corrupt", f"{p} holds no audio frames")
    return f


def probe(path: str | os.PathLike[str]) -> MediaInfo:
    """Read a media file's header. Raises ``MediaError``."""
    with open_media(path) as f:
        return MediaInfo(f.frames / f.samplerate, f.samplerate, f.channels, f.frames)


def remix(block: np.ndarray, channels: int) -> np.ndarray:
    """Convert a ``(frames, n)`` block to ``channels`` channels.

    Mono is copied to every channel; anything to mono is the average; otherwise the
    source channels are repeated in order (stereo to 4: L R L R) or the first ones kept.
    """
    have = block.shape[1]
    if have == channels:
        return block
    if have == 1:
        return np.repeat(block, channels, axis=1)
    if channels == 1:
        if block.dtype == np.int16:
            mean = np.rint(block.astype(np.int32).mean(axis=1, keepdims=True))
            return mean.astype(np.int16)
        return block.mean(axis=1, keepdims=True, dtype=np.float64).astype(block.dtype)
    return np.ascontiguousarray(block[:, np.arange(channels) % have])

