"""No login takes another's client id or session (broker-config's listeners, real Mosquitto).

The stations' listeners set ``use_username_as_clientid``: a station's login connecting with
another station's id or a collector id is renamed to its own id. The collector logs in on its
own listener, where its processes keep their ids (``collector-kon-ray``, ``...-schedule``)
and its persistent session; a station's login is refused there.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from mqtt_broker import BrokerEnv, free_port, make_district
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from provision_kit import make_provision_district, provision
from waiting import wait_until

from district_collector.admin.broker_config import (
    BrokerConfigError,
    BrokerOptions,
    generate_broker_config,
)
from district_collector.intake.service import CollectorService
from district_collector.registry import RegisteredStation
from district_collector.store.sqlite import SqliteStore
from radio_protocol.jose import KeyRing, verify
from radio_protocol.names import ACK_TYP

KOI = "dak-koi-01"
RUONG = "dak-ruong-01"
COLLECTOR_IDS = ("collector-kon-ray", "collector-kon-ray-schedule")


def _t(station: str, kind: str) -> str:
    return f"cr/v1/kon-ray/station/{station}/{kind}"


def _connect(env: BrokerEnv, user: str, client_id: str, port: int, *, expiry_s: int = 0,
             clean_start: bool = True) -> tuple[mqtt.Client, str]:
    """A raw MQTT 5 login; returns the client (loop started) and the CONNACK reason ("" when none came)."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.username_pw_set(user, env.password(user))
    c.reconnect_delay_set(0.1, 0.5)  # type: ignore[arg-type]  # paho types them int; float seconds work
    answered = threading.Event()
    reason: list[str] = []

    def on_connect(_c: mqtt.Client, _u: object, _f: object, rc: mqtt.ReasonCode, _p: object) -> None:
        if not answered.is_set():
            reason.append(str(rc))
            answered.set()

    c.on_connect = on_connect
    props = Properties(PacketTypes.CONNECT)
    if expiry_s:
        props.SessionExpiryInterval = expiry_s
    c.connect("127.0.0.1", port, clean_start=clean_start, properties=props)
    c.loop_start()
    answered.wait(5)
    return c, reason[0] if reason else ""


def _close(c: mqtt.Client) -> None:
    c.disconnect()
    c.loop_stop()


