"""Provisioning a station: its files, its broker credential, its key in the district registry.

:func:`provision_station` writes into an output directory everything a new station needs:
``station.yaml`` (a complete station config pointing at the district broker, with the
district's public key in ``district_keys``), ``mqtt.password`` (0600), ``district-ca.crt``
(when the broker uses a private CA) and, for a station prepared at the office,
``station.key`` (0600). It registers the station's public JWK in the district config's
``stations`` list (:mod:`district_collector.admin.registry_edit`: old keys are kept, comments
too, under a lock on its directory) and, with a broker directory, sets the station's
broker password and rewrites the ACL.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from district_collector.admin.broker_config import (
    BrokerConfigError,
    acl_text,
    hashed_passwd_line,
    require_mosquitto_passwd,
    reserved_station_id_problem,
)
from district_collector.admin.registry_edit import (
    RegistryEntry,
    directory_lock,
    registry_update,
    replace_keeping_owner,
    yaml_quote,
)
from district_collector.config import DistrictConfig, load_district_config
from district_collector.registry import RegistryError
from radio_protocol.durable import atomic_write, ensure_private_dir
from radio_protocol.errors import CommuneRadioError, JoseError
from radio_protocol.jose import (
    jwk_thumbprint,
    jwk_to_public_key,
    load_private_key,
    public_jwk,
)
from radio_protocol.topics import STATION_RE

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
STATION_DATA_DIR = "/var/lib/commune-radio"
PIN_FACTORIES = ("lgpio", "rpigpio", "pigpio", "native", "mock")


class ProvisionError(CommuneRadioError):
    """A station cannot be provisioned as asked (the message says what to change)."""


@dataclass(frozen=True)
class ProvisionRequest:
    station_id: str
    commune_code: str
    commune_name: str
    out_dir: Path
    station_jwk: Mapping[str, Any] | None = None  # None with create_key
    create_key: bool = False
    level: str = "commune"
    broker_host: str | None = None
    broker_port: int | None = None
    broker_dir: Path | None = None
    amp_pin: int = 17
    active_high: bool = True
    audio_device: str = "default"
    tls: bool = True  # False (--plain-mqtt): tls null, only for a loopback broker (bench, demo)
    pin_factory: str = "lgpio"
    data_dir: str = STATION_DATA_DIR  # relative: next to station.yaml (bench, demo)
    rename_commune: bool = False  # a registered commune code under another name: rename it everywhere


@dataclass
class ProvisionResult:
    station_yaml: Path
    password_file: Path
    district_password_file: Path
    ca_file: Path | None
    key_file: Path | None
    key_created: bool
    kid: str
    registry: str  # "station added", "key added", "key already registered"
    keys_registered: int
    broker_updated: list[str] = field(default_factory=list)
    password: str = field(default="", repr=False)


def checked_jwk(obj: Mapping[str, Any]) -> dict[str, str]:
    """The station's public JWK reduced to its members; ProvisionError says what is wrong."""
    if "d" in obj:
        raise ProvisionError("--station-jwk: this is a PRIVATE key (member d); give the public "
                             "JWK printed by radio-station keygen, and keep the private key secret")
    try:
        jwk_to_public_key(obj)
    except JoseError as exc:
        raise ProvisionError(f"--station-jwk: not an Ed25519 public JWK: {exc.detail or exc.reason}") from exc
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": str(obj["x"])}
    if "kid" in obj and obj["kid"] != jwk_thumbprint(jwk):
        raise ProvisionError("--station-jwk: kid does not match the key (damaged copy?)")
    return jwk


# --- station.yaml ----------------------------------------------------------------------


