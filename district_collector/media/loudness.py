"""Loudness of a media file: ITU-R BS.1770-4 integrated loudness and true peak.

- :func:`measure` reads a file (anything libsndfile decodes: WAV, FLAC, OGG, MP3) and
  returns a :class:`Loudness`. Integrated loudness (LUFS, gated) is pyloudnorm's
  ``Meter`` (the K-weighting filters and gating of BS.1770-4; nothing hand-written here).
- **True peak** follows BS.1770-4 Annex 2: the signal is oversampled 4x
  (``scipy.signal.resample_poly``, a polyphase FIR low-pass) and the largest absolute
  sample of the oversampled signal (or of the original, whichever is larger) is the
  true-peak estimate, in dBTP (0 dBTP = digital full scale). The Annex's optional
  12.04 dB attenuation is not applied: the samples are floats, there is no headroom to save.
- Errors (:class:`LoudnessError`, naming the file): unreadable or not audio, no samples,
  shorter than one 400 ms gating block (:data:`MIN_DURATION_S`), or silent (every block
  below the absolute gate of -70 LUFS: the integrated loudness is undefined).

Normalisation (a gain to a target, then a peak ceiling) is in
:mod:`district_collector.media.normalise`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyloudnorm
import soundfile as sf
from scipy.signal import resample_poly

from radio_protocol.errors import CommuneRadioError

MIN_DURATION_S = 0.4  # one BS.1770 gating block
OVERSAMPLE = 4  # BS.1770-4 Annex 2: 4x at 48 kHz
SILENCE_LUFS = -70.0  # BS.1770 absolute gate


class LoudnessError(CommuneRadioError):
    """A file whose loudness cannot be measured; the message names the file and why.

    ``kind``: ``unreadable``, ``too-short``, ``silent`` or ``channels``.
    """

    def __init__(self, message: str, kind: str = "unreadable") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Loudness:
    """One file's measurement: LUFS (integrated, BS.1770-4), dBTP, seconds, Hz, channels."""

    integrated_lufs: float
    true_peak_dbtp: float
    duration_s: float
    sample_rate: int
    channels: int

    def as_json(self) -> dict[str, float | int]:
        return {"integrated_lufs": round(self.integrated_lufs, 2), "true_peak_dbtp": round(self.true_peak_dbtp, 2),
                "duration_s": round(self.duration_s, 3), "sample_rate": self.sample_rate,
                "channels": self.channels}


def read_samples(path: Path) -> tuple[np.ndarray, int]:
    """``(samples, rate)``: float64, shape ``(frames, channels)``; LoudnessError if unreadable."""
    try:
        data, rate = sf.read(str(path), dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, OSError) as exc:
        raise LoudnessError(f"{path}: not a readable audio file: {exc}") from exc
    if rate <= 0 or data.shape[0] == 0 or data.shape[1] == 0:
        raise LoudnessError(f"{path}: the audio file has no samples")
    return data, int(rate)


def true_peak_dbtp(data: np.ndarray, rate: int) -> float:
    """True peak (dBTP) of ``data`` (frames x channels) by 4x oversampling (Annex 2)."""
    del rate  # the estimate is rate-independent: 4x whatever the rate is
    peak = float(np.max(np.abs(data))) if data.size else 0.0
    if data.shape[0] > 1:
        over = resample_poly(data, OVERSAMPLE, 1, axis=0)
        peak = max(peak, float(np.max(np.abs(over))))
    return 20.0 * math.log10(peak) if peak > 0 else -math.inf


def integrated_lufs(data: np.ndarray, rate: int) -> float:
    """Integrated loudness (LUFS) by pyloudnorm's BS.1770-4 meter; -inf when all is gated."""
    meter = pyloudnorm.Meter(rate)  # K-weighting, 400 ms blocks, 75 % overlap
    return float(meter.integrated_loudness(data))


def measure_samples(data: np.ndarray, rate: int, name: str) -> Loudness:
    """The :class:`Loudness` of samples already read; ``name`` is used in errors."""
    frames, channels = data.shape
    duration_s = frames / rate
    if duration_s < MIN_DURATION_S:
        raise LoudnessError(f"{name}: too short to measure ({duration_s:.3f} s; BS.1770 needs at least "
                            f"{MIN_DURATION_S} s)", "too-short")
    if channels > 5:
        raise LoudnessError(f"{name}: {channels} channels; BS.1770 measurement here covers up to 5", "channels")
    lufs = integrated_lufs(data, rate)
    if not math.isfinite(lufs) or lufs < SILENCE_LUFS:
        raise LoudnessError(f"{name}: silent (no 400 ms block louder than {SILENCE_LUFS:.0f} LUFS)", "silent")
    return Loudness(lufs, true_peak_dbtp(data, rate), duration_s, rate, channels)


def measure(path: Path) -> Loudness:
    """Measure one file; raises :class:`LoudnessError` (unreadable, too short, silent)."""
    data, rate = read_samples(path)
    return measure_samples(data, rate, str(path))
