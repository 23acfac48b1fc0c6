"""District config: the example loads; every problem is reported at once, naming its key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from district_collector.config import load_district_config
from radio_protocol.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config" / "district.example.yaml"
GOOD_X = "zWdqAL7TJDCkcQ41oquZDucBDlU9j-WhUVlL6P0e64A"


def _base() -> dict[str, Any]:
    return yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))


def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "district.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_config_example_loads_every_key() -> None:
    c = load_district_config(EXAMPLE)
    assert c.district.id == "kon-ray" and c.district.name == "Huyện Kon Rẫy"
    assert c.mqtt is not None and c.mqtt.client_id == "collector-kon-ray"
    # the collector's own listener, the stations' TLS port (broker-config writes both)
    assert (c.mqtt.host, c.mqtt.port, c.mqtt.station_port) == ("localhost", 8884, 8883)
    assert c.mqtt.tls is not None and c.mqtt.tls.ca == Path("/etc/commune-radio/district-ca.crt")
    assert [s.id for s in c.stations] == ["dak-koi-01", "dak-ruong-01", "kon-ray-huyen"]
    assert c.station("dak-koi-01") is not None and c.station("dak-koi-01").commune_name == "Xã Đăk Kôi"  # type: ignore[union-attr]
    assert c.station("kon-ray-huyen").level == "district"  # type: ignore[union-attr]
    assert c.ack.max_batch == 500
    assert c.media is not None and c.media.base_url.startswith("https://")


def test_config_relative_paths_follow_the_file(tmp_path: Path) -> None:
    data = _base()
    data["database"] = "db/collector.sqlite3"
    data["mqtt"]["tls"] = None
    c = load_district_config(_write(tmp_path, data))
    assert c.database == tmp_path / "db" / "collector.sqlite3"
    assert c.mqtt is not None and c.mqtt.tls is None


def _mutate(path: str, value: Any) -> Any:
    def apply(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        if value is _DELETE:
            del node[last]
        elif last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value
    return apply


_DELETE = object()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_mutate("district.id", "Kon Ray"), "district.id"),
        (_mutate("district.timezone", "Mars/Olympus"), "district.timezone"),
        (_mutate("district.nmae", "x"), "did you mean 'name'"),
        (_mutate("database", _DELETE), "database: missing"),
        (_mutate("mqtt.port", 70000), "mqtt.port"),
        (_mutate("mqtt.tls.insecure", "yes"), "mqtt.tls.insecure"),
        (_mutate("stations.1.id", "dak-koi-01"), "duplicate station id 'dak-koi-01'"),
        (_mutate("stations.0.keys", [{"kty": "OKP", "crv": "Ed25519", "x": "short"}]), "stations[0].keys[0]"),
        (_mutate("stations.0.keys", [{"kty": "RSA", "n": "x", "e": "AQAB"}]), "stations[0].keys[0]"),
        (_mutate("stations.0.keys", [{"kty": "OKP", "crv": "Ed25519", "x": GOOD_X, "d": GOOD_X}]),
         "private key"),
        (_mutate("stations.0.keys", []), "stations[0].keys: needs at least one"),
        (_mutate("stations.0.level", "province"), "stations[0].level"),
        (_mutate("stations.0.commune", {"code": "K23", "name": "x"}), "stations[0].commune.code"),
        (_mutate("stations.0.id", "collector"), "collector's MQTT username"),
        (_mutate("stations.1.keys", [{"kty": "OKP", "crv": "Ed25519", "x": GOOD_X}]),
         "also registered for station 'dak-koi-01'"),
        (_mutate("ack.max_batch", 0), "ack.max_batch"),
        (_mutate("media.base_url", "ftp://x"), "media.base_url"),
    ],
)
def test_config_bad_value_names_the_key(tmp_path: Path, change: Any, expected: str) -> None:
    data = _base()
    change(data)
    with pytest.raises(ConfigError) as err:
        load_district_config(_write(tmp_path, data))
    assert any(expected in p for p in err.value.problems), err.value.problems


def test_config_reports_every_problem_at_once(tmp_path: Path) -> None:
    data = _base()
    data["district"]["id"] = "BAD ID"
    data["mqtt"]["port"] = 0
    data["stations"][2]["id"] = "dak-koi-01"
    with pytest.raises(ConfigError) as err:
        load_district_config(_write(tmp_path, data))
    text = "\n".join(err.value.problems)
    assert "district.id" in text and "mqtt.port" in text and "stations[2].id" in text
    assert all(p.startswith(str(tmp_path)) for p in err.value.problems)
