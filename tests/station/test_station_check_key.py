"""`radio-station check` when the provisioned key sits next to station.yaml, not in data_dir."""
from __future__ import annotations

from pathlib import Path

import pytest
from test_link_support import minimal_station_yaml

from firmware_daemon.cli import main
from radio_protocol.jose import load_or_create_private_key


def test_check_points_at_provisioned_key_not_in_data_dir(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    config = minimal_station_yaml(tmp_path, key=False, amplifier={"pin": 17})
    load_or_create_private_key(tmp_path / "station.key")  # what provision --create-key writes
    assert main(["-c", str(config), "check"]) == 0
    out = capsys.readouterr().out
    assert f"install the provisioned {tmp_path / 'station.key'}" in out
    assert str(tmp_path / "data" / "station.key") in out
    assert not (tmp_path / "data" / "station.key").exists()  # check creates nothing


def test_check_without_any_key_says_run_keygen(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = minimal_station_yaml(tmp_path, key=False, amplifier={"pin": 17})
    assert main(["-c", str(config), "check"]) == 0
    assert "no key yet (run keygen)" in capsys.readouterr().out
