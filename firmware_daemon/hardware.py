"""The station's hardware, built once from its config: the amplifier relay and the audio output.

The one place that turns ``amplifier``, ``gpio`` and ``audio`` config into hal objects,
for both programs that drive the loudspeakers: ``radio-station play`` and the daemon
(``radio-station run``, whose slot runner airs through the same pair). ``amp-off`` does
not come here: it must work with the rest of the config broken
(:func:`hal.amplifier.force_off`).

hal is imported inside the functions, so importing this module costs nothing and a
test that replaces ``hal.amplifier.gpio.make_pin_factory`` is seen at call time.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import TYPE_CHECKING

from firmware_daemon.config import StationConfig

if TYPE_CHECKING:
    from hal.amplifier import Amplifier, PinFactory
    from hal.audio import AudioOutput

__all__ = ["StationHardware", "build_amplifier", "build_audio_output", "make_station_pin_factory"]

log = logging.getLogger(__name__)


def make_station_pin_factory(config: StationConfig) -> PinFactory:
    """gpiozero's pin factory named in ``gpio.pin_factory``. Raises ``AmplifierError``."""
    from hal.amplifier.gpio import make_pin_factory

    return make_pin_factory(config.gpio.pin_factory)


def build_amplifier(config: StationConfig, pin_factory: PinFactory) -> Amplifier:
    """The amplifier relay of ``config.amplifier`` on ``pin_factory``, forced **off**
    (whatever state a crash left it in). Raises ``AmplifierError``."""
    from hal.amplifier import GpioAmplifier

    amp_cfg = config.amplifier
    amp = GpioAmplifier(amp_cfg.pin, active_high=amp_cfg.active_high,
                        feedback_pin=amp_cfg.feedback_pin, pin_factory=pin_factory)
    amp.off()
    return amp


def build_audio_output(config: StationConfig) -> AudioOutput:
    """The PortAudio output of ``config.audio``, or, when it cannot be set up,
    ``UnavailableAudio`` carrying the error: every airing then records why it failed
    (before the amplifier goes on) instead of the station not starting. Never raises
    ``HalError``."""
    from hal.audio import PortAudioOutput, UnavailableAudio
    from hal.errors import HalError

    try:
        return PortAudioOutput(config.audio.device, latency=config.audio.latency)
    except HalError as exc:
        log.error("audio output unavailable: %s (airings will record it)", exc)
        return UnavailableAudio(exc)


class StationHardware:
    """The station's amplifier and audio output, and the pin factory the amplifier uses.

    Build it with :meth:`open`. :meth:`close` switches the amplifier off, releases its
    pins and closes the pin factory if :meth:`open` made it (one passed in belongs to
    the caller). A context manager.
    """

    def __init__(self, amplifier: Amplifier, audio: AudioOutput, pin_factory: PinFactory,
                 *, owns_factory: bool) -> None:
        self.amplifier = amplifier
        self.audio = audio
        self.pin_factory = pin_factory
        self._owns_factory = owns_factory

    @classmethod
    def open(cls, config: StationConfig, *, pin_factory: PinFactory | None = None,
             audio: AudioOutput | None = None) -> StationHardware:
        """Amplifier first (forced off), then the audio output.

        ``pin_factory`` ``None``: the factory named in ``gpio.pin_factory`` (closed by
        :meth:`close`). ``audio`` replaces the configured output (tests). Raises
        ``AmplifierError`` when the amplifier cannot be set up (nothing is left open).
        """
        owns = pin_factory is None
        factory = make_station_pin_factory(config) if pin_factory is None else pin_factory
        try:
            amplifier = build_amplifier(config, factory)
        except BaseException:
            if owns:
                _close_factory(factory)
            raise
        return cls(amplifier, audio or build_audio_output(config), factory, owns_factory=owns)

    def close(self) -> None:
        """Amplifier off and released, then the pin factory if it is ours. Never raises."""
        self.amplifier.close()
        if self._owns_factory:
            _close_factory(self.pin_factory)

    def __enter__(self) -> StationHardware:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _close_factory(factory: PinFactory) -> None:
    try:
        factory.close()
    except Exception:
        log.exception("pin factory close failed")
