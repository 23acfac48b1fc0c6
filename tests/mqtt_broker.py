"""A REAL Mosquitto for tests, configured by ``district_collector.admin.broker_config``.

For every engineer who needs a broker (collector, station link, end-to-end tests).
The fixture ``mqtt_env`` (importable as ``from mqtt_broker import mqtt_env`` because
tests/ is on sys.path; tests/conftest.py re-exports it so any test can just ask for it)
gives a :class:`BrokerEnv`:

- ``env.broker``: a running ``mosquitto`` subprocess on free ports of 127.0.0.1: the
  stations' plain listener ``env.broker.port`` and TLS listener ``env.broker.tls_port``
  (server cert for ``localhost``/``127.0.0.1`` signed by a throwaway CA at ``env.broker.ca``;
  a station's client id is its username there) and the collector's listener
  ``env.broker.collector_port`` (plain; TLS with ``make_env(..., collector_tls=True)``), password files,
  ACL exactly as docs/protocol.md, persistence in ``env.broker_dir/data``, raised limits,
  ``user root`` when run as root. ``env.broker.kill()`` is SIGKILL, ``env.broker.start()``
  restarts it on the same ports and data dir, ``env.broker.stop()`` is SIGTERM.
- ``env.district_config``: path of a district YAML (district ``kon-ray``) whose mqtt section
  points at the collector's listener with the collector's credentials; ``env.config`` is the
  loaded :class:`DistrictConfig`; ``env.district_signer`` signs acks/schedules (its key file
  is ``env.district_key``), ``env.district_jwk`` is its public JWK (for ``district_keys``).
- ``env.stations``: ``{id: StationKit}`` for ``dak-koi-01`` (commune 23335) and
  ``dak-ruong-01`` (23326), each with ``signer``, ``key_path`` (PEM, 0600), ``jwk``,
  ``password`` and ``password_file`` (its broker credential).
- ``env.client(user, client_id=...)``: a connected paho MQTT 5 client (loop started) with
  that user's credentials, on the collector's listener for ``collector``, else the stations'; ``env.event(station, seq, prev)`` a signed airing event
  (``make_airing_payload`` builds the payload of docs/protocol.md).

``env.chain(station, n)`` gives n correctly chained signed events (seq 1..n).

Use ``make_env(tmp_path, ...)`` directly for other station sets; always call ``env.close()``.
``make_district(tmp_path)`` gives the same keys and config (a :class:`DistrictKit`) without
a broker, for tests of ingest/import/reports.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from district_collector.admin.broker_config import BrokerOptions, generate_broker_config
from district_collector.admin.local_broker import free_port, free_ports, start_mosquitto
from district_collector.config import DistrictConfig, load_district_config
from radio_protocol.jose import (
    Signer,
    canonical_json,
    load_or_create_private_key,
    public_jwk,
    sha256_hex,
)
from radio_protocol.messages.event import AiringEvent, Amp, Level, Segment, build_event
from radio_protocol.names import EVENT_TYP
from radio_protocol.timefmt import zone

DISTRICT = "kon-ray"
HANOI = zone("Asia/Ho_Chi_Minh")
DEFAULT_STATIONS = {"dak-koi-01": ("23335", "Xã Đăk Kôi"), "dak-ruong-01": ("23326", "Xã Đăk Ruồng")}


def make_tls_files(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for localhost/127.0.0.1: ``(ca, cert, key)``."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Commune Radio test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = directory / "ca.crt", directory / "server.crt", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    os.chmod(paths[2], 0o600)
    return paths


TEST_SEGMENT = Segment(id="cds-2024-03-a", title="Chuyển đổi số là gì?", program="chuyen-doi-so",
                       topic="policy", sha256="0" * 64)


def make_airing_event(station: str, seq: int, prev: str | None, *, district: str = DISTRICT,
                      commune: str = "23335", **changes: Any) -> AiringEvent:
    """A completed airing as event ``seq`` of ``station`` (slot 06:30 + seq minutes, Hanoi time);
    ``changes`` replace members of the :class:`AiringEvent` (``outcome``, ``played_s``, ...)."""
    minute = 6 * 60 + 30 + seq
    slot_at = datetime.combine(dt.date(2024, 3, 5), dt.time(minute // 60 % 24, minute % 60), HANOI)
    started_at = slot_at + dt.timedelta(milliseconds=12)
    event = AiringEvent(
        district=district, station=station, commune=commune, seq=seq, prev=prev, segment=TEST_SEGMENT,
        priority="normal", schedule_version=7, slot_at=slot_at, started_at=started_at,
        ended_at=started_at, played_s=301.2, media_s=301.2, outcome="completed", reason=None,
        amp=Amp(started_at, started_at, None), level=Level(-18.2, -1.0, 0.4), clock_synced=True,
        boot_id="test-boot", sw="0.1.0",
    )
    return replace(event, **changes)


def make_airing_payload(station: str, seq: int, prev: str | None, *, district: str = DISTRICT,
                        commune: str = "23335", **changes: Any) -> dict[str, Any]:
    """The payload of :func:`make_airing_event` (built by ``build_event``)."""
    return build_event(make_airing_event(station, seq, prev, district=district, commune=commune, **changes))


class Broker:
    """A mosquitto subprocess on fixed ports; start/kill/stop can be repeated."""

    def __init__(self, conf: Path, port: int, tls_port: int, ca: Path, log_path: Path,
                 collector_port: int = 0) -> None:
        self.conf, self.port, self.tls_port, self.ca, self.log_path = conf, port, tls_port, ca, log_path
        self.collector_port = collector_port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 10.0) -> None:
        assert self.proc is None or self.proc.poll() is not None, "broker already running"
        self.proc = start_mosquitto(self.conf, self.port, self.log_path, timeout_s)

    def kill(self) -> None:
        """SIGKILL: the broker loses whatever it had not saved."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def stop(self) -> None:
        """SIGTERM: a clean shutdown (persistence saved)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@dataclass
class StationKit:
    id: str
    commune: str
    signer: Signer
    key_path: Path
    jwk: dict[str, str]
    password: str = ""
    password_file: Path = Path()


@dataclass
class DistrictKit:
    """A district's keys and config without a broker (unit tests of ingest/import)."""

    root: Path
    district_config: Path
    config: DistrictConfig
    district_key: Path
    district_signer: Signer
    district_jwk: dict[str, str]
    stations: dict[str, StationKit]

    def event(self, station: str, seq: int, prev: str | None, **changes: Any) -> tuple[bytes, str]:
        """A signed event and the sha256 of its payload (the next event's ``prev``);
        ``changes`` as in :func:`make_airing_event`."""
        st = self.stations[station]
        body = canonical_json(make_airing_payload(station, seq, prev, commune=st.commune, **changes))
        return st.signer.sign(body, EVENT_TYP), sha256_hex(body)

    def chain(self, station: str, count: int, first: int = 1) -> list[bytes]:
        """Events ``first..first+count-1`` of a station, correctly chained from seq 1."""
        out: list[bytes] = []
        prev: str | None = None
        for seq in range(1, first + count):
            jws, sha = self.event(station, seq, prev)
            prev = sha
            if seq >= first:
                out.append(jws)
        return out


