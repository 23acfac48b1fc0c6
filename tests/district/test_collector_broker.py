"""broker-config output and the ACL it gives, on a real Mosquitto (plain and TLS)."""

from __future__ import annotations

import dataclasses
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from mqtt_broker import BrokerEnv, make_district, make_env
from waiting import wait_until

from district_collector.admin.broker_config import (
    DEFAULT_PERSISTENCE_DIR,
    BrokerOptions,
    acl_text,
    generate_broker_config,
)
from district_collector.cli import main as district_main
from district_collector.config import TlsConfig
from district_collector.intake.service import CollectorService
from district_collector.store.sqlite import SqliteStore

KOI = "dak-koi-01"
RUONG = "dak-ruong-01"


def _t(station: str, kind: str) -> str:
    return f"cr/v1/kon-ray/station/{station}/{kind}"


class Inbox:
    """Collects (topic, payload) from a paho client."""

    def __init__(self, client: mqtt.Client) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.granted: list[int] = []
        self._lock = threading.Lock()
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload)))

    def _on_subscribe(self, client: mqtt.Client, userdata: object, mid: int, codes: list[Any],
                      props: Any) -> None:
        self.granted.extend(int(getattr(c, "value", c)) for c in codes)

    def topics(self) -> list[str]:
        with self._lock:
            return [t for t, _ in self.messages]


def test_broker_config_writes_acl_exactly_as_protocol(tmp_path: Path) -> None:
    kit = make_district(tmp_path)
    text = acl_text(kit.config)
    blocks = [b.strip().splitlines() for b in text.split("\n\n")[1:] if b.strip()]
    assert blocks[0] == ["user collector",
                         "topic read cr/v1/kon-ray/station/+/event",
                         "topic read cr/v1/kon-ray/station/+/status",
                         "topic write cr/v1/kon-ray/station/+/ack",
                         "topic write cr/v1/kon-ray/station/+/schedule"]
    assert blocks[1] == [f"user {KOI}", f"topic write {_t(KOI, 'event')}", f"topic write {_t(KOI, 'status')}",
                         f"topic read {_t(KOI, 'schedule')}", f"topic read {_t(KOI, 'ack')}"]
    assert "pattern" not in text and len(blocks) == 3


def test_broker_config_credentials_private_and_stable(tmp_path: Path) -> None:
    kit = make_district(tmp_path)
    out = tmp_path / "broker"
    files = generate_broker_config(kit.config, out, BrokerOptions(tls_port=8883, plain_port=1883))
    assert set(files.credentials) == {"collector", KOI, RUONG}
    for path in files.credentials.values():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    users = [line.split(":")[0] for line in files.passwd.read_text().splitlines()]
    collector_users = [line.split(":")[0] for line in files.collector_passwd.read_text().splitlines()]
    # the stations' listeners take the stations' logins, the collector's listener the collector's
    assert sorted(users + collector_users) == ["collector", KOI, RUONG]
    assert sorted(users) == [KOI, RUONG] and collector_users == ["collector"]
    assert files.credentials[KOI].read_text().strip() not in files.passwd.read_text()  # hashed
    conf = files.conf.read_text()
    for line in ("allow_anonymous false", "persistence true", "max_queued_messages 100000",
                 "max_packet_size 1048576",
                 "max_inflight_messages 0", "listener 8883", "listener 1883 127.0.0.1",
                 f"certfile {out.resolve() / 'tls' / 'server.crt'}"):
        assert line in conf.splitlines()
    before = {u: p.read_text() for u, p in files.credentials.items()}
    again = generate_broker_config(kit.config, out, BrokerOptions(tls_port=8883))
    assert {u: p.read_text() for u, p in again.credentials.items()} == before


def test_broker_config_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kit = make_district(tmp_path)
    rc = district_main(["-c", str(kit.district_config), "broker-config", str(tmp_path / "out"),
                        "--port", "18883", "--plain-port", "11883",
                        "--persistence-dir", str(tmp_path / "state" / "mosquitto")])
    assert rc == 0
    conf = (tmp_path / "out" / "mosquitto.conf").read_text().splitlines()
    assert "listener 18883" in conf
    assert f"persistence_location {tmp_path.resolve() / 'state' / 'mosquitto'}/" in conf
    assert (tmp_path / "state" / "mosquitto").is_dir() and not (tmp_path / "out" / "data").exists()
    assert "credential dak-koi-01:" in capsys.readouterr().out


