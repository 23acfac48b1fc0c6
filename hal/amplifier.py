"""The amplifier relay on a GPIO pin, with an optional feedback input.

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
from types import TracebackType
from typing import Any

from gpiozero import DigitalInputDevice, OutputDevice
from gpiozero.exc import GPIOZeroError
from gpiozero.pins import Factory

from hal.errors import AmplifierError

log = logging.getLogger(__name__)

PIN_FACTORY_NAMES = ("lgpio", "rpigpio", "pigpio", "native", "mock")
_INSTALL_HINTS = {
    "lgpio": "install python3-lgpio (Debian) or the 'pi' extra (pip install lgpio)",
    "rpigpio": "install python3-rpi.gpio (Debian) or RPi.GPIO (pip)",
    "pigpio": "install python3-pigpio and run the pigpiod daemon",
}


def make_pin_factory(name: str) -> Factory:
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
            factory: Factory = factory_class()
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


class Amplifier:
    """The amplifier relay: ``on()``, ``off()``, ``is_on``, ``confirmed``, ``close()``.

    The output is built with ``initial_value=False``: the amplifier is off the moment
    this object exists. ``pin``/``feedback_pin`` are gpiozero pin names (``17``,
    ``"GPIO17"``, ``"BOARD11"``). ``pin_factory`` ``None`` means gpiozero's default
    (``Device.pin_factory``). Construction and ``on()`` raise ``AmplifierError``;
    ``off()`` and ``close()`` never raise (a failure is logged), so they are safe in
    ``finally`` blocks. Also a context manager that switches off and closes on exit.
    """

    def __init__(
        self,
        pin: int | str,
        active_high: bool = True,
        feedback_pin: int | str | None = None,
        pin_factory: Factory | None = None,
    ) -> None:
        self.pin = pin
        self.active_high = active_high
        self.feedback_pin = feedback_pin
        self._closed = False
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

    def on(self) -> None:
        """Switch the amplifier on. Raises ``AmplifierError`` when the pin cannot be set."""
        if self._closed:
            raise AmplifierError(f"amplifier on pin {self.pin!r} is closed")
        try:
            self._output.on()
        except (GPIOZeroError, OSError) as exc:
            raise AmplifierError(
                f"cannot switch amplifier on pin={self.pin!r}: {type(exc).__name__}: {exc}"
            ) from exc
        log.info("amplifier on pin=%s", self.pin)

    def off(self) -> None:
        """Switch the amplifier off. Never raises: a failure is logged as an error."""
        if self._closed:
            return
        try:
            self._output.off()
        except Exception:
            log.exception("amplifier off FAILED pin=%s", self.pin)
            return
        log.info("amplifier off pin=%s", self.pin)

    @property
    def is_on(self) -> bool:
        """The commanded state (what the software asked for), False once closed."""
        if self._closed:
            return False
        try:
            return bool(self._output.value)
        except Exception:
            log.exception("amplifier state unreadable pin=%s", self.pin)
            return False

    @property
    def confirmed(self) -> bool | None:
        """Whether the feedback input agrees with the commanded state.

        ``None`` without a feedback pin (or once closed). Read it after the
        amplifier has had time to switch (relays take 10-50 ms).
        """
        if self._feedback is None or self._closed:
            return None
        try:
            powered = bool(self._feedback.value)
        except Exception:
            log.exception("amplifier feedback unreadable pin=%s", self.feedback_pin)
            return False
        return powered == self.is_on

    def close(self) -> None:
        """Switch off and release the pins. Idempotent; never raises."""
        if self._closed:
            return
        self.off()
        self._closed = True
        for device in (self._feedback, self._output):
            if device is None:
                continue
            try:
                device.close()
            except Exception:
                log.exception("amplifier pin release failed pin=%s", self.pin)

    def __enter__(self) -> Amplifier:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def force_off(
    pin: int | str,
    active_high: bool,
    pin_factory_name: str,
    *,
    pin_factory: Any = None,
) -> None:
    """Drive the amplifier pin to *off* and release it (``radio-station amp-off``).

    Builds the pin factory named ``pin_factory_name`` (or uses ``pin_factory`` when
    given, a seam for tests), creates the output with ``initial_value=False``,
    writes off once more, and closes the device and the factory it made.
    Raises ``AmplifierError`` when the pin cannot be driven.
    """
    own_factory = pin_factory is None
    factory = make_pin_factory(pin_factory_name) if own_factory else pin_factory
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
