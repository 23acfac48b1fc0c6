"""Helpers of the hal.audio tests: generated media, the raw capture of the ``testout``
device (tests/asound-test.conf), and a spy around a real PortAudio stream."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

RATE = 44100


def tone(
    seconds: float, rate: int = RATE, freq: float = 440.0, amp: float = 0.5, channels: int = 2
) -> np.ndarray:
    """A float64 sine (channel k at freq * (k + 1)), shape (frames, channels)."""
    t = np.arange(round(seconds * rate)) / rate
    return np.stack([amp * np.sin(2 * np.pi * freq * (k + 1) * t) for k in range(channels)], 1)


def write(path: Path, data: np.ndarray, rate: int = RATE, subtype: str | None = None) -> Path:
    sf.write(str(path), data, rate, subtype=subtype)
    return path


def capture(path: Path, channels: int, dtype: str = "int16") -> np.ndarray:
    return np.fromfile(path, dtype=dtype).reshape(-1, channels)


def trim(frames: np.ndarray) -> np.ndarray:
    """Drop all-zero frames at both ends."""
    nonzero = np.flatnonzero(np.any(frames != 0, axis=1))
    return frames[nonzero[0] : nonzero[-1] + 1] if nonzero.size else frames[:0]


def dominant_hz(signal: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(signal.size)))
    return float(np.fft.rfftfreq(signal.size, 1 / rate)[int(np.argmax(spectrum))])


class StreamSpy:
    """Wraps a real PortAudio stream; its writes can hang or report underflows."""

    def __init__(self, stream: Any, hang: threading.Event | None, underflow_every: int) -> None:
        self.stream = stream
        self.hang = hang
        self.underflow_every = underflow_every
        self.writes = 0
        self.calls: list[str] = []
        self.closed = threading.Event()

    def start(self) -> None:
        self.calls.append("start")
        self.stream.start()

    def write(self, block: np.ndarray) -> bool:
        self.writes += 1
        if self.hang is not None:
            self.hang.wait()  # a sound card that never takes the samples
        self.stream.write(block)
        return self.underflow_every > 0 and self.writes % self.underflow_every == 0

    def stop(self) -> None:
        self.calls.append("stop")
        self.stream.stop()

    def abort(self) -> None:
        self.calls.append("abort")
        self.stream.abort()

    def close(self) -> None:
        self.calls.append("close")
        self.stream.close()
        self.closed.set()


def spy_factory(
    spies: list[StreamSpy], hang: threading.Event | None = None, every: int = 0
) -> Any:
    import sounddevice

    def factory(**kwargs: Any) -> StreamSpy:
        spies.append(StreamSpy(sounddevice.OutputStream(**kwargs), hang, every))
        return spies[-1]

    return factory
