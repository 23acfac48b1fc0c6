"""``radio-station check`` finds an audio device that does not exist before any airing
would be attempted (and recorded as failed), with the devices PortAudio does see."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_testkit import run, write_config


def test_check_names_an_audio_device_that_does_not_exist(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, device="no-such-card")
    assert run(config, "check") == 1
    out = capsys.readouterr().out
    assert f"{config}: audio.device: " in out and "no output device named 'no-such-card'" in out
    assert "'testout'" in out  # what PortAudio does see, through tests/asound-test.conf
    assert not (tmp_path / "data" / "outbox.sqlite").exists()  # nothing aired, nothing recorded


def test_check_accepts_an_audio_device_portaudio_sees(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, device="testout")
    assert run(config, "check") == 0
    assert capsys.readouterr().out.startswith(f"OK: {config}")