def test_broker_config_persistence_defaults_to_var_lib_not_the_config_dir() -> None:
    """Mosquitto's database is state: the command puts it under /var/lib unless told otherwise."""
    from district_collector.cli import COMMAND_MODULES
    from radio_protocol.cli_base import build_parser

    args = build_parser("radio-district", "", COMMAND_MODULES).parse_args(["broker-config", "/etc/x"])
    assert args.persistence_dir == str(DEFAULT_PERSISTENCE_DIR) == "/var/lib/mosquitto/commune-radio"


def test_broker_config_library_keeps_persistence_beside_a_scratch_config(tmp_path: Path) -> None:
    kit = make_district(tmp_path)
    files = generate_broker_config(kit.config, tmp_path / "out", BrokerOptions(plain_port=1883, tls=False))
    assert files.data_dir == (tmp_path / "out" / "data").resolve() and files.data_dir.is_dir()
    assert f"persistence_location {files.data_dir}/" in files.conf.read_text().splitlines()


def test_broker_config_uncreatable_persistence_dir_is_a_clear_error(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    kit = make_district(tmp_path)
    (tmp_path / "a-file").write_text("")
    rc = district_main(["-c", str(kit.district_config), "broker-config", str(tmp_path / "out"),
                        "--plain-port", "11883", "--persistence-dir", str(tmp_path / "a-file" / "data")])
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err
    assert f"persistence directory {tmp_path / 'a-file' / 'data'}: cannot create it" in err


def test_acl_station_cannot_publish_as_another_station(mqtt_env: BrokerEnv) -> None:
    watcher = mqtt_env.client("collector")
    inbox = Inbox(watcher)
    watcher.subscribe([(_t("+", "event"), 1), (_t("+", "status"), 1)])
    wait_until(lambda: len(inbox.granted) == 2, 5, "both subscriptions granted")
    ruong = mqtt_env.client(RUONG)
    jws, _ = mqtt_env.event(KOI, 1, None)
    ruong.publish(_t(KOI, "event"), jws, qos=1).wait_for_publish(5)
    ruong.publish(_t(KOI, "status"), b"{}", qos=1).wait_for_publish(5)
    ruong.publish(_t(RUONG, "event"), b"control", qos=1).wait_for_publish(5)
    wait_until(lambda: _t(RUONG, "event") in inbox.topics(), 5, "the station's own event")
    time.sleep(0.2)
    assert inbox.topics() == [_t(RUONG, "event")]


def test_acl_station_reads_only_its_own_schedule_and_ack(mqtt_env: BrokerEnv) -> None:
    collector = mqtt_env.client("collector")
    for station in (KOI, RUONG):
        for kind in ("schedule", "ack"):
            collector.publish(_t(station, kind), f"{station}-{kind}".encode(), qos=1, retain=True).wait_for_publish(5)
    ruong = mqtt_env.client(RUONG)
    inbox = Inbox(ruong)
    ruong.subscribe([(_t(KOI, "schedule"), 1), (_t(KOI, "ack"), 1), (_t("+", "schedule"), 1),
                     (_t(RUONG, "schedule"), 1), (_t(RUONG, "ack"), 1)])
    wait_until(lambda: {t for t in inbox.topics()} == {_t(RUONG, "schedule"), _t(RUONG, "ack")}, 5,
               "the station's own schedule and ack")
    time.sleep(0.2)
    assert all(RUONG in t for t in inbox.topics())
    assert {p for _, p in inbox.messages} == {b"dak-ruong-01-schedule", b"dak-ruong-01-ack"}


def test_acl_station_cannot_forge_its_own_ack_or_schedule(mqtt_env: BrokerEnv) -> None:
    koi = mqtt_env.client(KOI)
    inbox = Inbox(koi)
    koi.subscribe([(_t(KOI, "ack"), 1), (_t(KOI, "schedule"), 1)])
    wait_until(lambda: len(inbox.granted) == 2, 5, "both subscriptions granted")
    koi.publish(_t(KOI, "ack"), b"forged", qos=1, retain=True).wait_for_publish(5)
    koi.publish(_t(KOI, "schedule"), b"forged", qos=1, retain=True).wait_for_publish(5)
    time.sleep(0.3)
    assert inbox.messages == []


def test_acl_wrong_password_is_refused(mqtt_env: BrokerEnv) -> None:
    with pytest.raises(AssertionError, match="could not connect"):
        mqtt_env.client(KOI, password="not-the-password", timeout_s=1.0)


def test_collector_over_tls_stores_events(tmp_path: Path) -> None:
    mqtt_env = make_env(tmp_path / "mqtt", collector_tls=True)  # the collector's listener with TLS
    assert mqtt_env.config.mqtt is not None
    assert mqtt_env.config.mqtt.port == mqtt_env.broker.collector_port
    mqtt_cfg = dataclasses.replace(mqtt_env.config.mqtt, host="localhost",
                                   tls=TlsConfig(ca=mqtt_env.broker.ca, insecure=False))
    config = dataclasses.replace(mqtt_env.config, mqtt=mqtt_cfg)
    service = CollectorService(config, mqtt_env.district_signer)
    service.start()
    try:
        assert service.connected.wait(5)
        koi = mqtt_env.client(KOI, tls=True)
        for jws in mqtt_env.chain(KOI, 5):
            koi.publish(_t(KOI, "event"), jws, qos=1)
        with SqliteStore(config.database) as store:
            wait_until(lambda: store.count_events(KOI) == 5, 5, "5 events stored over TLS")
    finally:
        service.stop()
        mqtt_env.close()


def test_broker_config_reuses_a_stations_own_password_file(tmp_path: Path) -> None:
    kit = make_district(tmp_path)
    own = tmp_path / "koi.password"
    own.write_text("given-by-the-commune\n")
    config = dataclasses.replace(kit.config, stations=tuple(
        dataclasses.replace(s, mqtt_password_file=own) if s.id == KOI else s for s in kit.config.stations))
    files = generate_broker_config(config, tmp_path / "out", BrokerOptions(plain_port=1883, tls=False))
    assert files.credentials[KOI].read_text() == "given-by-the-commune\n"
    assert "listener 1883 127.0.0.1" in files.conf.read_text() and "certfile" not in files.conf.read_text()


def test_run_without_district_key_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kit = make_district(tmp_path)
    kit.district_key.unlink()
    assert district_main(["-c", str(kit.district_config), "run"]) == 1
    assert "run keygen" in capsys.readouterr().err


def test_broker_refuses_oversized_packets_from_a_station(mqtt_env: BrokerEnv) -> None:
    watcher = mqtt_env.client("collector")
    inbox = Inbox(watcher)
    watcher.subscribe([(_t("+", "event"), 1)])
    wait_until(lambda: len(inbox.granted) == 1, 5, "the subscription granted")
    koi = mqtt_env.client(KOI)
    try:
        koi.publish(_t(KOI, "event"), b"x" * (2 * 1024 * 1024), qos=1).wait_for_publish(3)
    except (RuntimeError, ValueError):
        pass  # paho may refuse it itself, having read the broker's Maximum Packet Size
    ruong = mqtt_env.client(RUONG)
    ruong.publish(_t(RUONG, "event"), b"small", qos=1).wait_for_publish(5)
    wait_until(lambda: _t(RUONG, "event") in inbox.topics(), 5, "the small event")
    time.sleep(0.2)
    assert [p for _, p in inbox.messages] == [b"small"]


def test_broker_config_passwords_never_on_a_command_line(
        tmp_path: Path, record_subprocess_runs: Callable[[], list[list[str]]]) -> None:
    kit = make_district(tmp_path)
    seen = record_subprocess_runs()
    out = tmp_path / "broker"
    files = generate_broker_config(kit.config, out, BrokerOptions(tls_port=8883))
    passwords = {u: p.read_text().strip() for u, p in files.credentials.items()}
    assert any("mosquitto_passwd" in argv[0] for argv in seen)
    assert not any(pw in arg for argv in seen for arg in argv for pw in passwords.values())
    passwd = files.passwd.read_text() + files.collector_passwd.read_text()
    assert sorted(line.split(":")[0] for line in passwd.splitlines()) == sorted(passwords)
    assert all(line.split(":", 1)[1].startswith("$7$") for line in passwd.splitlines())
    assert not any(pw in passwd for pw in passwords.values())
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []
