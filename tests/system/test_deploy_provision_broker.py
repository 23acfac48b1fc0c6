"""``radio-district provision`` and the broker: a provisioned station logs in (and only
as itself) after a reload, a refused provision leaves every credential as it was, the
password never shows on a command line, and a rotated key is accepted by the collector."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from mqtt_broker import BrokerEnv, free_port, make_airing_payload, make_district
from paho.mqtt.enums import CallbackAPIVersion
from provision_kit import make_provision_district, new_jwk, provision

from district_collector.cli import main as district_main
from district_collector.config import load_district_config
from district_collector.intake.ingest import Ingestor
from district_collector.store.sqlite import SqliteStore
from firmware_daemon.config import load_station_config
from radio_protocol.jose import (
    Signer,
    canonical_json,
    jwk_thumbprint,
    public_jwk,
    sha256_hex,
    verify,
)
from radio_protocol.names import EVENT_TYP


@pytest.fixture
def district(tmp_path: Path) -> Path:
    return make_provision_district(tmp_path)


def test_provision_broker_dir_lets_new_station_in_with_its_acl(mqtt_env: BrokerEnv, tmp_path: Path) -> None:
    """Provision against a live broker: after a SIGHUP the station logs in and is confined."""
    out = tmp_path / "out"
    assert district_main(["-c", str(mqtt_env.district_config), "provision", "dak-to-re-01",
                          "--commune", "23344", "--name", "Xã Đăk Tờ Re", "--out", str(out),
                          "--create-key", "--broker-host", "127.0.0.1",
                          "--broker-dir", str(mqtt_env.broker_dir)]) == 0
    assert mqtt_env.broker.proc is not None
    mqtt_env.broker.proc.send_signal(signal.SIGHUP)  # systemctl reload mosquitto
    time.sleep(0.3)
    station = load_station_config(out / "station.yaml")
    assert station.mqtt is not None and station.mqtt.password_file is not None
    password = station.mqtt.password_file.read_text().strip()

    collector = mqtt_env.client("collector")
    got: list[str] = []
    collector.on_message = lambda _c, _u, msg: got.append(msg.topic)
    collector.subscribe("cr/v1/kon-ray/station/+/event", qos=1)
    time.sleep(0.2)

    connected = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="dak-to-re-01", protocol=mqtt.MQTTv5)
    client.username_pw_set("dak-to-re-01", password)
    client.on_connect = lambda _c, _u, _f, rc, _p: None if rc.is_failure else connected.set()
    client.connect("127.0.0.1", mqtt_env.broker.port)
    client.loop_start()
    try:
        assert connected.wait(5), "the provisioned station could not log in"
        client.publish("cr/v1/kon-ray/station/dak-koi-01/event", b"forged", qos=1).wait_for_publish(5)
        client.publish("cr/v1/kon-ray/station/dak-to-re-01/event", b"own", qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 5
        while "cr/v1/kon-ray/station/dak-to-re-01/event" not in got and time.monotonic() < deadline:
            time.sleep(0.02)
        assert got == ["cr/v1/kon-ray/station/dak-to-re-01/event"]
    finally:
        client.disconnect()
        client.loop_stop()

    bad = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"x-{free_port()}", protocol=mqtt.MQTTv5)
    bad.username_pw_set("dak-to-re-01", "wrong-password")
    refused = threading.Event()
    bad.on_connect = lambda _c, _u, _f, rc, _p: refused.set() if rc.is_failure else None
    bad.connect("127.0.0.1", mqtt_env.broker.port)
    bad.loop_start()
    try:
        assert refused.wait(5)
    finally:
        bad.loop_stop()


def _broker_dir(district: Path) -> Path:
    broker = district.parent / "broker"
    assert district_main(["-c", str(district), "broker-config", str(broker), "--no-tls",
                          "--plain-port", "1883", "--persistence-dir", str(broker / "data")]) == 0
    return broker


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(("args", "message"), [
    (["collector", "--commune", "1", "--create-key"], "collector's MQTT username"),
    (["dak-koi-01", "--commune", "99999", "--create-key"], "registered for commune 23335"),
    (["dak-x", "--commune", "1", "--station-jwk", "KOI"], "already registered for station 'dak-koi-01'"),
])
def test_provision_refused_leaves_broker_credentials_and_out_dir_untouched(
        district: Path, tmp_path: Path, args: list[str], message: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A refusal after a typo must not change a live credential: broker-config would later
    copy it into passwd and lock the real station (or the collector) out."""
    broker = _broker_dir(district)
    assert provision(district, "dak-koi-01", "--commune", "23335", "--name", "Xã Đăk Kôi", "--out",
                     str(tmp_path / "koi"), "--station-jwk", json.dumps(new_jwk()), "--broker-dir", str(broker)) == 0
    koi = load_district_config(district).stations[0].keys[0]
    args = [json.dumps(dict(koi)) if a == "KOI" else a for a in args]
    before = _snapshot(district.parent)
    capsys.readouterr()
    out = tmp_path / "out"
    assert provision(district, *args, "--name", "Xã X", "--out", str(out), "--broker-dir", str(broker)) == 1
    assert message in capsys.readouterr().err
    assert _snapshot(district.parent) == before
    assert not out.exists()


