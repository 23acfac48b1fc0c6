"""Fixtures shared by the station tests: the slot runner tests (test_schedule_*.py), the
airing tests (test_station_airing*.py) and the command tests (test_station_cli*.py, amp-off)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from airing_testkit import Rig, tone
from cli_testkit import TimedPin
from gpiozero.pins.mock import MockFactory
from runner_testkit import Station
from schedule_testkit import make_wav


@pytest.fixture
def wav(tmp_path: Path) -> bytes:
    """A 1 s WAV segment's bytes (also written to ``tmp_path/seg.wav``)."""
    return make_wav(tmp_path / "seg.wav", seconds=1.0)


@pytest.fixture
def stations() -> Iterator[list[Station]]:
    """Stations a test builds (append them); each is closed at the end."""
    made: list[Station] = []
    yield made
    for st in made:
        st.close()


@pytest.fixture
def media(tmp_path: Path) -> Path:
    """A 1.5 s tone to air (the airing tests)."""
    return tone(tmp_path / "segment.wav")


@pytest.fixture
def rigs(tmp_path: Path) -> Iterator[list[Rig]]:
    """Airing rigs a test builds (``make_rig``); each is closed at the end."""
    made: list[Rig] = []
    yield made
    for rig in made:
        rig.close()


@pytest.fixture
def factory(monkeypatch: pytest.MonkeyPatch) -> MockFactory:
    """The MockFactory the commands get for ``pin_factory: mock`` (kept to read the pins)."""
    made = MockFactory(pin_class=TimedPin)
    names: list[str] = []

    def make(name: str) -> MockFactory:
        names.append(name)
        assert name == "mock"
        return made

    monkeypatch.setattr("hal.amplifier.gpio.make_pin_factory", make)
    return made
