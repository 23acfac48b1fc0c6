"""Hardware abstraction: the amplifier relay (gpiozero) and the sound card (sounddevice).

The only package that imports gpiozero and sounddevice; it imports neither program.
Each device has a small base class that says what a backend must override, real
backends, and fakes on the same base:

- ``hal.amplifier``: ``Amplifier`` (base), ``GpioAmplifier``, ``force_off``,
  ``make_pin_factory``, ``PinFactory`` (no sounddevice, so ``amp-off`` works with
  broken audio);
- ``hal.audio``: ``AudioOutput`` and ``PreparedAudio`` (bases), ``PortAudioOutput``,
  ``UnavailableAudio``, and the media helpers of ``hal.media`` (PortAudio initialised
  lazily);
- ``hal.fake``: ``FakeAudioOutput``, ``FakeAmplifier`` (for tests of upper layers);
- ``hal.errors``: the layer's errors, re-exported here.
"""

from hal.errors import AmplifierError, AudioDeviceError, HalError, MediaError

__all__ = ["AmplifierError", "AudioDeviceError", "HalError", "MediaError"]