def test_broker_no_login_takes_another_client_id_or_session(mqtt_env: BrokerEnv,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    """Station B logs in again and again with A's id and the collector's ids, session expiry
    0, while A sends events: A is never disconnected, the collector's persistent session
    survives, every event is stored and acked."""
    caplog.set_level(logging.INFO, logger="district_collector.intake.service")
    events = mqtt_env.chain(KOI, 70)
    service = CollectorService(mqtt_env.config, mqtt_env.district_signer)
    service.start()
    koi, rc = _connect(mqtt_env, KOI, KOI, mqtt_env.broker.port, expiry_s=7 * 86400, clean_start=False)
    assert rc == "Success"
    ring = KeyRing.from_jwks([mqtt_env.district_jwk])
    acked_through: list[int] = []
    drops: list[str] = []
    koi.on_message = lambda _c, _u, msg: acked_through.append(
        int(verify(bytes(msg.payload), ring, ACK_TYP).payload["through"]))  # type: ignore[call-overload]
    koi.on_disconnect = lambda _c, _u, _f, rc, _p: drops.append(str(rc))
    koi.subscribe(_t(KOI, "ack"), qos=1)
    try:
        assert service.connected.wait(5)
        for seq in range(1, 61):
            intruder, rc = _connect(mqtt_env, RUONG, (KOI, *COLLECTOR_IDS)[seq % 3], mqtt_env.broker.port)
            assert rc == "Success"  # a legitimate login, renamed to its own id
            koi.publish(_t(KOI, "event"), events[seq - 1], qos=1).wait_for_publish(5)
            _close(intruder)
        wait_until(lambda: acked_through[-1:] == [60], 10, "A's 60 events acked")
        with SqliteStore(mqtt_env.config.database) as store:
            assert store.seqs(KOI) == list(range(1, 61))
        # the collector's persistent session: down for a while, then everything sent meanwhile
        service.stop()
        for jws in events[60:]:
            koi.publish(_t(KOI, "event"), jws, qos=1).wait_for_publish(5)
        service = CollectorService(mqtt_env.config, mqtt_env.district_signer)
        service.start()
        assert service.connected.wait(5)
        wait_until(lambda: acked_through[-1:] == [70], 10, "A's 70 events acked")
        with SqliteStore(mqtt_env.config.database) as store:
            assert store.seqs(KOI) == list(range(1, 71))
        assert drops == []
        connects = [r.getMessage() for r in caplog.records if r.getMessage().startswith("mqtt connected")]
        assert len(connects) == 2 and connects[1].endswith("session_present=True")
        assert "already connected" not in mqtt_env.broker.log_path.read_text(errors="replace")
    finally:
        service.stop()
        _close(koi)


def test_broker_collector_processes_keep_their_ids_and_stations_are_refused_on_their_listener(
        mqtt_env: BrokerEnv) -> None:
    drops: list[str] = []
    clients = []
    for client_id in COLLECTOR_IDS:
        c, rc = _connect(mqtt_env, "collector", client_id, mqtt_env.broker.collector_port, expiry_s=3600)
        assert rc == "Success"
        c.on_disconnect = lambda _c, _u, _f, rc, _p: drops.append(str(rc))
        clients.append(c)
    for station in (KOI, RUONG):
        c, rc = _connect(mqtt_env, station, COLLECTOR_IDS[0], mqtt_env.broker.collector_port)
        assert rc == "Not authorized"
        c.loop_stop()
    c, rc = _connect(mqtt_env, "collector", f"x-{free_port()}", mqtt_env.broker.port)
    assert rc == "Not authorized"  # the collector's login is not a station's
    c.loop_stop()
    assert all(c.is_connected() for c in clients) and drops == []
    for c in clients:
        _close(c)


@pytest.mark.parametrize("station_id", ["collector", "collector-kon-ray", "collector-kon-ray-schedule",
                                        "collector-x"])
def test_broker_config_refuses_a_station_named_like_the_collector(tmp_path: Path, station_id: str) -> None:
    kit = make_district(tmp_path)
    impostor = dataclasses.replace(kit.config.stations[0], id=station_id)
    assert isinstance(impostor, RegisteredStation)
    config = dataclasses.replace(kit.config, stations=(*kit.config.stations, impostor))
    with pytest.raises(BrokerConfigError, match=f"station id '{station_id}' is reserved"):
        generate_broker_config(config, tmp_path / "out", BrokerOptions(plain_port=1883, tls=False))
    assert not (tmp_path / "out").exists()


def test_broker_config_refuses_the_collector_on_a_stations_port(tmp_path: Path) -> None:
    kit = make_district(tmp_path, port=1883)
    with pytest.raises(BrokerConfigError, match="mqtt.port 1883 is also a stations' listener"):
        generate_broker_config(kit.config, tmp_path / "out", BrokerOptions(plain_port=1883, tls=False))
    with pytest.raises(BrokerConfigError, match="would be plain"):
        generate_broker_config(kit.config, tmp_path / "out", BrokerOptions(
            plain_port=1885, tls=False, collector_bind="0.0.0.0"))
    assert not (tmp_path / "out").exists()


def test_provision_refuses_a_station_named_like_the_collector(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    district = make_provision_district(tmp_path)
    before = district.read_bytes()
    assert provision(district, "collector-kon-ray-schedule", "--commune", "23344", "--name", "Xã X",
                     "--out", str(tmp_path / "out"), "--create-key") == 1
    assert "station id 'collector-kon-ray-schedule' is reserved" in capsys.readouterr().err
    assert district.read_bytes() == before and not (tmp_path / "out").exists()


def test_broker_config_before_the_first_station(tmp_path: Path) -> None:
    """A new district (provision adds the stations later): an empty stations' password file."""
    kit = make_district(tmp_path)
    config = dataclasses.replace(kit.config, stations=())
    files = generate_broker_config(config, tmp_path / "out", BrokerOptions(plain_port=1883, tls=False))
    assert files.passwd.read_text() == ""
    assert [line.split(":")[0] for line in files.collector_passwd.read_text().splitlines()] == ["collector"]
