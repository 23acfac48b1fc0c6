"""Hardware abstraction: the amplifier relay (gpiozero) and the sound card (sounddevice).

The only package that imports gpiozero and sounddevice. Import the submodule you
need: ``hal.amplifier`` (no sounddevice, so ``amp-off`` works with broken audio),
``hal.audio`` (PortAudio initialised lazily), ``hal.fake`` (for tests of upper layers).
"""

from hal.errors import AmplifierError, AudioDeviceError, HalError, MediaError

__all__ = ["AmplifierError", "AudioDeviceError", "HalError", "MediaError"]
