"""A district for benchmarks: keys, a config, signed events and a real Mosquitto.

The same shapes as ``tests/mqtt_broker.py`` (which the benchmarks must not import: it
needs pytest), trimmed to what the benchmarks use: the stations' plain loopback listener
(``port``) and the collector's (``collector_port``), the broker files written by
:func:`district_collector.admin.broker_config.generate_broker_config`, and one extra
read-only ``bench`` user on the collector's listener that may read every topic of the
district (the observer that timestamps acks and status messages; production brokers have
no such user). It logs in there because its clients keep their own ids; on the stations'
listener every ``bench`` login would get the id ``bench`` and close the previous one.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from district_collector.admin.broker_config import BrokerOptions, generate_broker_config
from district_collector.admin.local_broker import free_ports, start_mosquitto
from radio_protocol.jose import (
    Signer,
    canonical_json,
    load_or_create_private_key,
    public_jwk,
    sha256_hex,
)
from radio_protocol.messages.event import AiringEvent, Amp, Level, Segment, build_event
from radio_protocol.names import EVENT_TYP
from radio_protocol.timefmt import parse_rfc3339

DISTRICT = "kon-ray"
OBSERVER = "bench"


def station_ids(count: int) -> list[str]:
    return [f"st-{i:05d}" for i in range(count)]


def commune_code(index: int) -> str:
    return f"{30000 + index:05d}"


BENCH_SEGMENT = Segment(id="cds-2025-a", title="Chuyển đổi số là gì?", program="chuyen-doi-so",
                        topic="policy", sha256="0" * 64)


def airing_event(station: str, commune: str, seq: int, prev: str | None, started_at: str,
                 slot: str | None = None, outcome: str = "completed") -> AiringEvent:
    """A benchmark airing (``started_at``, ``slot``: RFC 3339 text); a reason only when not completed."""
    at = parse_rfc3339(started_at)
    return AiringEvent(
        district=DISTRICT, station=station, commune=commune, seq=seq, prev=prev, segment=BENCH_SEGMENT,
        priority="normal", schedule_version=1, slot_at=parse_rfc3339(slot) if slot else at,
        started_at=at, ended_at=at, played_s=301.2, media_s=301.2, outcome=outcome,
        reason=None if outcome == "completed" else "preempted", amp=Amp(at, at, None),
        level=Level(-18.2, -1.0, 0.4), clock_synced=True, boot_id="bench-boot", sw="0.1.0",
    )


def airing_payload(station: str, commune: str, seq: int, prev: str | None, started_at: str,
                   slot: str | None = None, outcome: str = "completed") -> dict[str, Any]:
    """The payload of :func:`airing_event`, built by radio_protocol's ``build_event``."""
    return build_event(airing_event(station, commune, seq, prev, started_at, slot, outcome))


@dataclass
class StationKeys:
    id: str
    commune: str
    signer: Signer
    key_path: Path
    jwk: dict[str, str]
    password_file: Path = Path()

    def chain(self, count: int, started_at: Callable[[int], str], first_prev: str | None = None,
              first_seq: int = 1) -> list[bytes]:
        """``count`` chained, signed events from ``first_seq``."""
        out: list[bytes] = []
        prev = first_prev
        for seq in range(first_seq, first_seq + count):
            body = canonical_json(airing_payload(self.id, self.commune, seq, prev, started_at(seq)))
            out.append(self.signer.sign(body, EVENT_TYP))
            prev = sha256_hex(body)
        return out


