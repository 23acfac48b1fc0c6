"""hal.amplifier.base.Amplifier: the rules every backend gets from the base class, shown
on hal.fake.FakeAmplifier (which records its commanded states) and the GPIO backend."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from hal.amplifier import Amplifier, GpioAmplifier
from hal.errors import AmplifierError
from hal.fake import FakeAmplifier


def test_amplifier_base_backends_share_the_base() -> None:
    assert issubclass(GpioAmplifier, Amplifier) and issubclass(FakeAmplifier, Amplifier)


def test_amplifier_base_cannot_be_built_without_switch_and_commanded() -> None:
    class Incomplete(Amplifier):
        def _switch(self, on: bool) -> None:
            return None

    with pytest.raises(TypeError, match="_commanded"):
        Incomplete()  # type: ignore[abstract]


def test_fake_amplifier_records_every_change_and_is_off_at_first() -> None:
    amp = FakeAmplifier()
    assert amp.states == [False] and amp.is_on is False
    amp.on()
    amp.on()
    amp.off()
    amp.on()
    amp.close()
    assert amp.states == [False, True, False, True, False]
    assert amp.released and amp.closed and amp.is_on is False


def test_amplifier_base_on_after_close_raises_and_off_is_a_no_op() -> None:
    amp = FakeAmplifier()
    amp.close()
    with pytest.raises(AmplifierError, match="closed"):
        amp.on()
    amp.off()
    amp.close()  # idempotent
    assert amp.states == [False]


def test_amplifier_base_on_failure_raises_the_backends_error() -> None:
    boom = AmplifierError("gpiochip busy")
    amp = FakeAmplifier(fail_on=boom)
    with pytest.raises(AmplifierError) as caught:
        amp.on()
    assert caught.value is boom and amp.states == [False]


def test_amplifier_base_off_and_close_never_raise(caplog: pytest.LogCaptureFixture) -> None:
    amp = FakeAmplifier(fail_off=AmplifierError("line gone"))
    amp.on()
    with caplog.at_level(logging.ERROR):
        amp.off()
        amp.close()
    assert caplog.text.count("amplifier off FAILED fake") == 2
    assert amp.states == [False, True] and amp.released


def test_amplifier_base_context_manager_closes_on_error() -> None:
    amp = FakeAmplifier()
    with pytest.raises(RuntimeError), amp:
        amp.on()
        raise RuntimeError("airing crashed")
    assert amp.states == [False, True, False] and amp.closed


@pytest.mark.parametrize(("feedback", "powered", "expected"), [
    (False, None, [None, None]),
    (True, None, [True, True]),  # the feedback follows the command
    (True, lambda commanded: False, [False, True]),  # no power ever: on is unconfirmed
    (True, lambda commanded: True, [True, False]),  # stuck powered: off is unconfirmed
])
def test_amplifier_base_confirmed_compares_feedback_with_command(
        feedback: bool, powered: Any, expected: list[bool | None]) -> None:
    amp = FakeAmplifier(feedback=feedback, powered=powered)
    amp.on()
    on = amp.confirmed
    amp.off()
    assert [on, amp.confirmed] == expected
    amp.close()
    assert amp.confirmed is None  # closed


def test_amplifier_base_unreadable_feedback_is_not_confirmed(
        caplog: pytest.LogCaptureFixture) -> None:
    def broken(commanded: bool) -> bool:
        raise OSError("feedback line gone")

    amp = FakeAmplifier(feedback=True, powered=broken)
    with caplog.at_level(logging.ERROR):
        assert amp.confirmed is False
    assert "amplifier feedback unreadable fake-feedback" in caplog.text
