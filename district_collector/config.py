"""The district collector's configuration: one YAML file, validated once, frozen.

Every problem is collected and reported at once, each naming the file and the dotted
key (``stations[2].keys[0]: ...``). Relative paths are resolved against the directory
of the config file, so a config and its keys can travel together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from district_collector.alerts.config import AlertsConfig, read_alerts_config
from district_collector.region import REGION_LEVELS, RegionLevel, region_level
from district_collector.registry import LEVELS, RegisteredStation
from district_collector.scoring.criteria import CriteriaSet
from district_collector.scoring.criteria.choice import (
    CriteriaPeriod,
    criteria_for,
    read_criteria_periods,
)
from district_collector.station_groups import expand_stations, read_groups
from district_collector.store.db_url import is_postgres_url, redact, url_problem
from radio_protocol.configschema import ConfigReader, config_path, load_yaml_file
from radio_protocol.credentials import read_password_file, tls_client_context
from radio_protocol.errors import JoseError
from radio_protocol.jose import KeyRing, jwk_thumbprint, jwk_to_public_key
from radio_protocol.timefmt import zone
from radio_protocol.topics import DISTRICT_RE, STATION_RE

if TYPE_CHECKING:
    from paho.mqtt.client import Client

_TOP_KEYS = ("district", "database", "signing_key", "mqtt", "stations", "ack", "media", "criteria",
             "database_password_file", "groups", "alerts")
_MQTT_KEYS = ("host", "port", "station_port", "username", "password_file", "tls", "client_id",
              "keepalive_s", "reconnect_min_s", "reconnect_max_s", "session_expiry_s")
_STATION_KEYS = ("id", "commune", "level", "keys", "mqtt_password_file", "location")


@dataclass(frozen=True)
class DistrictInfo:
    """The region the collector serves. ``level``: the configured ``district.level`` code
    (:data:`~district_collector.region.REGION_LEVELS`), None when the config leaves it to
    the name (see :attr:`region`)."""

    id: str
    name: str
    timezone: str
    level: str | None = None

    @property
    def region(self) -> RegionLevel:
        """The region's level and its words (``huyện``/``tỉnh``...)."""
        return region_level(self.name, self.level)


@dataclass(frozen=True)
class TlsConfig:
    """TLS towards the broker. ``ca`` None means the system CA store."""

    ca: Path | None
    insecure: bool = False


@dataclass(frozen=True)
class MqttConfig:
    """The collector's broker connection. ``host``/``port``: the collector's own listener
    (broker-config writes it, loopback by default); ``station_port``: the stations' TLS
    listener (broker-config's and provision's default port for the stations)."""

    host: str
    port: int
    username: str
    password_file: Path | None
    tls: TlsConfig | None
    client_id: str
    keepalive_s: int = 60
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 30.0
    session_expiry_s: int = 30 * 86400
    station_port: int = 8883
    source: str = ""  # the config file, named in password() errors

    def password(self) -> str | None:
        """The password in ``password_file`` (its first line, stripped), or None without one.
        Raises ConfigError naming the file when it cannot be read or holds no password."""
        if self.password_file is None:
            return None
        return read_password_file(self.password_file, self.source)

    def apply_login(self, client: Client) -> None:
        """Set this config's username, password and TLS (CA verified unless ``insecure``) on a
        paho client, before it connects. Raises ConfigError when the password file or the CA
        file cannot be used."""
        client.username_pw_set(self.username, self.password())
        if self.tls is not None:
            client.tls_set_context(tls_client_context(self.tls.ca, self.source))
            client.tls_insecure_set(self.tls.insecure)


@dataclass(frozen=True)
class AckConfig:
    max_batch: int = 500
    max_also: int = 1000


@dataclass(frozen=True)
class MediaConfig:
    base_url: str
    dir: Path
    loudness_target_lufs: float | None = -16.0  # None: measure only, publish the source as it is


@dataclass(frozen=True)
class DistrictConfig:
    source: Path
    district: DistrictInfo
    database: Path
    signing_key: Path
    mqtt: MqttConfig | None
    stations: tuple[RegisteredStation, ...]
    ack: AckConfig
    media: MediaConfig | None
    criteria: tuple[CriteriaPeriod, ...] = ()
    # ``database: postgresql://...``: the URL (then ``database`` is unused), and the file
    # holding its password (else libpq's ~/.pgpass / PGPASSFILE).
    database_url: str | None = None
    database_password_file: Path | None = None
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)  # name -> station ids

    def expand_stations(self, names: Iterable[str]) -> list[str]:
        """Station ids for station ids / group names / ``all`` (district_collector.station_groups);
        UnknownStationError naming what is neither."""
        return expand_stations(names, [s.id for s in self.stations], self.groups)
    alerts: AlertsConfig | None = None

    def criteria_for(self, last_day: date) -> CriteriaSet:
        """The criteria set scoring a period whose last day is ``last_day`` (the config's
        ``criteria`` list; the letter's set without one)."""
        return criteria_for(self.criteria, last_day)

    def station(self, station_id: str) -> RegisteredStation | None:
        """The registered station ``station_id`` (None when unknown); a dict lookup: the
        collector asks for every message, and a province registers thousands."""
        return self._station_index.get(station_id)

    @cached_property
    def _station_index(self) -> dict[str, RegisteredStation]:
        return {entry.id: entry for entry in self.stations}