def station_yaml_text(config: DistrictConfig, req: ProvisionRequest, host: str, port: int,
                      ca_name: str | None, district_jwks: list[dict[str, str]]) -> str:
    """A complete, commented station config; relative paths resolve next to the file."""
    keys = "\n".join(f"  - {{kty: OKP, crv: Ed25519, x: {yaml_quote(k['x'])}}}  # kid {jwk_thumbprint(k)}"
                     for k in district_jwks)
    if not req.tls:
        tls = " null                            # plain MQTT: loopback broker only (--plain-mqtt)\n"
    elif ca_name:
        tls = f"\n    ca: {ca_name}              # the district's CA (next to this file)\n    insecure: false\n"
    else:
        tls = "\n    ca: null                        # the system CA store\n    insecure: false\n"
    return f"""\
# Commune Radio station {req.station_id}: {req.commune_name} ({config.district.name}).
# Generated by radio-district provision. Check with: radio-station -c station.yaml check
# Relative paths (data_dir, mqtt.password_file, mqtt.tls.ca) are resolved against the
# directory this file is in: written to {req.out_dir.resolve()};
# systemd/install-station.sh --from that directory installs it in /etc/commune-radio.
station:
  id: {req.station_id}
  district: {config.district.id}
  commune: {yaml_quote(req.commune_code)}
timezone: {config.district.timezone}
data_dir: {yaml_quote(req.data_dir)}     # key, outbox, schedule, media cache (systemd StateDirectory)

amplifier:
  pin: {req.amp_pin}                 # BCM GPIO number driving the relay (pull-down: floating = off)
  active_high: {'true' if req.active_high else 'false'}        # false for active-low relay boards
  warmup_s: 2.0
  tail_s: 1.0
  feedback_pin: null
gpio:
  pin_factory: {req.pin_factory}
audio:
  device: {yaml_quote(req.audio_device)}     # name (or part of it) from: python3 -m sounddevice
  latency: high
  margin_s: 10

mqtt:
  host: {host}
  port: {port}
  username: {req.station_id}
  password_file: mqtt.password      # 0600, owned by radio-station
  tls:{tls}  keepalive_s: 60
  session_expiry_s: 604800
  republish_s: 60

# The district's public key(s): schedules and acks must be signed by one of them.
district_keys:
{keys}

require_synced_clock: true
schedule:
  grace_s: 600
outbox:
  retention_days: 400
"""


# --- the broker ------------------------------------------------------------------------


def update_broker(broker_dir: Path, config: DistrictConfig, station_id: str, password: str,
                  mosquitto_passwd: str = "mosquitto_passwd") -> list[str]:
    """Set the station's password in ``broker_dir/passwd`` (the stations' logins) and
    rewrite ``broker_dir/acl``."""
    passwd = broker_dir / "passwd"
    if not passwd.exists():
        raise ProvisionError(f"{passwd} does not exist: run radio-district broker-config {broker_dir} first")
    try:
        require_mosquitto_passwd(mosquitto_passwd)
        line = hashed_passwd_line(mosquitto_passwd, broker_dir, station_id, password)
    except BrokerConfigError as exc:
        raise ProvisionError(str(exc)) from exc
    kept = [old for old in passwd.read_text(encoding="utf-8").splitlines()
            if old.strip() and old.split(":", 1)[0] != station_id]
    replace_keeping_owner(passwd, ("\n".join([*kept, line]) + "\n").encode("utf-8"))
    acl = broker_dir / "acl"
    if acl.exists():
        replace_keeping_owner(acl, acl_text(config).encode("utf-8"))
    else:
        atomic_write(acl, acl_text(config).encode("utf-8"), mode=0o644)
    return [f"{passwd}: credential for {station_id} set", f"{acl}: rewritten from the registry"]


def _write_private_key(path: Path, key: Ed25519PrivateKey) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    old_umask = os.umask(0o077)
    try:
        atomic_write(path, pem, mode=0o600)
    finally:
        os.umask(old_umask)


# --- everything ------------------------------------------------------------------------


def _broker_address(config: DistrictConfig, req: ProvisionRequest) -> tuple[str, int]:
    host = req.broker_host or (config.mqtt.host if config.mqtt else None)
    # A loopback mqtt.host is how the collector reaches the broker, not how a station on
    # another machine does; with --plain-mqtt the station is on this machine, so it fits.
    if not host or (host in LOCAL_HOSTS and not req.broker_host and req.tls):
        hint = (f"; for a station on this machine (bench, demo) give --broker-host {host} --plain-mqtt"
                if host else "")
        raise ProvisionError("--broker-host: give the broker's name as the stations reach it "
                             f"(the collector's mqtt.host is {host!r}){hint}")
    if not req.tls and host not in LOCAL_HOSTS:
        raise ProvisionError(f"--plain-mqtt: only for a broker on this machine (127.0.0.1, localhost, ::1), "
                             f"not {host!r}: the station's password would cross the network in clear")
    # mqtt.port is the collector's own listener; the stations log in on theirs
    port = req.broker_port or (config.mqtt.station_port if config.mqtt else 8883)
    return host, port


