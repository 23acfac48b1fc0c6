"""Station groups (``groups:`` in district.yaml): checked with file, line and key; usable in
every station list (catalogue ``stations``, ``schedule publish --stations``, the Excel column)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from catalogue_files_kit import STATIONS, YAML, cli, district, media, published

from district_collector.config import load_district_config
from district_collector.registry import Registry
from district_collector.station_groups import UnknownStationError
from radio_protocol.errors import ConfigError


@pytest.mark.parametrize(("groups", "key", "words"), [
    ({"bac": ["dak-koi-01", "dak-nowhere"]}, "groups.bac[1]", "'dak-nowhere' is not a registered station"),
    ({"dak-pne-01": ["dak-koi-01"]}, "groups.dak-pne-01", "is already a station id"),
    ({"bac": []}, "groups.bac", "must be a non-empty list"),
    ({"bac": ["dak-koi-01"], "nam": ["bac"]}, "groups.nam[0]", "(groups cannot contain groups)"),
    ({"Bắc": ["dak-koi-01"]}, "groups.Bắc", "a group name must be like a station id"),
])
def test_station_groups_config_errors_name_file_line_and_key(tmp_path: Path, groups: dict[str, list[str]],
                                                              key: str, words: str) -> None:
    kit = district(tmp_path)
    data = yaml.safe_load(kit.district_config.read_text(encoding="utf-8"))
    data["groups"] = groups
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    kit.district_config.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_district_config(kit.district_config)
    assert len(caught.value.problems) == 1, caught.value.problems
    problem = caught.value.problems[0]
    assert problem.startswith(f"{kit.district_config}: {key}: "), problem
    assert words in problem
    line = next(i for i, text_line in enumerate(text.splitlines(), start=1)
                if text_line.strip().startswith(key.split(".")[1].split("[")[0] + ":"))
    assert f"(line {line})" in problem or f"(line {line + 1})" in problem or f"(line {line + 2})" in problem


def test_station_groups_expand_in_order_without_repeats(tmp_path: Path) -> None:
    config = district(tmp_path).config
    assert config.groups == {"bac": ("dak-koi-01", "dak-ruong-01")}
    assert config.expand_stations(["dak-ruong-01", "bac", " "]) == ["dak-ruong-01", "dak-koi-01"]
    assert config.expand_stations(["tất cả"]) == list(STATIONS)
    registry = Registry.from_config(config)
    assert registry.expand_stations(["bac", "dak-pne-01"]) == ["dak-koi-01", "dak-ruong-01", "dak-pne-01"]
    with pytest.raises(UnknownStationError) as caught:
        registry.expand_stations(["nam", "bac", "x"])
    assert caught.value.names == ("nam", "x")


def test_station_groups_in_publish_stations_and_catalogue(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    media(tmp_path)
    path = tmp_path / "danh-muc.yaml"
    path.write_text(YAML, encoding="utf-8")
    kit = district(tmp_path / "d")
    assert cli(kit, "schedule", "publish", "--no-send", "--stations", "bac", str(path)) == 0
    assert sorted(published(kit)) == ["dak-koi-01", "dak-ruong-01"]
    assert cli(kit, "schedule", "publish", "--no-send", "--stations", "nam", str(path)) == 1
    assert "--stations: station(s) nam not registered" in capsys.readouterr().err
    path.write_text(YAML.replace("month: 2027-01", "month: 2027-01\nstations: [bac]"), encoding="utf-8")
    other = district(tmp_path / "d2")
    assert cli(other, "schedule", "publish", "--no-send", str(path)) == 0
    assert sorted(published(other)) == ["dak-koi-01", "dak-ruong-01"]
    path.write_text(YAML.replace("stations: [dak-pne-01]", "stations: [nam]"), encoding="utf-8")
    assert cli(other, "schedule", "publish", "--no-send", str(path)) == 1
    assert f"{path}:12: slots[2].stations: station(s) nam not registered" in capsys.readouterr().err