def _read_mqtt(r: ConfigReader, data: object, base: Path, district_id: str) -> MqttConfig | None:
    if data is None:
        return None
    m = r.mapping(data, "mqtt", _MQTT_KEYS)
    host = r.get(m, "mqtt", "host", str, "localhost")
    port = r.get(m, "mqtt", "port", int, 8883, minimum=1, maximum=65535)
    station_port = r.get(m, "mqtt", "station_port", int, 8883, minimum=1, maximum=65535)
    username = r.get(m, "mqtt", "username", str, "collector", pattern=r"[A-Za-z0-9_.-]{1,64}")
    password_file = r.get(m, "mqtt", "password_file", str, None, nullable=True)
    client_id = r.get(m, "mqtt", "client_id", str, f"collector-{district_id}")
    keepalive = r.get(m, "mqtt", "keepalive_s", int, 60, minimum=5, maximum=3600)
    rmin = r.get(m, "mqtt", "reconnect_min_s", float, 1.0, minimum=0.05, maximum=600)
    rmax = r.get(m, "mqtt", "reconnect_max_s", float, 30.0, minimum=0.05, maximum=3600)
    expiry = r.get(m, "mqtt", "session_expiry_s", int, 30 * 86400, minimum=7 * 86400, maximum=0xFFFFFFFF)
    if isinstance(rmin, float) and isinstance(rmax, float) and rmin > rmax:
        r.error("mqtt.reconnect_min_s", f"must be <= mqtt.reconnect_max_s ({rmax})")
    tls: TlsConfig | None = None
    tls_data = m.get("tls")
    if tls_data is not None:
        t = r.mapping(tls_data, "mqtt.tls", ("ca", "insecure"))
        ca = r.get(t, "mqtt.tls", "ca", str, None, nullable=True)
        insecure = r.get(t, "mqtt.tls", "insecure", bool, False)
        tls = TlsConfig(ca=config_path(base, ca), insecure=bool(insecure))
    return MqttConfig(
        host=host or "localhost", port=port or 8883, username=username or "collector",
        password_file=config_path(base, password_file), tls=tls, client_id=client_id or f"collector-{district_id}",
        keepalive_s=keepalive or 60, reconnect_min_s=rmin or 1.0, reconnect_max_s=rmax or 30.0,
        session_expiry_s=expiry or 30 * 86400, station_port=station_port or 8883, source=r.source,
    )


def _read_station(r: ConfigReader, data: object, key: str, base: Path) -> RegisteredStation | None:
    s = r.mapping(data, key, _STATION_KEYS)
    if not s:
        return None
    sid = r.get(s, key, "id", str, pattern=STATION_RE.pattern.strip("^$"))
    commune = r.mapping(s.get("commune"), f"{key}.commune", ("code", "name"))
    code = r.get(commune, f"{key}.commune", "code", str, pattern=r"[0-9]{1,10}") if commune else None
    name = r.get(commune, f"{key}.commune", "name", str) if commune else None
    level = r.get(s, key, "level", str, "commune", choices=LEVELS)
    pw = r.get(s, key, "mqtt_password_file", str, None, nullable=True)
    raw_keys = r.get(s, key, "keys", list)
    jwks: list[dict[str, str]] = []
    kids: dict[str, Ed25519PublicKey] = {}
    for i, jwk in enumerate(raw_keys or []):
        where = f"{key}.keys[{i}]"
        try:
            public = jwk_to_public_key(jwk)
            kid = jwk_thumbprint(jwk)
        except JoseError as exc:
            r.error(where, f"not a public Ed25519 JWK: {exc.detail or exc.reason}")
            continue
        except (KeyError, TypeError):
            r.error(where, "not a public Ed25519 JWK: needs kty, crv, x")
            continue
        if kid in kids:
            r.error(where, f"the same key twice (kid {kid})")
            continue
        kids[kid] = public
        jwks.append({"kty": "OKP", "crv": "Ed25519", "x": str(jwk["x"])})
    if raw_keys is not None and not raw_keys:
        r.error(f"{key}.keys", "needs at least one public JWK")
    location = _read_location(r, s, key)
    if not sid or not code or name is None:
        return None
    return RegisteredStation(
        id=sid, commune_code=code, commune_name=name, level=level or "commune",
        keys=tuple(jwks), keyring=KeyRing(kids), mqtt_password_file=config_path(base, pw),
        location=location,
    )


