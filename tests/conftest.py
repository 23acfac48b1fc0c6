"""Shared fixtures: real PortAudio through the ALSA file plugin, gpiozero's MockFactory.

ALSA reads its configuration when PortAudio initialises (at ``import sounddevice``),
so the environment is set here, before any test module imports hal.audio.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
os.environ["ALSA_CONFIG_PATH"] = f"/usr/share/alsa/alsa.conf:{REPO / 'tests' / 'asound-test.conf'}"
os.environ.setdefault("AUDIO_CAPTURE_FILE", "/tmp/audio-capture-default.raw")


@pytest.fixture
def capture_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file the ALSA ``testout`` device writes what PortAudio played (raw samples)."""
    path = tmp_path / "capture.raw"
    monkeypatch.setenv("AUDIO_CAPTURE_FILE", str(path))
    return path


@pytest.fixture
def mock_factory() -> Iterator[object]:
    """gpiozero's own MockFactory as the default pin factory; restored afterwards."""
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory

    saved = Device.pin_factory
    factory = MockFactory()
    Device.pin_factory = factory
    try:
        yield factory
    finally:
        factory.reset()
        Device.pin_factory = saved


# A real Mosquitto configured by district_collector.admin.broker_config (see tests/mqtt_broker.py).
from mqtt_broker import mqtt_env  # noqa: E402,F401


@pytest.fixture
def stop_list() -> Iterator[list[object]]:
    """Things with ``stop()`` (links, collectors, ...) stopped at the end of a test, last first."""
    items: list[object] = []
    yield items
    for item in reversed(items):
        item.stop()  # type: ignore[attr-defined]


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Subprocesses killed (and reaped) if a test leaves them running, e.g. failing half-way."""
    items: list[subprocess.Popen[bytes]] = []
    yield items
    for proc in items:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


@pytest.fixture
def record_subprocess_runs(monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[list[str]]]:
    """Call it to start recording: from then on the argv of every ``subprocess.run`` (as
    strings) is appended to the list it returns; the commands still run. E.g. to prove a
    secret never reaches a command line."""

    def start() -> list[list[str]]:
        seen: list[list[str]] = []
        real_run = subprocess.run

        def spy(argv: list[str], *a: Any, **kw: Any) -> Any:
            seen.append([str(x) for x in argv])
            return real_run(argv, *a, **kw)

        monkeypatch.setattr(subprocess, "run", spy)
        return seen

    return start


# --- fuzz counts (tests/fuzzkit.py): one directory per run, shared with xdist workers ----


def pytest_configure(config: pytest.Config) -> None:
    if not os.environ.get("CR_FUZZ_COUNTS"):  # the controller; workers inherit it
        import tempfile

        os.environ["CR_FUZZ_COUNTS"] = tempfile.mkdtemp(prefix="cr-fuzz-")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    directory = Path(os.environ.get("CR_FUZZ_COUNTS", ""))
    if hasattr(terminalreporter.config, "workerinput") or not directory.is_dir():
        return
    files = list(directory.glob("*.json"))
    if not files:
        return
    from fuzzkit import format_counts, read_counts

    terminalreporter.section("fuzz targets: cases and outcomes")
    for line in format_counts(read_counts(directory)):
        terminalreporter.write_line(line)


# A real PostgreSQL per session, and the store tests' two backends (tests/pg_server.py, tests/store_backends.py).
from pg_server import pg_server, pg_url  # noqa: E402,F401
from store_backends import store_backend  # noqa: E402,F401
