"""A station's optional ``location: {lat, lon}`` (the console's map): read, bounded, keyed errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from district_collector.config import load_district_config
from radio_protocol.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "district.example.yaml"


def _load(tmp_path: Path, location: Any) -> Any:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["stations"][0]["location"] = location
    path = tmp_path / "district.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_district_config(path)


def test_location_read_when_given(tmp_path: Path) -> None:
    config = _load(tmp_path, {"lat": 14.55, "lon": 108.1})
    assert config.stations[0].location == (14.55, 108.1)
    assert config.stations[1].location is None


@pytest.mark.parametrize("value, key", [
    ({"lat": 95, "lon": 108}, "stations[0].location.lat"),
    ({"lat": 14, "lon": -181}, "stations[0].location.lon"),
    ({"lat": "north", "lon": 108}, "stations[0].location.lat"),
    ({"lat": 14}, "stations[0].location.lon"),
    ({"lat": 14, "lon": 108, "alt": 3}, "stations[0].location.alt"),
    ([14, 108], "stations[0].location"),
])
def test_location_bad_values_name_their_key(tmp_path: Path, value: Any, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, value)
    assert any(key in problem for problem in info.value.problems), info.value.problems
