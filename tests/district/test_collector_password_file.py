"""The collector's ``mqtt.password_file``: an unreadable one is named together with the
district config that points at it (as the station's message does)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from district_collector.config import load_district_config
from radio_protocol.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "district.example.yaml"


def test_password_file_unreadable_names_both_files(tmp_path: Path) -> None:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["mqtt"]["password_file"] = "credentials/collector.password"
    config_file = tmp_path / "district.yaml"
    config_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    mqtt = load_district_config(config_file).mqtt
    assert mqtt is not None
    with pytest.raises(ConfigError) as info:
        mqtt.password()
    assert info.value.problems == [
        f"{config_file}: mqtt.password_file: cannot read {tmp_path / 'credentials' / 'collector.password'}: "
        "No such file or directory"]
    (tmp_path / "credentials").mkdir()
    (tmp_path / "credentials" / "collector.password").write_text("s3cret\n", encoding="utf-8")
    assert mqtt.password() == "s3cret"
