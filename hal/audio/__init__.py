"""The audio output: its interface (:mod:`hal.audio.base`), the PortAudio backend
(:mod:`hal.audio.portaudio`, with :mod:`hal.audio.playback` and :mod:`hal.audio.devices`)
and the media helpers of :mod:`hal.media`, re-exported here.

Importing this package does not start PortAudio: sounddevice is imported at the first
device use. The test fake is :class:`hal.fake.FakeAudioOutput`, on the same base.
"""

from hal.audio.base import DEFAULT_MARGIN_S, AudioOutput, PreparedAudio, UnavailableAudio
from hal.audio.playback import PreparedPortAudio
from hal.audio.portaudio import PortAudioOutput
from hal.media import (
    DBFS_FLOOR,
    SILENCE_DBFS,
    SILENCE_WINDOW_S,
    LevelMeter,
    MediaInfo,
    PlaybackResult,
    file_sha256,
    open_media,
    probe,
    remix,
)

__all__ = [
    "DBFS_FLOOR",
    "DEFAULT_MARGIN_S",
    "SILENCE_DBFS",
    "SILENCE_WINDOW_S",
    "AudioOutput",
    "LevelMeter",
    "MediaInfo",
    "PlaybackResult",
    "PortAudioOutput",
    "PreparedAudio",
    "PreparedPortAudio",
    "UnavailableAudio",
    "file_sha256",
    "open_media",
    "probe",
    "remix",
]