@dataclass
class BrokerEnv(DistrictKit):
    broker: Broker = field(default=None)  # type: ignore[assignment]
    broker_dir: Path = Path()
    collector_password: str = ""
    _clients: list[mqtt.Client] = field(default_factory=list)

    def password(self, user: str) -> str:
        return self.collector_password if user == "collector" else self.stations[user].password

    def client(self, user: str, client_id: str | None = None, *, clean_start: bool = True,
               tls: bool = False, session_expiry_s: int = 0, password: str | None = None,
               timeout_s: float = 5.0) -> mqtt.Client:
        """A connected paho MQTT 5 client for ``user`` with its loop started: the collector on
        its listener, a station on the stations' plain (or, ``tls``, TLS) listener."""
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"test-{user}-{free_port()}",
                        protocol=mqtt.MQTTv5)
        c.username_pw_set(user, self.password(user) if password is None else password)
        if tls:
            c.tls_set(ca_certs=str(self.broker.ca))
        c.max_queued_messages_set(0)
        c.max_inflight_messages_set(1000)
        self._clients.append(c)
        props = Properties(PacketTypes.CONNECT)
        if session_expiry_s:
            props.SessionExpiryInterval = session_expiry_s
        connected = threading.Event()
        c.on_connect = lambda _c, _u, _f, rc, _p: None if rc.is_failure else connected.set()
        if user == "collector":
            port = self.broker.collector_port
        else:
            port = self.broker.tls_port if tls else self.broker.port
        c.connect("127.0.0.1", port, clean_start=clean_start, properties=props)
        c.loop_start()
        assert connected.wait(timeout_s), f"{user} could not connect"
        return c

    def close(self) -> None:
        for c in self._clients:
            try:
                c.disconnect()
                c.loop_stop()
            except Exception:
                pass
        self.broker.stop()


