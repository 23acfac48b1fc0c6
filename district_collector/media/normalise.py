"""A normalised copy of a media file: one loudness for every segment, peaks under -1 dBTP.

:func:`normalise` writes ``<sha256>.flac`` (24-bit FLAC, the source's rate and channels;
the name is the SHA-256 of the file written, so the same source and target give the same
file) into a directory, durably (temp file, fsync, rename, fsync of the directory).

How (measured with :mod:`district_collector.media.loudness`, BS.1770-4):

1. A gain brings the integrated loudness to ``target_lufs``.
2. Where that gain would push the true peak above the ceiling (:data:`CEILING_DBTP`,
   -1 dBTP), a **look-ahead peak limiter** lowers the gain around those peaks only: per
   sample the gain it needs (ceiling / the larger of the sample and the 4x-oversampled
   peaks right after it), then the moving minimum of that over a 10 ms window, then the
   moving average over the same window. The average of minima of windows that all contain
   a sample is never above what that sample needs, so every peak ends under the ceiling,
   and the gain moves in 10 ms ramps (no clicks). The limiter works :data:`LIMIT_MARGIN_DB`
   below the ceiling, for the 24-bit rounding and the oversampling's own ripple.
3. Limiting lowers the loudness a little, so steps 1-2 repeat (at most :data:`ROUNDS`
   times) until the copy measures within :data:`TOLERANCE_LU` of the target; a last
   static gain (never up) keeps the written file's true peak at or under the ceiling.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.ndimage import minimum_filter1d, uniform_filter1d
from scipy.signal import resample_poly

from district_collector.media.loudness import (
    OVERSAMPLE,
    Loudness,
    LoudnessError,
    integrated_lufs,
    measure,
    measure_samples,
    read_samples,
    true_peak_dbtp,
)
from radio_protocol.durable import fsync_dir

CEILING_DBTP = -1.0
LIMIT_MARGIN_DB = 0.3
LIMITER_WINDOW_S = 0.010
TOLERANCE_LU = 0.1
ROUNDS = 6


@dataclass(frozen=True)
class Normalised:
    """The copy written: its path, the source's and the copy's loudness, the gain, whether
    the limiter had to act."""

    path: Path
    source: Loudness
    result: Loudness
    gain_db: float
    limited: bool


def _db(value: float) -> float:
    return float(10.0 ** (value / 20.0))


def limit(data: np.ndarray, rate: int, ceiling_dbtp: float) -> tuple[np.ndarray, bool]:
    """``data`` with every (4x-oversampled) peak under ``ceiling_dbtp``; True if it acted."""
    frames = data.shape[0]
    over = np.abs(resample_poly(data, OVERSAMPLE, 1, axis=0)).max(axis=1)[: frames * OVERSAMPLE]
    envelope = np.maximum(np.abs(data).max(axis=1), over.reshape(frames, OVERSAMPLE).max(axis=1))
    envelope = np.maximum(envelope, np.concatenate(([0.0], envelope[:-1])))  # peaks just before
    need = np.minimum(1.0, _db(ceiling_dbtp) / np.maximum(envelope, 1e-12))
    if float(need.min()) >= 1.0:
        return data, False
    size = max(3, int(rate * LIMITER_WINDOW_S) | 1)
    gain = uniform_filter1d(minimum_filter1d(need, size, mode="nearest"), size, mode="nearest")
    gain = np.minimum(gain, need)  # the float rounding of the average, never above the need
    return data * gain[:, None], True


def _render(data: np.ndarray, rate: int, target_lufs: float, start_db: float) -> tuple[np.ndarray, float, bool]:
    gain_db, limited, out = start_db, False, data
    for _ in range(ROUNDS):
        out, acted = limit(data * _db(gain_db), rate, CEILING_DBTP - LIMIT_MARGIN_DB)
        limited = limited or acted
        error = target_lufs - integrated_lufs(out, rate)
        if abs(error) <= TOLERANCE_LU:
            break
        gain_db += error
    peak = true_peak_dbtp(out, rate)
    if peak > CEILING_DBTP - LIMIT_MARGIN_DB / 2:  # the limiter's last round left a peak
        out = out * _db(CEILING_DBTP - LIMIT_MARGIN_DB / 2 - peak)
    return np.clip(out, -1.0, 1.0), gain_db, limited


def normalise(source: Path, target_lufs: float, out_dir: Path) -> Normalised:
    """Write the normalised copy of ``source`` into ``out_dir``; see the module docstring.

    Raises :class:`LoudnessError` for a file that cannot be measured (unreadable, too
    short, silent) and OSError when ``out_dir`` cannot be written.
    """
    data, rate = read_samples(source)
    before = measure_samples(data, rate, str(source))
    out, gain_db, limited = _render(data, rate, target_lufs, target_lufs - before.integrated_lufs)
    out_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".normalised-", suffix=".flac", dir=out_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            sf.write(fh, out, rate, format="FLAC", subtype="PCM_24")
            fh.flush()
            os.fsync(fh.fileno())
        digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
        target = out_dir / f"{digest}.flac"
        os.replace(tmp, target)
        fsync_dir(out_dir)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    after = measure(target)
    if after.true_peak_dbtp > CEILING_DBTP + 0.05:
        raise LoudnessError(f"{source}: normalised copy peaks at {after.true_peak_dbtp:.2f} dBTP")
    return Normalised(target, before, after, gain_db, limited)
