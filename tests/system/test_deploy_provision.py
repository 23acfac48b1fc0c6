"""``radio-district provision``: the station's files and the registry edits (new stations, key
rotation, commune names, bench options). Broker credentials: test_deploy_provision_broker.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from provision_kit import file_mode, make_provision_district, new_jwk, provision

from district_collector.admin.provision import ProvisionError, ProvisionRequest, provision_station
from district_collector.config import load_district_config
from firmware_daemon.config import load_station_config
from radio_protocol.jose import (
    KeyRing,
    Signer,
    jwk_thumbprint,
    load_or_create_private_key,
    public_jwk,
    verify,
)
from radio_protocol.names import EVENT_TYP


@pytest.fixture
def district(tmp_path: Path) -> Path:
    return make_provision_district(tmp_path)


def test_provision_create_key_writes_complete_station_files(district: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert provision(district, "dak-pne-01", "--commune", "23338", "--name", "Xã Đăk Pne",
                     "--out", str(out), "--create-key", "--amp-pin", "27", "--active-low",
                     "--audio-device", "USB Audio") == 0
    assert file_mode(out / "station.key") == 0o600
    assert file_mode(out / "mqtt.password") == 0o600
    assert file_mode(out) == 0o700
    assert (out / "district-ca.crt").read_bytes() == (district.parent / "ca.crt").read_bytes()
    station = load_station_config(out / "station.yaml")
    assert (station.station.id, station.station.district, station.station.commune) == \
        ("dak-pne-01", "kon-ray", "23338")
    assert (station.amplifier.pin, station.amplifier.active_high, station.audio.device) == (27, False, "USB Audio")
    assert station.mqtt is not None and station.mqtt.host == "mqtt.kon-ray.example"
    assert station.mqtt.username == "dak-pne-01"
    assert station.mqtt.password_file == out / "mqtt.password"
    assert station.mqtt.tls is not None and station.mqtt.tls.ca == out / "district-ca.crt"
    district_key, _ = load_or_create_private_key(district.parent / "district.key")
    assert [dict(k) for k in station.district_keys] == [public_jwk(district_key.public_key())]

    config = load_district_config(district)
    entry = config.station("dak-pne-01")
    assert entry is not None and (entry.commune_code, entry.commune_name) == ("23338", "Xã Đăk Pne")
    station_key, _ = load_or_create_private_key(out / "station.key")
    assert list(entry.keys) == [public_jwk(station_key.public_key())]
    assert entry.mqtt_password_file is not None
    assert entry.mqtt_password_file.read_text() == (out / "mqtt.password").read_text()
    assert file_mode(entry.mqtt_password_file) == 0o600
    text = district.read_text(encoding="utf-8")
    assert "# the broker, as the stations reach it" in text and "# the first station" in text
    assert file_mode(district) == 0o640


def test_provision_registers_jwk_from_keygen_output(district: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    jwk = new_jwk()
    keygen_output = tmp_path / "keygen.txt"
    kid = jwk_thumbprint(jwk)
    keygen_output.write_text(json.dumps({**jwk, "kid": kid}) + "\nradio-station: key created\n")
    out = tmp_path / "out"
    assert provision(district, "dak-to-lung-01", "--commune", "23341", "--name", "Xã Đăk Tơ Lung",
                     "--out", str(out), "--station-jwk", str(keygen_output)) == 0
    printed = capsys.readouterr().out
    password = (out / "mqtt.password").read_text().strip()
    assert password and password not in printed  # secrets only with --print-password
    assert not (out / "station.key").exists()
    entry = load_district_config(district).station("dak-to-lung-01")
    assert entry is not None and list(entry.keys) == [jwk]
    assert kid in printed


def test_provision_key_rotation_keeps_old_key_verifying_old_evidence(district: Path, tmp_path: Path) -> None:
    old_key = Ed25519PrivateKey.generate()
    new_key = Ed25519PrivateKey.generate()
    old_event = Signer(old_key).sign({"v": 1, "type": "airing", "seq": 1}, EVENT_TYP)
    new_event = Signer(new_key).sign({"v": 1, "type": "airing", "seq": 2}, EVENT_TYP)
    base = ["dak-koi-02", "--commune", "23335", "--name", "Xã Đăk Kôi", "--out", str(tmp_path / "out")]
    assert provision(district, *base, "--station-jwk", json.dumps(public_jwk(old_key.public_key()))) == 0
    first_password = (tmp_path / "out" / "mqtt.password").read_text()
    assert provision(district, *base, "--station-jwk", json.dumps(public_jwk(new_key.public_key()))) == 0
    assert provision(district, *base, "--station-jwk", json.dumps(public_jwk(new_key.public_key()))) == 0

    entry = load_district_config(district).station("dak-koi-02")
    assert entry is not None
    assert list(entry.keys) == [public_jwk(old_key.public_key()), public_jwk(new_key.public_key())]
    ring = KeyRing.from_jwks(entry.keys)
    assert verify(old_event, ring, EVENT_TYP).payload["seq"] == 1
    assert verify(new_event, ring, EVENT_TYP).payload["seq"] == 2
    # a re-provisioned station gets a new broker password, the district copy follows it
    assert (tmp_path / "out" / "mqtt.password").read_text() != first_password
    assert entry.mqtt_password_file is not None
    assert entry.mqtt_password_file.read_text() == (tmp_path / "out" / "mqtt.password").read_text()
    assert district.read_text(encoding="utf-8").count("id: dak-koi-02") == 1


@pytest.mark.parametrize("password_line", ["", "    mqtt_password_file: null   # none yet\n"])
def test_provision_rotation_of_example_layout_keeps_comments(district: Path, tmp_path: Path,
                                                             password_line: str) -> None:
    text = district.read_text(encoding="utf-8").replace("media:\n", password_line + "media:\n", 1)
    district.write_text(text, encoding="utf-8")
    new = new_jwk()
    assert provision(district, "dak-koi-01", "--commune", "23335", "--name", "Xã Đăk Kôi",
                     "--out", str(tmp_path / "out"), "--station-jwk", json.dumps(new)) == 0
    text = district.read_text(encoding="utf-8")
    assert "# the first station" in text and not (district.parent / "district.yaml.bak").exists()
    entry = load_district_config(district).station("dak-koi-01")
    assert entry is not None and len(entry.keys) == 2 and entry.keys[1] == new
    assert entry.mqtt_password_file is not None and entry.mqtt_password_file.is_file()
    assert yaml.safe_load(text)["media"]["dir"] == "media"
    assert text.count("mqtt_password_file") == 1


def test_provision_flow_style_registry_rewritten_with_backup(tmp_path: Path) -> None:
    root = tmp_path / "d"
    root.mkdir()
    load_or_create_private_key(root / "district.key")
    path = root / "district.yaml"
    path.write_text(yaml.safe_dump({
        "district": {"id": "kon-ray", "name": "Huyện Kon Rẫy"}, "database": "db.sqlite3",
        "signing_key": "district.key", "mqtt": {"host": "mqtt.example", "port": 8883, "tls": None},
        "stations": [{"id": "a-1", "commune": {"code": "1", "name": "A"}, "keys": [new_jwk()]}],
    }, default_flow_style=True, allow_unicode=True))
    original = path.read_text()
    result = provision_station(path, ProvisionRequest("b-1", "2", "B", tmp_path / "out", create_key=True))
    assert result.registry == "station added"
    assert (root / "district.yaml.bak").read_text() == original
    config = load_district_config(path)
    assert [s.id for s in config.stations] == ["a-1", "b-1"]
    station = load_station_config(tmp_path / "out" / "station.yaml")
    assert station.mqtt is not None and station.mqtt.tls is not None and station.mqtt.tls.ca is None


def test_provision_needs_broker_host_when_collector_uses_loopback(district: Path, tmp_path: Path) -> None:
    district.write_text(district.read_text(encoding="utf-8").replace("mqtt.kon-ray.example", "localhost"),
                        encoding="utf-8")
    req = ProvisionRequest("dak-x", "1", "X", tmp_path / "out", create_key=True)
    with pytest.raises(ProvisionError, match="--broker-host"):
        provision_station(district, req)
    assert load_district_config(district).station("dak-x") is None
    result = provision_station(district, ProvisionRequest("dak-x", "1", "X", tmp_path / "out", create_key=True,
                                                          broker_host="mqtt.example", broker_port=18883))
    station = load_station_config(result.station_yaml)
    assert station.mqtt is not None and (station.mqtt.host, station.mqtt.port) == ("mqtt.example", 18883)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["dak-koi-01", "--commune", "99999", "--station-jwk", "NEW"], "registered for commune 23335"),
        (["dak-x", "--commune", "1", "--station-jwk", "KOI"], "already registered for station 'dak-koi-01'"),
        (["dak-x", "--commune", "1", "--station-jwk", "PRIVATE"], "PRIVATE key"),
        (["dak-x", "--commune", "1", "--station-jwk", '{"kty":"OKP","crv":"Ed25519","x":"abc"}'], "not an Ed25519"),
        (["dak-x", "--commune", "1", "--station-jwk", "/nonexistent/keygen.txt"], "cannot read"),
        (["Dak X", "--commune", "1", "--create-key"], "STATION_ID"),
        (["dak-x", "--commune", "12a", "--create-key"], "--commune"),
    ],
)
def test_provision_bad_input_changes_nothing(district: Path, tmp_path: Path, args: list[str], message: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    koi = load_district_config(district).stations[0].keys[0]
    private = {"kty": "OKP", "crv": "Ed25519", "x": new_jwk()["x"], "d": "AAAA"}
    subst = {"NEW": json.dumps(new_jwk()), "KOI": json.dumps(dict(koi)), "PRIVATE": json.dumps(private)}
    args = [subst.get(a, a) for a in args]
    before = district.read_bytes()
    assert provision(district, *args, "--name", "Xã X", "--out", str(tmp_path / "out")) == 1
    assert message in capsys.readouterr().err
    assert district.read_bytes() == before


def test_provision_bench_options_replace_hand_edits(district: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench"
    assert provision(district, "dak-pne-01", "--commune", "23338", "--name", "Xã Đăk Pne", "--out", str(out),
                     "--create-key", "--broker-host", "127.0.0.1", "--broker-port", "18830", "--plain-mqtt",
                     "--pin-factory", "mock", "--data-dir", ".") == 0
    station = load_station_config(out / "station.yaml")
    assert station.mqtt is not None and station.mqtt.tls is None
    assert (station.mqtt.host, station.mqtt.port) == ("127.0.0.1", 18830)
    assert station.gpio.pin_factory == "mock" and station.data_dir == out
    assert not (out / "district-ca.crt").exists()  # no TLS, no CA to carry
    production = tmp_path / "prod"
    assert provision(district, "dak-to-re-01", "--commune", "23344", "--name", "Xã Đăk Tờ Re",
                     "--out", str(production), "--create-key") == 0
    station = load_station_config(production / "station.yaml")
    assert station.mqtt is not None and station.mqtt.tls is not None and station.mqtt.tls.insecure is False
    assert station.gpio.pin_factory == "lgpio" and str(station.data_dir) == "/var/lib/commune-radio"


@pytest.mark.parametrize(("args", "message"), [
    (["--plain-mqtt"], "--plain-mqtt: only for a broker on this machine"),
    (["--plain-mqtt", "--broker-host", "10.0.0.5"], "password would cross the network in clear"),
    (["--pin-factory", "gpiod"], "invalid choice"),
])
def test_provision_bench_options_refused(district: Path, tmp_path: Path, args: list[str], message: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    before = district.read_bytes()
    argv = ["dak-x", "--commune", "1", "--name", "X", "--out", str(tmp_path / "o"), "--create-key", *args]
    if "invalid choice" in message:
        with pytest.raises(SystemExit):
            provision(district, *argv)
    else:
        assert provision(district, *argv) == 1
    assert message in capsys.readouterr().err
    assert district.read_bytes() == before and not (tmp_path / "o").exists()


def test_provision_refuses_another_name_for_a_registered_commune_code(
        district: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = district.read_bytes()
    argv = ["dak-koi-02", "--commune", "23335", "--name", "Xã Đăk Koi", "--create-key"]
    assert provision(district, *argv, "--out", str(tmp_path / "o")) == 1
    err = capsys.readouterr().err
    assert 'commune 23335 is registered as "Xã Đăk Kôi" (station dak-koi-01)' in err
    assert '--name "Xã Đăk Kôi"' in err and "--rename-commune" in err
    assert district.read_bytes() == before and not (tmp_path / "o").exists()
    # the registered spelling (also in another Unicode normalisation) is accepted as registered
    nfd = "Xa\u0303 \u0110a\u0306k Ko\u0302i"
    assert provision(district, "dak-koi-02", "--commune", "23335", "--name", nfd, "--create-key",
                     "--out", str(tmp_path / "a")) == 0
    names = {s.id: s.commune_name for s in load_district_config(district).stations}
    assert names == {"dak-koi-01": "Xã Đăk Kôi", "dak-koi-02": "Xã Đăk Kôi"}


def test_provision_rename_commune_renames_it_for_every_station(district: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert provision(district, "dak-koi-02", "--commune", "23335", "--name", "Xã Đăk Kôi", "--create-key",
                     "--out", str(tmp_path / "a")) == 0
    capsys.readouterr()
    assert provision(district, "dak-koi-03", "--commune", "23335", "--name", "Xã Đắk Kôi", "--create-key",
                     "--out", str(tmp_path / "b"), "--rename-commune") == 0
    assert 'commune 23335 renamed from "Xã Đăk Kôi"' in capsys.readouterr().out
    text = district.read_text(encoding="utf-8")
    assert "# the first station" in text and "Xã Đăk Kôi" not in text  # comments kept, no old name left
    names = {s.id: s.commune_name for s in load_district_config(district).stations}
    assert names == {"dak-koi-01": "Xã Đắk Kôi", "dak-koi-02": "Xã Đắk Kôi", "dak-koi-03": "Xã Đắk Kôi"}


def test_provision_plain_mqtt_fits_a_loopback_collector_host(district: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    district.write_text(district.read_text(encoding="utf-8").replace("mqtt.kon-ray.example", "127.0.0.1"),
                        encoding="utf-8")
    out = tmp_path / "bench"
    assert provision(district, "dak-pne-01", "--commune", "23338", "--name", "Xã Đăk Pne", "--out", str(out),
                     "--create-key", "--plain-mqtt", "--pin-factory", "mock", "--data-dir", ".") == 0
    station = load_station_config(out / "station.yaml")
    assert station.mqtt is not None and (station.mqtt.host, station.mqtt.tls) == ("127.0.0.1", None)
    # without --plain-mqtt the message says what to give for a station on this machine
    assert provision(district, "dak-x", "--commune", "1", "--name", "X", "--out", str(tmp_path / "o"),
                     "--create-key") == 1
    assert "--broker-host 127.0.0.1 --plain-mqtt" in capsys.readouterr().err


def test_provision_station_yaml_comment_names_its_own_directory(district: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench"
    assert provision(district, "dak-pne-01", "--commune", "23338", "--name", "Xã Đăk Pne", "--out", str(out),
                     "--create-key", "--data-dir", ".") == 0
    text = (out / "station.yaml").read_text(encoding="utf-8")
    comment = " ".join(line.lstrip("# ") for line in text.splitlines()[:6] if line.startswith("#"))
    assert f"resolved against the directory this file is in: written to {out.resolve()};" in comment
    assert "(/etc/commune-radio)" not in comment
    assert load_station_config(out / "station.yaml").data_dir == out