def make_district(root: Path, stations: dict[str, tuple[str, str]] | None = None, *,
                  port: int = 1884, password_file: Path | None = None,
                  tls_ca: Path | None = None) -> DistrictKit:
    """Keys (district and stations) and a district config under ``root``; its ``mqtt``
    section is the collector's connection (``port``; TLS to ``localhost`` with ``tls_ca``)."""
    stations = stations or DEFAULT_STATIONS
    root.mkdir(parents=True, exist_ok=True)
    district_key = root / "district" / "district.key"
    dkey, _ = load_or_create_private_key(district_key)
    kits: dict[str, StationKit] = {}
    for sid, (code, _name) in stations.items():
        key_path = root / "stations" / sid / "station.key"
        skey, _ = load_or_create_private_key(key_path)
        kits[sid] = StationKit(sid, code, Signer(skey), key_path, public_jwk(skey.public_key()))
    cfg = {
        "district": {"id": DISTRICT, "name": "Huyện Kon Rẫy", "timezone": "Asia/Ho_Chi_Minh"},
        "database": str(root / "district" / "collector.sqlite3"),
        "signing_key": str(district_key),
        "mqtt": {"host": "localhost" if tls_ca else "127.0.0.1", "port": port, "username": "collector",
                 "password_file": str(password_file) if password_file else None,
                 "tls": {"ca": str(tls_ca)} if tls_ca else None,
                 "reconnect_min_s": 0.1, "reconnect_max_s": 1.0},
        "ack": {"max_batch": 500},
        "stations": [{"id": sid, "commune": {"code": code, "name": name}, "level": "commune",
                      "keys": [kits[sid].jwk]} for sid, (code, name) in stations.items()],
    }
    config_path = root / "district" / "district.yaml"
    config_path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return DistrictKit(root, config_path, load_district_config(config_path), district_key, Signer(dkey),
                       public_jwk(dkey.public_key()), kits)


def make_env(root: Path, stations: dict[str, tuple[str, str]] | None = None, *,
             collector_tls: bool = False) -> BrokerEnv:
    """Keys, a district config and a running broker under ``root``; ``collector_tls``: the
    collector's listener (and the district config's mqtt section) use TLS."""
    broker_dir = root / "broker"
    ca, cert, key = make_tls_files(broker_dir / "tls")
    port, tls_port, collector_port = free_ports(3)
    kit = make_district(root, stations, port=collector_port,
                        password_file=broker_dir / "credentials" / "collector.password",
                        tls_ca=ca if collector_tls else None)
    opts = BrokerOptions(tls_port=tls_port, certfile=cert, keyfile=key, bind="127.0.0.1", plain_port=port,
                         run_as_user="root" if os.geteuid() == 0 else None, autosave_s=1)
    files = generate_broker_config(kit.config, broker_dir, opts)
    for sid, st in kit.stations.items():
        st.password_file = files.credentials[sid]
        st.password = st.password_file.read_text().strip()
    broker = Broker(files.conf, port, tls_port, ca, broker_dir / "mosquitto.log", collector_port)
    broker.start()
    return BrokerEnv(**vars(kit), broker=broker, broker_dir=broker_dir,
                     collector_password=files.credentials["collector"].read_text().strip())


@pytest.fixture
def mqtt_env(tmp_path: Path) -> Iterator[BrokerEnv]:
    """A fresh district (keys, config) and a real Mosquitto for one test; see module doc."""
    env = make_env(tmp_path / "mqtt")
    try:
        yield env
    finally:
        env.close()