@dataclass
class District:
    root: Path
    config_path: Path
    district_key: Path
    district_signer: Signer
    district_jwk: dict[str, str]
    stations: dict[str, StationKeys]
    port: int = 0  # the stations' listener
    collector_port: int = 0  # the collector's listener (the collector, the observer)
    broker_dir: Path = Path()
    observer_password: str = ""
    broker: subprocess.Popen[bytes] | None = None
    _clients: list[mqtt.Client] = field(default_factory=list)
    _by_id: dict[str, mqtt.Client] = field(default_factory=dict)

    def start_broker(self) -> None:
        self.broker = start_mosquitto(self.broker_dir / "mosquitto.conf", self.port,
                                      self.broker_dir / "mosquitto.log")

    def client(self, user: str, password: str, *, client_id: str | None = None,
               on_message: Callable[[mqtt.MQTTMessage], None] | None = None,
               subscribe: list[str] | None = None) -> mqtt.Client:
        """A connected paho MQTT 5 client (loop started), subscribed before returning.

        A ``client_id`` asked for again gives the same client: a second connection with
        one id would take the session over, and the two would keep kicking each other out.
        A station logs in on the stations' listener, where its client id is its username
        whatever ``client_id`` says: ask for ``client_id=station`` to get its one client.
        The observer logs in on the collector's listener.
        """
        if client_id is not None and client_id in self._by_id:
            return self._by_id[client_id]
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"bench-{secrets.token_hex(4)}",
                        protocol=mqtt.MQTTv5)
        c.username_pw_set(user, password)
        c.max_queued_messages_set(0)
        c.max_inflight_messages_set(1000)
        ready = threading.Event()
        pending = list(subscribe or [])

        def connected(cl: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
            if rc.is_failure:
                return
            if pending:
                cl.subscribe([(t, 1) for t in pending])
            else:
                ready.set()

        c.on_connect = connected
        c.on_subscribe = lambda *_a: ready.set()
        if on_message is not None:
            c.on_message = lambda _c, _u, msg: on_message(msg)
        c.connect("127.0.0.1", self.collector_port if user == OBSERVER else self.port)
        c.loop_start()
        if not ready.wait(10):
            raise RuntimeError(f"{user} could not connect/subscribe to the bench broker")
        self._clients.append(c)
        if client_id is not None:
            self._by_id[client_id] = c
        return c

    def observer(self, topics: list[str], on_message: Callable[[mqtt.MQTTMessage], None]) -> mqtt.Client:
        return self.client(OBSERVER, self.observer_password, subscribe=topics, on_message=on_message)

    def station_password(self, station: str) -> str:
        return self.stations[station].password_file.read_text().strip()

    def close(self) -> None:
        for c in self._clients:
            try:
                c.disconnect()
                c.loop_stop()
            except Exception:
                pass
        self._clients.clear()
        self._by_id.clear()
        if self.broker is not None and self.broker.poll() is None:
            self.broker.terminate()
            try:
                self.broker.wait(5)
            except subprocess.TimeoutExpired:
                self.broker.kill()
                self.broker.wait()


def make_district(root: Path, count: int, *, with_broker: bool = False,
                  ack_max_batch: int = 500) -> District:
    """Keys for ``count`` stations, a district config and (optionally) broker files.

    Station keys are generated once per ``root`` and kept, so a cached store stays valid.
    ``ack_*`` are the production defaults of config/district.example.yaml.
    """
    root.mkdir(parents=True, exist_ok=True)
    district_key = root / "district.key"
    dkey, _ = load_or_create_private_key(district_key)
    stations: dict[str, StationKeys] = {}
    for i, sid in enumerate(station_ids(count)):
        key_path = root / "stations" / f"{sid}.key"
        skey, _ = load_or_create_private_key(key_path)
        stations[sid] = StationKeys(sid, commune_code(i), Signer(skey), key_path,
                                    public_jwk(skey.public_key()))
    port, collector_port = free_ports(2) if with_broker else (1883, 1884)
    broker_dir = root / "broker"
    cfg: dict[str, Any] = {
        "district": {"id": DISTRICT, "name": "Huyện Kon Rẫy", "timezone": "Asia/Ho_Chi_Minh"},
        "database": str(root / "collector.sqlite3"),
        "signing_key": str(district_key),
        "ack": {"max_batch": ack_max_batch},
        "stations": [{"id": sid, "commune": {"code": st.commune, "name": f"Xã {sid}"},
                      "level": "commune", "keys": [st.jwk]} for sid, st in stations.items()],
    }
    if with_broker:
        cfg["mqtt"] = {"host": "127.0.0.1", "port": collector_port, "username": "collector",
                       "password_file": str(broker_dir / "credentials" / "collector.password"),
                       "tls": None, "reconnect_min_s": 0.1, "reconnect_max_s": 1.0}
    config_path = root / "district.yaml"
    config_path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    district = District(root, config_path, district_key, Signer(dkey), public_jwk(dkey.public_key()),
                        stations, port=port, collector_port=collector_port, broker_dir=broker_dir)
    if with_broker:
        from district_collector.config import load_district_config

        opts = BrokerOptions(tls=False, plain_port=port, run_as_user="root" if os.geteuid() == 0 else None,
                             autosave_s=1)
        files = generate_broker_config(load_district_config(config_path), broker_dir, opts)
        for sid, st in stations.items():
            st.password_file = files.credentials[sid]
        district.observer_password = secrets.token_urlsafe(16)
        subprocess.run(["mosquitto_passwd", "-b", str(files.collector_passwd), OBSERVER, district.observer_password],
                       check=True, capture_output=True)
        with files.acl.open("a") as acl:
            acl.write(f"\nuser {OBSERVER}\ntopic read cr/v1/{DISTRICT}/#\n")
    return district