def provision_station(config_path: Path, req: ProvisionRequest) -> ProvisionResult:
    """Write the station's files into ``req.out_dir`` and register it; see the module doc."""
    if not STATION_RE.match(req.station_id):
        raise ProvisionError(f"STATION_ID {req.station_id!r}: use [a-z0-9-]{{1,64}}")
    if not re.fullmatch(r"[0-9]{1,10}", req.commune_code):
        raise ProvisionError(f"--commune {req.commune_code!r}: the official commune code, digits only")
    if not req.commune_name.strip():
        raise ProvisionError("--name: the commune's name (e.g. \"Xã Đăk Kôi\") is required")
    if (req.station_jwk is None) == (not req.create_key):
        raise ProvisionError("give either --station-jwk (the output of radio-station keygen on "
                             "the Pi) or --create-key (the key pair is made here), not both")
    if req.pin_factory not in PIN_FACTORIES:
        raise ProvisionError(f"--pin-factory {req.pin_factory!r}: one of {', '.join(PIN_FACTORIES)}")
    if not req.data_dir.strip() or any(c in req.data_dir for c in "\n\r\0"):
        raise ProvisionError(f"--data-dir {req.data_dir!r}: a directory path")
    config = load_district_config(config_path)
    reserved = reserved_station_id_problem(config, req.station_id)
    if reserved:
        raise ProvisionError(f"STATION_ID: {reserved}")
    host, port = _broker_address(config, req)
    district_jwks = [public_jwk(load_private_key(config.signing_key).public_key())]
    out = req.out_dir
    # Everything is checked before anything is written: a refused provision leaves the
    # registry, the broker and the district's credential copies as they were.
    key_file = out / "station.key" if req.create_key else None
    new_key: Ed25519PrivateKey | None = None
    if key_file is not None:
        if key_file.exists():
            jwk = public_jwk(load_private_key(key_file).public_key())
        else:
            new_key = Ed25519PrivateKey.generate()
            jwk = public_jwk(new_key.public_key())
    else:
        assert req.station_jwk is not None
        jwk = checked_jwk(req.station_jwk)
    ca_bytes: bytes | None = None
    if req.tls and config.mqtt and config.mqtt.tls and config.mqtt.tls.ca:
        try:
            ca_bytes = config.mqtt.tls.ca.read_bytes()
        except OSError as exc:
            raise ProvisionError(f"mqtt.tls.ca: cannot read {config.mqtt.tls.ca}: {exc.strerror}") from exc
    password = secrets.token_urlsafe(24)
    config_path = Path(config_path)
    entry = RegistryEntry(req.station_id, req.commune_code, req.commune_name, req.level)
    with directory_lock(config_path.resolve().parent):
        current = load_district_config(config_path).station(req.station_id)
        if current is not None and current.mqtt_password_file is not None:
            district_pw = current.mqtt_password_file
        elif req.broker_dir is not None:
            district_pw = req.broker_dir.resolve() / "credentials" / f"{req.station_id}.password"
        else:
            district_pw = config_path.resolve().parent / "credentials" / f"{req.station_id}.password"
        if req.broker_dir is not None and not (req.broker_dir / "passwd").exists():
            raise ProvisionError(f"{req.broker_dir / 'passwd'} does not exist: run radio-district "
                                 f"broker-config {req.broker_dir} first")
        try:
            registry_update(config_path, entry, jwk, district_pw, dry_run=True,
                            rename_commune=req.rename_commune)
        except RegistryError as exc:
            raise ProvisionError(str(exc)) from exc
        ensure_private_dir(out)
        key_created = False
        if key_file is not None and new_key is not None:
            _write_private_key(key_file, new_key)
            key_created = True
        ca_file: Path | None = None
        if ca_bytes is not None:
            ca_file = out / "district-ca.crt"
            atomic_write(ca_file, ca_bytes, mode=0o644)
        password_file = out / "mqtt.password"
        atomic_write(password_file, (password + "\n").encode("utf-8"), mode=0o600)
        ensure_private_dir(district_pw.parent)
        atomic_write(district_pw, (password + "\n").encode("utf-8"), mode=0o600)
        try:
            registry, new_config = registry_update(config_path, entry, jwk, district_pw,
                                                   rename_commune=req.rename_commune)
        except RegistryError as exc:
            raise ProvisionError(str(exc)) from exc
        broker_notes: list[str] = []
        if req.broker_dir is not None:
            broker_notes = update_broker(req.broker_dir, new_config, req.station_id, password)
    station_yaml = out / "station.yaml"
    text = station_yaml_text(new_config, req, host, port, ca_file.name if ca_file else None, district_jwks)
    atomic_write(station_yaml, text.encode("utf-8"), mode=0o644)
    registered = new_config.station(req.station_id)
    return ProvisionResult(
        station_yaml=station_yaml, password_file=password_file, district_password_file=district_pw,
        ca_file=ca_file, key_file=key_file, key_created=key_created, kid=jwk_thumbprint(jwk),
        registry=registry, keys_registered=len(registered.keys) if registered else 0,
        broker_updated=broker_notes, password=password,
    )
