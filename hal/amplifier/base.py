"""The amplifier's interface: a switch the airing turns on and off, with optional feedback.

:class:`Amplifier` is the base of every amplifier backend, the GPIO relay
(:class:`hal.amplifier.gpio.GpioAmplifier`) and the recording fake
(:class:`hal.fake.FakeAmplifier`). The safety rules are written once here, not in each
backend: ``off()`` and ``close()`` never raise (they run in ``finally`` blocks), a
closed amplifier reads as off and refuses ``on()``, and ``confirmed`` compares the
feedback with the commanded state.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from types import TracebackType

from hal.errors import AmplifierError

__all__ = ["Amplifier"]

log = logging.getLogger(__name__)


class Amplifier(ABC):
    """The amplifier switch: ``on()``, ``off()``, ``is_on``, ``confirmed``, ``close()``.

    ``label`` names the switch in logs and errors (``pin=17``). ``on()`` raises
    ``AmplifierError``; ``off()`` and ``close()`` never raise (a failure is logged), so
    they are safe in ``finally`` blocks. A context manager that closes on exit.

    A backend MUST override:

    * :meth:`_switch` - drive the output to on (True) or off (False); raise
      ``AmplifierError`` (translated from the library's exceptions) on failure.
    * :meth:`_commanded` - the state the output is driven to now.

    A backend MAY override:

    * :meth:`_powered` - whether the feedback input says the amplifier has power;
      ``None`` (the default) when there is no feedback input.
    * :meth:`_release` - free the hardware (pins); called once by :meth:`close`,
      after the switch is off. The default holds nothing.

    Not to be overridden: ``on``, ``off``, ``is_on``, ``confirmed``, ``close``.
    """

    label = "amplifier"
    feedback_label = "none"

    def __init__(self) -> None:
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def on(self) -> None:
        """Switch the amplifier on. Raises ``AmplifierError`` when it cannot be switched."""
        if self._closed:
            raise AmplifierError(f"amplifier on {self.label} is closed")
        self._switch(True)
        log.info("amplifier on %s", self.label)

    def off(self) -> None:
        """Switch the amplifier off. Never raises: a failure is logged as an error."""
        if self._closed:
            return
        try:
            self._switch(False)
        except Exception:
            log.exception("amplifier off FAILED %s", self.label)
            return
        log.info("amplifier off %s", self.label)

    @property
    def is_on(self) -> bool:
        """The commanded state (what the software asked for), False once closed."""
        if self._closed:
            return False
        try:
            return bool(self._commanded())
        except Exception:
            log.exception("amplifier state unreadable %s", self.label)
            return False

    @property
    def confirmed(self) -> bool | None:
        """Whether the feedback input agrees with the commanded state.

        ``None`` without a feedback input (or once closed); False when it cannot be read.
        Read it after the amplifier has had time to switch (relays take 10-50 ms).
        """
        if self._closed:
            return None
        try:
            powered = self._powered()
        except Exception:
            log.exception("amplifier feedback unreadable %s", self.feedback_label)
            return False
        if powered is None:
            return None
        return powered == self.is_on

    def close(self) -> None:
        """Switch off and release the hardware. Idempotent; never raises."""
        if self._closed:
            return
        self.off()
        self._closed = True
        try:
            self._release()
        except Exception:
            log.exception("amplifier release failed %s", self.label)

    @abstractmethod
    def _switch(self, on: bool) -> None:
        """Drive the output on or off. Raises ``AmplifierError``."""

    @abstractmethod
    def _commanded(self) -> bool:
        """The state the output is driven to."""

    def _powered(self) -> bool | None:
        """The feedback input's reading; None when there is none."""
        return None

    def _release(self) -> None:
        """Free the hardware (default: nothing held)."""
        return None

    def __enter__(self) -> Amplifier:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
