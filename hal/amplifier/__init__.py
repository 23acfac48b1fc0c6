"""The amplifier: its interface (:mod:`hal.amplifier.base`) and the GPIO relay backend
(:mod:`hal.amplifier.gpio`).

Imports gpiozero and never sounddevice, so ``radio-station amp-off`` works even when
the audio configuration or library is broken. The recording fake is
:class:`hal.fake.FakeAmplifier`; pins in tests otherwise use gpiozero's ``MockFactory``
(``make_pin_factory("mock")``).
"""

from hal.amplifier.base import Amplifier
from hal.amplifier.gpio import (
    PIN_FACTORY_NAMES,
    GpioAmplifier,
    PinFactory,
    force_off,
    make_pin_factory,
)

__all__ = [
    "PIN_FACTORY_NAMES",
    "Amplifier",
    "GpioAmplifier",
    "PinFactory",
    "force_off",
    "make_pin_factory",
]
