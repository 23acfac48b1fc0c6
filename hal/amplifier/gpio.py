"""The amplifier backend for a relay on a GPIO pin (gpiozero), with an optional feedback input.

This module imports gpiozero and never sounddevice, so ``radio-station amp-off``
works even when the audio configuration or library is broken.

Wiring (the amplifier must be off whenever the software is not holding it on):

- Active-high driver (``active_high: true``): put a pull-down resistor (about
  10 kOhm) on the pin, so a floating pin (boot, crashed daemon, released line)
  reads low and means *off*.
- Active-low relay boards (the common opto-isolated modules, ``active_high: false``)
  switch on when the input is pulled low; their own pull-up keeps a floating pin
  at *off*. Constructing the device drives the pin high at once (off).
- Feedback (``feedback_pin``): a 3.3 V signal that is high while the amplifier
  really has power (relay auxiliary contact or an opto-coupler on the amplifier's
  supply). The input uses the SoC pull-down, so an unconnected feedback reads
  "no power".
"""

from __future__ import annotations

import logging
import warnings
from importlib.metadata import entry_points
from typing import TypeAlias

from gpiozero import DigitalInputDevice, OutputDevice
from gpiozero.exc import GPIOZeroError
from gpiozero.pins import Factory

from hal.amplifier.base import Amplifier
from hal.errors import AmplifierError

__all__ = ["PIN_FACTORY_NAMES", "GpioAmplifier", "PinFactory", "force_off", "make_pin_factory"]

log = logging.getLogger(__name__)

PinFactory: TypeAlias = Factory
"""gpiozero's pin factory (``gpiozero.pins.Factory``): how a device reaches the pins.
``gpiozero.pins.mock.MockFactory`` in tests."""

PIN_FACTORY_NAMES = ("lgpio", "rpigpio", "pigpio", "native", "mock")
_INSTALL_HINTS = {
    "lgpio": "install python3-lgpio (Debian) or the 'pi' extra (pip install lgpio)",
    "rpigpio": "install python3-rpi.gpio (Debian) or RPi.GPIO (pip)",
    "pigpio": "install python3-pigpio and run the pigpiod daemon",
}


def make_pin_factory(name: str) -> PinFactory:
    """Build gpiozero's pin factory called ``name``.

    ``"mock"`` gives a fresh ``gpiozero.pins.mock.MockFactory``; ``lgpio``,
    ``rpigpio``, ``pigpio`` and ``native`` are gpiozero's own factories, found the
    way gpiozero finds them (its ``gpiozero_pin_factories`` entry points).
    Raises ``AmplifierError`` naming the factory when it is unknown, its library is
    not installed, or it cannot reach the GPIO hardware.
    """
    key = name.strip().lower()
    if key == "mock":
        from gpiozero.pins.mock import MockFactory

        return MockFactory()
    if key not in PIN_FACTORY_NAMES:
        raise AmplifierError(
            f"unknown pin factory {name!r}; choose one of {', '.join(PIN_FACTORY_NAMES)}"
        )
    found = [ep for ep in entry_points(group="gpiozero_pin_factories") if ep.name == key]
    if not found:
        raise AmplifierError(f"pin factory {name!r} is not registered by the installed gpiozero")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            factory_class = found[0].load()
            factory: PinFactory = factory_class()
    except ImportError as exc:
        raise AmplifierError(
            f"pin factory {name!r} needs a library that is not installed ({exc}): "
            f"{_INSTALL_HINTS.get(key, 'install its library')}, or choose another factory"
        ) from exc
    except Exception as exc:  # gpiozero and the backends raise many kinds
        raise AmplifierError(
            f"pin factory {name!r} cannot reach the GPIO hardware: {type(exc).__name__}: {exc}"
        ) from exc
    return factory


class GpioAmplifier(Amplifier):
    """The amplifier relay on a GPIO pin (gpiozero ``OutputDevice``), with an optional
    feedback input (``DigitalInputDevice``, SoC pull-down).

    The output is built with ``initial_value=False``: the amplifier is off the moment
    this object exists. ``pin``/``feedback_pin`` are gpiozero pin names (``17``,
    ``"GPIO17"``, ``"BOARD11"``). ``pin_factory`` ``None`` means gpiozero's default
    (``Device.pin_factory``). Construction and ``on()`` raise ``AmplifierError``.
    """

    def __init__(
        self,
        pin: int | str,
        active_high: bool = True,
        feedback_pin: int | str | None = None,
        pin_factory: PinFactory | None = None,
    ) -> None:
        super().__init__()
        self.pin = pin
        self.active_high = active_high
        self.feedback_pin = feedback_pin
        self.label = f"pin={pin}"
        self.feedback_label = f"pin={feedback_pin}"
        try:
            self._output = OutputDevice(
                pin, active_high=active_high, initial_value=False, pin_factory=pin_factory
            )
        except (GPIOZeroError, OSError, ValueError) as exc:
            raise AmplifierError(
                f"cannot drive amplifier pin {pin!r}: {type(exc).__name__}: {exc}"
            ) from exc
        self._feedback: DigitalInputDevice | None = None
        if feedback_pin is not None:
            try:
                self._feedback = DigitalInputDevice(
                    feedback_pin, pull_up=False, pin_factory=pin_factory
                )
            except (GPIOZeroError, OSError, ValueError) as exc:
                self._output.close()
                raise AmplifierError(
                    f"cannot read amplifier feedback pin {feedback_pin!r}: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
        log.info(
            "amplifier ready pin=%s active_high=%s feedback_pin=%s",
            pin,
            active_high,
            feedback_pin,
        )

    def _switch(self, on: bool) -> None:
        try:
            if on:
                self._output.on()
            else:
                self._output.off()
        except (GPIOZeroError, OSError) as exc:
            state = "on" if on else "off"
            raise AmplifierError(
                f"cannot switch amplifier {state} pin={self.pin!r}: {type(exc).__name__}: {exc}"
            ) from exc

    def _commanded(self) -> bool:
        return bool(self._output.value)

    def _powered(self) -> bool | None:
        if self._feedback is None:
            return None
        return bool(self._feedback.value)

    def _release(self) -> None:
        for device in (self._feedback, self._output):
            if device is None:
                continue
            try:
                device.close()
            except Exception:
                log.exception("amplifier pin release failed pin=%s", self.pin)


def force_off(
    pin: int | str,
    active_high: bool,
    pin_factory_name: str,
    *,
    pin_factory: PinFactory | None = None,
) -> None:
    """Drive the amplifier pin to *off* and release it (``radio-station amp-off``).

    Builds the pin factory named ``pin_factory_name`` (or uses ``pin_factory`` when
    given, a seam for tests), creates the output with ``initial_value=False``,
    writes off once more, and closes the device and the factory it made.
    Raises ``AmplifierError`` when the pin cannot be driven.
    """
    own_factory = pin_factory is None
    factory = pin_factory if pin_factory is not None else make_pin_factory(pin_factory_name)
    try:
        try:
            device = OutputDevice(
                pin, active_high=active_high, initial_value=False, pin_factory=factory
            )
        except (GPIOZeroError, OSError, ValueError) as exc:
            raise AmplifierError(
                f"cannot drive amplifier pin {pin!r} with factory {pin_factory_name!r}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        try:
            device.off()
        finally:
            device.close()
        log.warning(
            "amplifier forced off pin=%s active_high=%s factory=%s",
            pin,
            active_high,
            pin_factory_name,
        )
    finally:
        if own_factory:
            try:
                factory.close()
            except Exception:
                log.exception("pin factory close failed factory=%s", pin_factory_name)
