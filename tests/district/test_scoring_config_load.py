"""District config loading for the report: a JSON-written config reads as its YAML twin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_scoring_support import StationSigner

from district_collector.config import load_district_config
from radio_protocol.configschema import load_yaml_file
from radio_protocol.errors import ConfigError
from radio_protocol.jose import jwk_thumbprint

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config" / "district.example.yaml"


def _data() -> dict[str, Any]:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    old, new = StationSigner("x"), StationSigner("y")
    data["stations"][0]["keys"] = [dict(old.jwk, use="sig"), new.jwk]  # an extra member, two keys
    return data


def test_scoring_config_json_file_loads_like_its_yaml(tmp_path: Path) -> None:
    data = _data()
    as_yaml, as_json = tmp_path / "district.yaml", tmp_path / "district.json"
    as_yaml.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    as_json.write_text("\ufeff\n " + json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    assert load_yaml_file(as_json) == load_yaml_file(as_yaml) == data
    a, b = load_district_config(as_yaml), load_district_config(as_json)
    assert a.stations == b.stations and a.district == b.district and a.ack == b.ack
    st = b.stations[0]
    assert st.kids == tuple(jwk_thumbprint(k) for k in data["stations"][0]["keys"])
    assert list(st.keyring.keys) == list(st.kids) and list(a.stations[0].keyring.keys) == list(st.kids)
    assert st.keys[0] == {"kty": "OKP", "crv": "Ed25519", "x": data["stations"][0]["keys"][0]["x"]}


@pytest.mark.parametrize(("text", "expected"), [
    ('{"a": 1e5, "b": [1, 2.5, true, null], "c": "Xã"}', {"a": 100000.0, "b": [1, 2.5, True, None], "c": "Xã"}),
    ("{a: 1, b: [x, y]}", {"a": 1, "b": ["x", "y"]}),               # a YAML flow mapping, not JSON
    ('{"a": NaN}', {"a": "NaN"}),                                   # not JSON: YAML reads it
    ('{"a": 1} # a comment', {"a": 1}),
    ('{"a": 1}\nb: 2', None),                                       # neither: the YAML error
])
def test_scoring_config_json_or_yaml_text(tmp_path: Path, text: str, expected: Any) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    if expected is None:
        with pytest.raises(ConfigError, match=r"c\.yaml.*invalid YAML"):
            load_yaml_file(path)
    else:
        assert load_yaml_file(path) == expected


def test_scoring_config_json_bad_station_key_still_named(tmp_path: Path) -> None:
    data = _data()
    data["stations"][1]["keys"] = [{"kty": "OKP", "crv": "Ed25519", "x": "not-a-key"}]
    path = tmp_path / "district.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"stations\[1\]\.keys\[0\]: not a public Ed25519 JWK"):
        load_district_config(path)
