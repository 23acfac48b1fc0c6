"""The collector service against a real Mosquitto: commit before ack, batched acks,
persistent session while the collector is down, broker SIGKILL, import == live."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from mqtt_broker import BrokerEnv
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from store_backends import StoreBackend
from test_collector_views import _table

from district_collector.cli import main as district_main
from district_collector.config import DistrictConfig
from district_collector.intake.importer import import_files
from district_collector.intake.service import CollectorService
from district_collector.store.sqlite import SqliteStore
from radio_protocol.jose import KeyRing, Signer, canonical_json, verify
from radio_protocol.messages.status import Status, build_status
from radio_protocol.names import ACK_TYP, EVENT_TYP, STATUS_TYP
from radio_protocol.timefmt import format_rfc3339, parse_rfc3339, zone

KOI = "dak-koi-01"
RUONG = "dak-ruong-01"
REPO = Path(__file__).resolve().parents[2]


def _t(station: str, kind: str) -> str:
    return f"cr/v1/kon-ray/station/{station}/{kind}"


def _wait(cond: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


class MiniStation:
    """A stand-in for the station link: an outbox of signed events republished until a
    verified district ack covers them (on connect and every ``resend_s``)."""

    def __init__(self, env: BrokerEnv, station: str, events: list[bytes], resend_s: float = 0.3,
                 on_ack: Callable[[dict[str, object]], None] | None = None) -> None:
        self.env, self.station, self.events, self.resend_s = env, station, events, resend_s
        self.ring = KeyRing.from_jwks([env.district_jwk])
        self.acked: set[int] = set()
        self.acks: list[dict[str, object]] = []
        self.published = 0
        self.on_ack = on_ack
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.limit = len(events)  # only events[:limit] are "recorded" so far
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=station, protocol=mqtt.MQTTv5)
        c.username_pw_set(station, env.stations[station].password)
        c.reconnect_delay_set(0.1, 0.5)  # type: ignore[arg-type]  # paho types them int; seconds as float work
        c.max_queued_messages_set(0)
        c.on_connect = self._on_connect
        c.on_message = self._on_message
        self.client = c
        self._thread = threading.Thread(target=self._resend_loop, daemon=True)

    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 7 * 86400
        self.client.connect_async("127.0.0.1", self.env.broker.port, clean_start=False, properties=props)
        self.client.loop_start()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, u: object, f: object, rc: object, p: object) -> None:
        client.subscribe(_t(self.station, "ack"), qos=1)
        self.publish_unacked()

    def _on_message(self, client: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
        try:
            v = verify(bytes(msg.payload), self.ring, ACK_TYP)
        except Exception:
            return  # a forged ack changes nothing
        ack = v.payload
        if self.on_ack:
            self.on_ack(ack)
        with self._lock:
            self.acks.append(ack)
            self.acked.update(range(1, int(ack["through"]) + 1))  # type: ignore[call-overload]
            self.acked.update(ack["also"])  # type: ignore[arg-type]

    def publish_unacked(self) -> None:
        with self._lock:
            todo = [(i + 1, e) for i, e in enumerate(self.events[: self.limit]) if i + 1 not in self.acked]
        for _seq, jws in todo:
            self.client.publish(_t(self.station, "event"), jws, qos=1)
            self.published += 1

    def _resend_loop(self) -> None:
        while not self._stop.wait(self.resend_s):
            if self.client.is_connected():
                self.publish_unacked()

    def all_acked(self) -> bool:
        with self._lock:
            return self.acked >= set(range(1, len(self.events) + 1))


def _service(env: BrokerEnv, config: DistrictConfig | None = None) -> CollectorService:
    service = CollectorService(config or env.config, env.district_signer)
    service.start()
    assert service.connected.wait(5)
    return service


def test_service_acks_only_what_is_committed(mqtt_env: BrokerEnv, store_backend: StoreBackend) -> None:
    reader = store_backend.open(mqtt_env.config.database)
    violations: list[str] = []
    lock = threading.Lock()

    def check(ack: dict[str, object]) -> None:  # runs when the ack arrives at the station
        with lock, store_backend.open(mqtt_env.config.database) as store:
            stored = set(store.seqs(KOI))
        claimed = set(range(1, int(ack["through"]) + 1)) | set(ack["also"])  # type: ignore[call-overload,arg-type]
        if not claimed <= stored:
            violations.append(f"ack claims {sorted(claimed - stored)[:5]} not stored")

    service = _service(mqtt_env, store_backend.configure(mqtt_env.config))
    station = MiniStation(mqtt_env, KOI, mqtt_env.chain(KOI, 300), on_ack=check)
    try:
        station.start()
        assert _wait(station.all_acked)
    finally:
        station.stop()
        service.stop()
    assert violations == []
    assert reader.seqs(KOI) == list(range(1, 301))
    assert station.acks[-1]["through"] == 300 and station.acks[-1]["also"] == []
    assert station.acks[-1]["station"] == KOI and station.acks[-1]["type"] == "ack"


def test_service_batches_acks_under_load(mqtt_env: BrokerEnv, store_backend: StoreBackend) -> None:
    service = _service(mqtt_env, store_backend.configure(mqtt_env.config))
    events = mqtt_env.chain(KOI, 400)
    watcher = mqtt_env.client(KOI)
    acks: list[bytes] = []
    watcher.on_message = lambda c, u, m: acks.append(bytes(m.payload))
    watcher.subscribe(_t(KOI, "ack"), qos=1)
    try:
        for jws in events:
            watcher.publish(_t(KOI, "event"), jws, qos=1)
        with store_backend.open(mqtt_env.config.database) as store:
            assert _wait(lambda: store.ack_position(KOI) == (400, []))
        assert _wait(lambda: bool(acks) and json.loads(verify(acks[-1], KeyRing.from_jwks(
            [mqtt_env.district_jwk]), ACK_TYP).payload_bytes)["through"] == 400)
    finally:
        service.stop()
    assert len(acks) <= 100, f"{len(acks)} acks for 400 events: not batched"
    assert service.counts["accepted"] == 400


def test_service_collector_down_then_back_gets_all_500(mqtt_env: BrokerEnv) -> None:
    service = _service(mqtt_env)  # creates the collector's persistent session
    service.stop()
    events = mqtt_env.chain(KOI, 500)
    station = MiniStation(mqtt_env, KOI, events, resend_s=60)
    station.start()
    try:
        assert _wait(lambda: station.published == 500 and station.client.is_connected())
        time.sleep(0.3)
        with SqliteStore(mqtt_env.config.database) as store:
            assert store.count_events() == 0
        service = _service(mqtt_env)
        assert _wait(station.all_acked)
        with SqliteStore(mqtt_env.config.database) as store:
            assert store.count_events(KOI) == 500 and store.seqs(KOI) == list(range(1, 501))
        assert station.published == 500  # everything came from the broker's queue
    finally:
        station.stop()
        service.stop()


def test_service_broker_sigkill_mid_stream_loses_nothing(mqtt_env: BrokerEnv) -> None:
    events = mqtt_env.chain(KOI, 400)
    service = _service(mqtt_env)
    station = MiniStation(mqtt_env, KOI, events)
    station.limit = 0
    station.start()
    try:
        for _round in range(3):
            for _ in range(40):  # the station records events while the link runs
                station.limit += 1
                station.client.publish(_t(KOI, "event"), events[station.limit - 1], qos=1)
                time.sleep(0.002)
            mqtt_env.broker.kill()
            station.limit += 80  # recorded while the broker is down
            time.sleep(0.2)
            mqtt_env.broker.start()
        station.limit = len(events)
        assert _wait(station.all_acked, 20)
    finally:
        station.stop()
        service.stop()
    with SqliteStore(mqtt_env.config.database) as store:
        assert store.seqs(KOI) == list(range(1, 401))
        s = store.seq_summary(KOI)
        assert (s.gaps, s.chain_breaks, s.conflicts) == ((), (), ())


def test_service_import_equals_live_and_reimport_changes_nothing(mqtt_env: BrokerEnv, tmp_path: Path) -> None:
    service = _service(mqtt_env)
    station = MiniStation(mqtt_env, KOI, mqtt_env.chain(KOI, 50))
    station.start()
    try:
        assert _wait(station.all_acked)
    finally:
        station.stop()
        service.stop()
    with SqliteStore(mqtt_env.config.database) as live:
        live_rows = [(r.station, r.seq, r.payload_sha256, r.jws) for r in live.iter_events()]
        export = tmp_path / "events.jsonl"
        export.write_bytes(b"".join(r[3] + b"\n" for r in reversed(live_rows)))
        again = import_files(mqtt_env.config, live, [export])
        assert dict(again) == {"accepted": 0, "duplicate": 50, "conflict": 0, "rejected": 0}
    other = dataclasses.replace(mqtt_env.config, database=tmp_path / "imported.sqlite3")
    with SqliteStore(other.database) as imported:
        import_files(other, imported, [export])
        assert [(r.station, r.seq, r.payload_sha256, r.jws) for r in imported.iter_events()] == live_rows
        assert imported.ack_position(KOI) == (50, [])


def test_service_quarantines_forged_messages_and_keeps_running(mqtt_env: BrokerEnv) -> None:
    service = _service(mqtt_env)
    koi = mqtt_env.client(KOI)
    forger = Signer(Ed25519PrivateKey.generate())
    try:
        good, _ = mqtt_env.event(KOI, 1, None)
        fake = forger.sign({"v": 1, "type": "airing", "station": KOI, "seq": 1}, EVENT_TYP)
        koi.publish(_t(KOI, "event"), fake, qos=1)
        koi.publish(_t(KOI, "event"), b"garbage", qos=1)
        koi.publish(_t(KOI, "event"), good, qos=1)
        with SqliteStore(mqtt_env.config.database) as store:
            assert _wait(lambda: store.count_events() == 1 and len(store.quarantine_rows()) == 2)
            assert [r[1] for r in store.quarantine_rows()] == ["unknown-kid", "bad-json"]
    finally:
        service.stop()


def test_service_tracks_status_and_last_will(mqtt_env: BrokerEnv, capsys: object) -> None:
    signer = mqtt_env.stations[KOI].signer
    service = _service(mqtt_env)

    def status(state: str, pending: int) -> bytes:
        return signer.sign(build_status(Status(
            KOI, state, parse_rfc3339("2024-03-05T07:00:00.000+07:00"), schedule_version=7,
            outbox_pending=pending, last_seq=3)), STATUS_TYP)
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=KOI, protocol=mqtt.MQTTv5)
    c.username_pw_set(KOI, mqtt_env.stations[KOI].password)
    c.will_set(_t(KOI, "status"), status("offline", 2), qos=1, retain=True)
    c.connect("127.0.0.1", mqtt_env.broker.port)
    c.loop_start()
    try:
        c.publish(_t(KOI, "status"), status("online", 2), qos=1, retain=True).wait_for_publish(5)
        for jws in mqtt_env.chain(KOI, 3):
            c.publish(_t(KOI, "event"), jws, qos=1)
        with SqliteStore(mqtt_env.config.database) as store:
            assert _wait(lambda: (st := store.status(KOI)) is not None and st.state == "online"
                         and store.count_events() == 3)
            went_offline_before = format_rfc3339(datetime.now(UTC).astimezone(zone("Asia/Ho_Chi_Minh")))
            c.loop_stop()
            sock = c.socket()
            assert sock is not None
            sock.close()  # vanish without DISCONNECT: the broker publishes the will
            assert _wait(lambda: (st := store.status(KOI)) is not None and st.state == "offline")
    finally:
        service.stop()
    assert district_main(["-c", str(mqtt_env.district_config), "stations"]) == 0
    rows = _table(capsys.readouterr().out)  # type: ignore[attr-defined]
    koi = rows[KOI]
    assert (koi["state"], koi["commune"], koi["last_seq"], koi["gaps"], koi["chain_breaks"]) == (
        "offline", "23335 Xã Đăk Kôi", "3", "-", "-")
    assert (koi["pending"], koi["schedule"], koi["last_airing"]) == ("2", "7", "2024-03-05T06:33:00.012+07:00")
    assert koi["since"].endswith("+07:00") and koi["since"] >= went_offline_before
    assert rows[RUONG]["state"] == "never seen"


def test_service_callback_exception_does_not_kill_network_thread(mqtt_env: BrokerEnv) -> None:
    service = _service(mqtt_env)
    real_put = service._queue.put
    calls = {"n": 0}

    def flaky_put(item: object, *a: object, **k: object) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("injected")
        real_put(item)  # type: ignore[arg-type]
    service._queue.put = flaky_put  # type: ignore[method-assign]
    station = MiniStation(mqtt_env, KOI, mqtt_env.chain(KOI, 10))
    station.start()
    try:
        assert _wait(station.all_acked)  # the lost message was resent and acked later
    finally:
        station.stop()
        service.stop()
    assert calls["n"] > 10


def test_run_command_stops_cleanly_on_sigterm(mqtt_env: BrokerEnv, tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with (tmp_path / "run.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "district_collector.cli", "-c", str(mqtt_env.district_config),
                             "run"], stderr=log, env=env, cwd=tmp_path)
    try:
        station = MiniStation(mqtt_env, KOI, mqtt_env.chain(KOI, 5))
        station.start()
        assert _wait(station.all_acked)  # signed acks from the collector process
        station.stop()
        with SqliteStore(mqtt_env.config.database) as store:
            assert store.count_events() == 5
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert b"collector stopped accepted=5" in (tmp_path / "run.log").read_bytes()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_keygen_creates_private_key_and_prints_public_jwk(tmp_path: Path, capsys: object) -> None:
    config = tmp_path / "d.yaml"
    config.write_text(canonical_json({"district": {"id": "kon-ray", "name": "Huyện Kon Rẫy"},
                                      "database": "db.sqlite3", "signing_key": "keys/district.key"}).decode())
    assert district_main(["-c", str(config), "keygen"]) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    key = tmp_path / "keys" / "district.key"
    assert key.stat().st_mode & 0o777 == 0o600 and key.parent.stat().st_mode & 0o777 == 0o700
    jwk = json.loads(out.splitlines()[-1])
    assert jwk["kty"] == "OKP" and "d" not in jwk and "created" in out
    assert district_main(["-c", str(config), "keygen"]) == 0
    assert "existing" in capsys.readouterr().out  # type: ignore[attr-defined]


def test_service_catches_up_a_month_offline_station(mqtt_env: BrokerEnv) -> None:
    """~30 days at 4 airings a day for a few stations' worth: 3000 events at once."""
    service = _service(mqtt_env)
    station = MiniStation(mqtt_env, RUONG, mqtt_env.chain(RUONG, 3000), resend_s=5)
    started = time.monotonic()
    station.start()
    try:
        assert _wait(station.all_acked, 30)
    finally:
        station.stop()
        service.stop()
    with SqliteStore(mqtt_env.config.database) as store:
        assert store.seqs(RUONG) == list(range(1, 3001))
        assert store.seq_summary(RUONG).chain_breaks == ()
    assert service.acks_published < 300, "acks not batched"
    assert time.monotonic() - started < 30
