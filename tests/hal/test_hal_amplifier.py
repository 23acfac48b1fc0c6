"""hal.amplifier on gpiozero's MockFactory: exact pin state sequences (docs/TESTING.md)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from hal.amplifier import GpioAmplifier, force_off, make_pin_factory
from hal.errors import AmplifierError


def _states(factory: Any, pin: int) -> list[bool]:
    """Every level the pin took, in order (MockPin records changes only)."""
    return [change.state for change in factory.pin(pin).states]


def test_amplifier_active_high_is_off_at_construction_and_follows_commands(
    mock_factory: Any,
) -> None:
    amp = GpioAmplifier(17)
    assert _states(mock_factory, 17) == [False]
    assert amp.is_on is False

    amp.on()
    assert amp.is_on is True
    amp.off()
    amp.on()
    amp.close()

    assert _states(mock_factory, 17) == [False, True, False, True, False]
    assert amp.is_on is False


def test_amplifier_active_low_drives_pin_high_at_construction(mock_factory: Any) -> None:
    amp = GpioAmplifier(17, active_high=False)
    assert _states(mock_factory, 17) == [False, True]  # high at once = relay off

    amp.on()
    amp.off()

    assert _states(mock_factory, 17) == [False, True, False, True]
    amp.close()
    assert _states(mock_factory, 17) == [False, True, False, True]


def test_amplifier_repeated_commands_do_not_toggle_the_pin(mock_factory: Any) -> None:
    amp = GpioAmplifier(17)
    amp.on()
    amp.on()
    amp.off()
    amp.off()
    assert _states(mock_factory, 17) == [False, True, False]
    amp.close()


def test_amplifier_confirmed_is_none_without_feedback_pin(mock_factory: Any) -> None:
    amp = GpioAmplifier(17)
    amp.on()
    assert amp.confirmed is None
    amp.close()


@pytest.mark.parametrize(
    ("command_on", "feedback_high", "confirmed"),
    [(True, True, True), (True, False, False), (False, False, True), (False, True, False)],
)
def test_amplifier_confirmed_compares_feedback_with_command(
    mock_factory: Any, command_on: bool, feedback_high: bool, confirmed: bool
) -> None:
    amp = GpioAmplifier(17, feedback_pin=22)
    if command_on:
        amp.on()
    if feedback_high:
        mock_factory.pin(22).drive_high()
    else:
        mock_factory.pin(22).drive_low()

    assert amp.confirmed is confirmed
    amp.close()


def test_amplifier_feedback_input_is_pulled_down(mock_factory: Any) -> None:
    amp = GpioAmplifier(17, feedback_pin=22)
    assert mock_factory.pin(22).pull == "down"
    assert mock_factory.pin(22).function == "input"
    assert amp.confirmed is True  # off, and a floating feedback reads "no power"
    amp.on()
    assert amp.confirmed is False  # the relay did not switch
    amp.close()
    assert amp.confirmed is None


def test_amplifier_close_switches_off_releases_pins_and_is_idempotent(mock_factory: Any) -> None:
    amp = GpioAmplifier(17, feedback_pin=22)
    amp.on()
    amp.close()
    amp.close()
    amp.off()  # after close: still no exception

    assert _states(mock_factory, 17) == [False, True, False]
    again = GpioAmplifier(17, feedback_pin=22)  # pins are free again
    again.close()


def test_amplifier_context_manager_switches_off_on_error(mock_factory: Any) -> None:
    with pytest.raises(RuntimeError), GpioAmplifier(17) as amp:
        amp.on()
        raise RuntimeError("airing failed")
    assert _states(mock_factory, 17) == [False, True, False]


def test_amplifier_off_never_raises_when_pin_fails(
    mock_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    amp = GpioAmplifier(17)
    amp.on()
    amp._output.close()  # the pin vanishes under us (gpiozero raises on every write)

    amp.off()

    assert "amplifier off FAILED pin=17" in caplog.text
    with pytest.raises(AmplifierError) as caught:
        amp.on()
    assert caught.value.reason == "amp-fault"
    amp.close()


def test_amplifier_on_after_close_raises(mock_factory: Any) -> None:
    amp = GpioAmplifier(17)
    amp.close()
    with pytest.raises(AmplifierError, match="closed"):
        amp.on()


@pytest.mark.parametrize(
    ("pin", "feedback_pin", "needle"),
    [
        (99, None, "pin 99"),
        ("GPIO77", None, "'GPIO77'"),
        (17, 17, "feedback pin 17"),
        (17, 99, "feedback pin 99"),
    ],
)
def test_amplifier_bad_pins_raise_amplifier_error(
    mock_factory: Any, pin: Any, feedback_pin: Any, needle: str
) -> None:
    with pytest.raises(AmplifierError) as caught:
        GpioAmplifier(pin, feedback_pin=feedback_pin)
    assert needle in str(caught.value)
    assert caught.value.reason == "amp-fault"
    again = GpioAmplifier(17)  # a failed construction left no pin reserved
    again.close()


def test_amplifier_pin_in_use_raises(mock_factory: Any) -> None:
    first = GpioAmplifier(17)
    with pytest.raises(AmplifierError, match="pin 17"):
        GpioAmplifier(17)
    first.close()


def test_amplifier_explicit_pin_factory_keyword() -> None:
    factory = MockFactory()
    amp = GpioAmplifier("GPIO5", active_high=False, pin_factory=factory)
    amp.on()
    amp.close()
    assert _states(factory, 5) == [False, True, False, True]


def test_make_pin_factory_mock_gives_fresh_mock_factory() -> None:
    first = make_pin_factory("mock")
    assert isinstance(first, MockFactory)
    assert make_pin_factory(" MOCK ") is not first


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        (
            "gpiod",
            "unknown pin factory 'gpiod'; choose one of lgpio, rpigpio, pigpio, native, mock",
        ),
        ("", "unknown pin factory ''"),
        ("lgpio", "pin factory 'lgpio'"),
        ("rpigpio", "pin factory 'rpigpio'"),
        ("native", "pin factory 'native'"),
    ],
)
def test_make_pin_factory_errors_name_the_factory(name: str, needle: str) -> None:
    # On this x86 test machine the real GPIO factories cannot load or reach hardware.
    with pytest.raises(AmplifierError) as caught:
        make_pin_factory(name)
    assert needle in str(caught.value)


def test_force_off_drives_pin_off_and_releases_it() -> None:
    factory = MockFactory()
    held = GpioAmplifier(17, active_high=False, pin_factory=factory)
    held.on()  # what a crashed daemon might leave behind...
    held._output.close()  # ...the process died: the pin is free but still low (= on)
    assert _states(factory, 17) == [False, True, False]

    force_off(17, False, "mock", pin_factory=factory)

    assert _states(factory, 17) == [False, True, False, True]  # active-low: high = off
    assert factory.pin(17).function == "input"  # released
    force_off(17, False, "mock", pin_factory=factory)  # and can be repeated


def test_force_off_builds_the_named_factory_and_closes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    factory = MockFactory()
    held = GpioAmplifier(18, pin_factory=factory)
    held.on()
    held._output.close()  # a dead daemon left the pin high (= on)
    names: list[str] = []
    closed: list[bool] = []
    monkeypatch.setattr(factory, "close", lambda: closed.append(True))

    def make(name: str) -> MockFactory:
        names.append(name)
        return factory

    monkeypatch.setattr("hal.amplifier.gpio.make_pin_factory", make)
    force_off(18, True, "mock")

    assert names == ["mock"] and closed == [True]
    assert _states(factory, 18) == [False, True, False]


def test_force_off_unknown_factory_raises() -> None:
    with pytest.raises(AmplifierError, match="unknown pin factory 'bogus'"):
        force_off(17, True, "bogus")


def test_amplifier_module_does_not_import_sounddevice() -> None:
    code = "import sys, hal.amplifier; print('sounddevice' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