def _read_location(r: ConfigReader, s: dict[str, Any], key: str) -> tuple[float, float] | None:
    """The optional ``location: {lat, lon}`` (WGS 84 degrees) the console's map draws."""
    if s.get("location") is None:
        return None
    where = r.mapping(s["location"], f"{key}.location", ("lat", "lon"))
    lat = r.get(where, f"{key}.location", "lat", float, minimum=-90, maximum=90) if where else None
    lon = r.get(where, f"{key}.location", "lon", float, minimum=-180, maximum=180) if where else None
    return None if lat is None or lon is None else (lat, lon)


def parse_district_config(data: object, source: Path) -> DistrictConfig:
    """Validate a parsed YAML document; raise ConfigError listing every problem."""
    source = Path(source)
    base = source.resolve().parent
    r = ConfigReader(str(source))
    top = r.mapping(data, "", _TOP_KEYS)
    d = r.mapping(top.get("district"), "district", ("id", "name", "timezone", "level"))
    did = r.get(d, "district", "id", str, pattern=DISTRICT_RE.pattern.strip("^$")) if d else None
    dname = r.get(d, "district", "name", str) if d else None
    tz = r.get(d, "district", "timezone", str, "Asia/Ho_Chi_Minh") if d else None
    level = r.get(d, "district", "level", str, None, nullable=True) if d else None
    if level is not None and level not in REGION_LEVELS:
        r.error("district.level", f"must be one of {', '.join(REGION_LEVELS)} (huyen = Huyện, tinh = Tỉnh, "
                                  f"xa = Xã...), got {level!r}")
        level = None
    if isinstance(tz, str):
        try:
            zone(tz)
        except ValueError as exc:
            r.error("district.timezone", str(exc))
    database = r.get(top, "", "database", str)
    database_url = database if database is not None and is_postgres_url(database) else None
    if database_url is not None and (problem := url_problem(database_url)) is not None:
        r.error("database", f"{redact(database_url)}: {problem}")
    db_password = r.get(top, "", "database_password_file", str, None, nullable=True)
    signing_key = r.get(top, "", "signing_key", str)
    mqtt = _read_mqtt(r, top.get("mqtt"), base, did or "district")

    stations: list[RegisteredStation] = []
    raw_stations = r.get(top, "", "stations", list, [])
    seen: dict[str, int] = {}
    kid_owner: dict[str, str] = {}
    for i, item in enumerate(raw_stations or []):
        key = f"stations[{i}]"
        entry = _read_station(r, item, key, base)
        if entry is None:
            continue
        if entry.id in seen:
            r.error(f"{key}.id", f"duplicate station id {entry.id!r} (also stations[{seen[entry.id]}])")
            continue
        if mqtt is not None and entry.id == mqtt.username:
            r.error(f"{key}.id", f"station id {entry.id!r} is the collector's MQTT username")
        seen[entry.id] = i
        for kid in entry.kids:
            if kid in kid_owner:
                r.error(f"{key}.keys", f"key {kid} is also registered for station {kid_owner[kid]!r}")
            kid_owner[kid] = entry.id
        stations.append(entry)

    a = r.mapping(top.get("ack"), "ack", ("max_batch", "max_also"), required=False,
                  removed={"max_delay_s": "the collector commits whatever is queued at once"})
    ack = AckConfig(
        max_batch=r.get(a, "ack", "max_batch", int, 500, minimum=1, maximum=100000) or 500,
        max_also=r.get(a, "ack", "max_also", int, 1000, minimum=0, maximum=100000) or 0,
    )
    media: MediaConfig | None = None
    if top.get("media") is not None:
        md = r.mapping(top.get("media"), "media", ("base_url", "dir", "loudness_target_lufs"))
        url = r.get(md, "media", "base_url", str, pattern=r"https?://\S+")
        mdir = r.get(md, "media", "dir", str)
        lufs = r.get(md, "media", "loudness_target_lufs", float, -16.0, minimum=-40.0, maximum=-5.0,
                     nullable=True)
        if url and mdir:
            media = MediaConfig(base_url=url.rstrip("/"), dir=config_path(base, mdir) or Path(mdir),
                                loudness_target_lufs=lufs)
    criteria = read_criteria_periods(r, top.get("criteria"), base)
    groups = read_groups(r, top.get("groups"), [s.id for s in stations])
    alerts = read_alerts_config(r, top.get("alerts"), base)
    r.finish()
    assert did is not None and dname is not None and tz is not None
    assert database is not None and signing_key is not None
    return DistrictConfig(
        source=source,
        district=DistrictInfo(id=did, name=dname, timezone=tz, level=level),
        database=Path(redact(database)) if database_url else config_path(base, database) or Path(database),
        signing_key=config_path(base, signing_key) or Path(signing_key),
        mqtt=mqtt,
        stations=tuple(stations),
        ack=ack,
        media=media,
        criteria=criteria,
        database_url=database_url,
        database_password_file=config_path(base, db_password) if db_password else None,
        groups=groups,
        alerts=alerts,
    )


def load_district_config(path: Path | str) -> DistrictConfig:
    """Read and validate the district config at ``path`` (ConfigError on any problem)."""
    path = Path(path)
    return parse_district_config(load_yaml_file(path), path)