def test_provision_password_never_on_a_command_line(
        district: Path, tmp_path: Path, record_subprocess_runs: Callable[[], list[list[str]]]) -> None:
    broker = _broker_dir(district)
    seen = record_subprocess_runs()
    out = tmp_path / "out"
    assert provision(district, "dak-pne-01", "--commune", "23338", "--name", "Xã Đăk Pne", "--out", str(out),
                     "--create-key", "--broker-dir", str(broker)) == 0
    password = (out / "mqtt.password").read_text().strip()
    assert any("mosquitto_passwd" in argv[0] for argv in seen)
    assert not any(password in arg for argv in seen for arg in argv)
    lines = (broker / "passwd").read_text().splitlines()
    (line,) = [x for x in lines if x.startswith("dak-pne-01:")]
    assert line.startswith("dak-pne-01:$7$") and password not in (broker / "passwd").read_text()
    assert {x.split(":")[0] for x in lines} == {"dak-koi-01", "dak-pne-01"}  # the stations' logins
    assert [x.split(":")[0] for x in (broker / "collector.passwd").read_text().splitlines()] == ["collector"]
    assert not list(broker.glob(".passwd-new-*"))


def test_provision_rotation_then_collector_ingest_accepts_new_key_keeps_old(tmp_path: Path) -> None:
    """Key rotation end to end through the collector: old-key evidence stays valid, events
    signed by the new key are accepted once provision registered it, a stranger's are not."""
    kit = make_district(tmp_path)
    station = "dak-koi-01"
    old_signer = kit.stations[station].signer
    new_key = Ed25519PrivateKey.generate()

    def event(signer: Signer, seq: int, prev: str | None) -> tuple[bytes, str]:
        body = canonical_json(make_airing_payload(station, seq, prev, commune="23335"))
        return signer.sign(body, EVENT_TYP), sha256_hex(body)

    topic = f"cr/v1/kon-ray/station/{station}/event"
    now = datetime(2024, 3, 5, tzinfo=UTC)
    e1, h1 = event(old_signer, 1, None)
    e2, h2 = event(Signer(new_key), 2, h1)
    store = SqliteStore(kit.config.database)
    before = Ingestor(kit.config, store).ingest([(topic, e1, "test"), (topic, e2, "test")], now)
    assert (before.counts["accepted"], before.counts["rejected"]) == (1, 1)  # new key not registered yet

    assert district_main(["-c", str(kit.district_config), "provision", station, "--commune", "23335",
                          "--name", "Xã Đăk Kôi", "--out", str(tmp_path / "out"), "--broker-host", "127.0.0.1",
                          "--station-jwk", json.dumps(public_jwk(new_key.public_key()))]) == 0
    config = load_district_config(kit.district_config)  # the collector restarts with the new registry
    e3, _ = event(old_signer, 3, h2)  # left in the old SD card's outbox, delivered late
    stranger, _ = event(Signer(Ed25519PrivateKey.generate()), 4, None)
    batch = [(topic, e2, "test"), (topic, e3, "test"), (topic, stranger, "test")]
    after = Ingestor(config, store).ingest(batch, now)
    assert (after.counts["accepted"], after.counts["rejected"]) == (2, 1)
    rows = list(store.iter_events(station))
    new_kid = jwk_thumbprint(public_jwk(new_key.public_key()))
    assert [(r.seq, r.kid) for r in rows] == [(1, old_signer.kid), (2, new_kid), (3, old_signer.kid)]
    entry = config.station(station)
    assert entry is not None
    ring = entry.keyring
    assert [verify(r.jws, ring, EVENT_TYP).payload["seq"] for r in rows] == [1, 2, 3]
    summary = store.seq_summary(station)
    assert summary.through == 3 and not summary.gaps and not summary.chain_breaks
