"""Fixtures shared by the slot runner tests (tests/station/test_schedule_runner_*.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
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
