"""LevelMeter against a plain float64 reference, over blocks of awkward sizes.

The meter works in float32 squares, int16 peaks and one ``reduceat`` per block for
speed; these tests hold it to what the straightforward computation over the whole
signal gives: RMS and peak in dBFS, and silent seconds (50 ms windows counted from the
first frame, crossing block borders; the unfinished last window counts too).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from hal.media import DBFS_FLOOR, SILENCE_DBFS, SILENCE_WINDOW_S, LevelMeter

# frames per block, cycled: single frames, just under/at/over a 48 kHz window (2400)
# and a 44.1 kHz one (2205), primes, and the player's 4096
BLOCK_SIZES = [1, 7, 2399, 2400, 2401, 13, 4096, 2205, 997, 5000, 2, 3331]


def _reference(signal: np.ndarray, samplerate: int) -> tuple[float, float, float]:
    """(rms_dbfs, peak_dbfs, silent_s) of the whole signal, in float64, the obvious way."""
    x = signal.astype(np.float64)
    if signal.dtype == np.int16:
        x /= 32768.0
    if x.size == 0:
        return DBFS_FLOOR, DBFS_FLOOR, 0.0
    power = float(np.mean(x * x))
    peak = float(np.max(np.abs(x)))
    rms_dbfs = max(DBFS_FLOOR, 10 * math.log10(power)) if power > 0 else DBFS_FLOOR
    peak_dbfs = max(DBFS_FLOOR, 20 * math.log10(peak)) if peak > 0 else DBFS_FLOOR
    frame_power = np.mean(x * x, axis=1)
    window = max(1, round(samplerate * SILENCE_WINDOW_S))
    threshold = 10.0 ** (SILENCE_DBFS / 10.0)
    silent = 0
    for start in range(0, frame_power.size, window):
        piece = frame_power[start : start + window]
        if float(np.mean(piece)) < threshold:
            silent += piece.size
    return rms_dbfs, peak_dbfs, silent / samplerate


def _programme(rng: np.random.Generator, channels: int, dtype: str) -> np.ndarray:
    """Loud noise, quiet noise (-80 dBFS), digital silence, a full-scale click and a
    stretch just above the silence threshold, in lengths that fit no window."""
    pieces = [
        rng.normal(0.0, 0.2, (7001, channels)),
        np.zeros((5203, channels)),
        rng.normal(0.0, 1e-4, (9917, channels)),
        rng.normal(0.0, 10 ** (-54 / 20), (4811, channels)),  # -54 dBFS: not silent
        np.zeros((2399, channels)),
        rng.normal(0.0, 0.05, (3, channels)),  # a blip inside a quiet window
        rng.normal(0.0, 1e-5, (6000, channels)),
        rng.uniform(-1.0, 1.0, (3313, channels)),
        np.zeros((1234, channels)),
    ]
    signal = np.concatenate(pieces)
    if dtype == "int16":
        out = np.clip(np.rint(signal * 32768.0), -32768, 32767).astype(np.int16)
        out[7001 + 5203 + 17, 0] = -32768  # a full-scale negative sample: peak 0 dBFS
        return out
    return signal.astype(dtype)


def _metered(signal: np.ndarray, samplerate: int, sizes: list[int]) -> LevelMeter:
    meter = LevelMeter(samplerate)
    pos = 0
    for size in itertools.cycle(sizes):
        if pos >= signal.shape[0]:
            break
        meter.add(signal[pos : pos + size])
        pos += size
    return meter


@pytest.mark.parametrize("samplerate", [48000, 44100])
@pytest.mark.parametrize("channels", [1, 2, 6])
@pytest.mark.parametrize("dtype", ["int16", "float32", "float64"])
def test_level_meter_matches_float64_reference_across_block_borders(
    dtype: str, channels: int, samplerate: int
) -> None:
    rng = np.random.default_rng(channels * 1000 + samplerate)
    signal = _programme(rng, channels, dtype)
    rms, peak, silent = _reference(signal, samplerate)
    assert 0.1 < silent < signal.shape[0] / samplerate - 0.1  # both kinds of windows occur

    meter = _metered(signal, samplerate, BLOCK_SIZES)

    assert meter.frames == signal.shape[0]
    assert meter.rms_dbfs == pytest.approx(rms, abs=1e-5)
    assert meter.peak_dbfs == pytest.approx(peak, abs=1e-9)
    assert meter.silent_s == pytest.approx(silent, abs=1e-12)
    if dtype == "int16":
        assert meter.peak_dbfs == 0.0


@pytest.mark.parametrize("sizes", [[1], [2400], [2399], [2401], [100_000]])
def test_level_meter_block_size_does_not_change_the_result(sizes: list[int]) -> None:
    rng = np.random.default_rng(11)
    signal = _programme(rng, 2, "int16")[:12_000]
    whole = LevelMeter(48000)
    whole.add(signal)

    pieces = _metered(signal, 48000, sizes)

    assert pieces.frames == whole.frames
    assert pieces.rms_dbfs == pytest.approx(whole.rms_dbfs, abs=1e-9)
    assert pieces.peak_dbfs == whole.peak_dbfs
    assert pieces.silent_s == whole.silent_s


def test_level_meter_counts_unfinished_last_window() -> None:
    meter = LevelMeter(48000)
    meter.add(np.zeros((2400 + 100, 2), dtype=np.int16))
    assert meter.silent_s == pytest.approx(2500 / 48000)
    meter.add(np.full((100, 2), 16384, dtype=np.int16))  # the open window turns loud
    assert meter.silent_s == pytest.approx(2400 / 48000)
    assert meter.peak_dbfs == pytest.approx(-6.0206, abs=1e-4)


def test_level_meter_accepts_one_dimensional_mono_blocks() -> None:
    tone = (0.5 * np.sin(2 * np.pi * 1000 * np.arange(4800) / 48000)).astype(np.float32)
    meter = LevelMeter(48000)
    meter.add(tone[:1000])
    meter.add(tone[1000:])
    assert meter.peak_dbfs == pytest.approx(-6.02, abs=0.01)
    assert meter.rms_dbfs == pytest.approx(-9.03, abs=0.01)
    assert meter.silent_s == 0.0
