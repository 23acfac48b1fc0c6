"""Errors of the hardware layer: library exceptions are translated to these at the boundary.

Every class carries ``reason``, the short code docs/protocol.md uses for an airing's
``reason`` member (``audio-device``, ``media-missing``, ``media-corrupt``,
``amp-fault``), and ``detail``, an English sentence for the log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from radio_protocol.errors import CommuneRadioError

if TYPE_CHECKING:
    from hal.media import PlaybackResult


class HalError(CommuneRadioError):
    """Base of the hardware layer's errors."""

    reason = "hal"

    def __init__(self, detail: str = "") -> None:
        self.detail = detail
        # Set by a prepared playback's ``run`` when the failure came after playback
        # began: the PlaybackResult up to the failure (what was really aired).
        self.partial: PlaybackResult | None = None
        super().__init__(f"{self.reason}: {detail}" if detail else self.reason)


class AudioDeviceError(HalError):
    """The sound device is missing, refuses the stream, or hung while playing."""

    reason = "audio-device"


class AmplifierError(HalError):
    """The amplifier's GPIO could not be set up or switched (pin factory, pin in use)."""

    reason = "amp-fault"


MEDIA_REASONS = ("media-missing", "media-corrupt")


class MediaError(HalError):
    """A media file is missing/unreadable (``media-missing``) or cannot be decoded
    (``media-corrupt``). Construct as ``MediaError("media-missing", "no file /x.mp3")``.
    """

    reason = "media-corrupt"

    def __init__(self, reason: str, detail: str = "") -> None:
        if reason not in MEDIA_REASONS:
            raise ValueError(f"MediaError reason must be one of {MEDIA_REASONS}, not {reason!r}")
        self.reason = reason
        super().__init__(detail)
