"""PortAudio devices: finding the configured output, re-scanning for a re-plugged card.

sounddevice is imported lazily (first device use), so importing ``hal.audio`` does not
initialise PortAudio (ALSA reads its configuration at that moment).
"""

from __future__ import annotations

import logging
import threading
from types import ModuleType
from typing import Any

from hal.errors import AudioDeviceError

log = logging.getLogger(__name__)

_pa_lock = threading.Lock()
_open_streams = 0


def sounddevice_module() -> ModuleType:
    try:
        import sounddevice
    except OSError as exc:  # libportaudio missing
        raise AudioDeviceError(f"PortAudio is not available: {exc}") from exc
    return sounddevice


def stream_opened(delta: int) -> None:
    global _open_streams
    with _pa_lock:
        _open_streams += delta


def rescan(sd: ModuleType) -> None:
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


def find_device(sd: ModuleType, device: str | int | None) -> dict[str, Any] | str:
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
