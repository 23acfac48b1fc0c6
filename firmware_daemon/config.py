"""The station's configuration: a typed, validated, frozen object built once from YAML.

:func:`load_station_config` reads every section and reports every problem at once,
each naming the file and the dotted key (unknown keys get a "did you mean" hint).
:func:`load_amp_config` reads only ``amplifier.pin``, ``amplifier.active_high`` and
``gpio.pin_factory``, so ``amp-off`` works even when the rest of the file is broken. Relative paths are resolved against the
directory of the config file. ``config/station.example.yaml`` documents every key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from radio_protocol.configschema import ConfigReader, config_path, load_yaml_file
from radio_protocol.errors import JoseError
from radio_protocol.jose import KeyRing, jwk_thumbprint, jwk_to_public_key
from radio_protocol.timefmt import zone

DISTRICT_PATTERN = r"[a-z0-9-]{1,32}"
STATION_PATTERN = r"[a-z0-9-]{1,64}"
COMMUNE_PATTERN = r"[0-9]{1,10}"
PIN_FACTORIES = ("lgpio", "rpigpio", "pigpio", "native", "mock")
LATENCIES = ("low", "high")
MIN_SESSION_EXPIRY_S = 7 * 24 * 3600  # docs/protocol.md: at least 7 days
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
DEFAULT_DATA_DIR = "/var/lib/commune-radio"
KEY_FILE_NAME = "station.key"
OUTBOX_FILE_NAME = "outbox.sqlite"

_TOP_KEYS = ("station", "timezone", "data_dir", "amplifier", "gpio", "audio", "mqtt",
             "district_keys", "require_synced_clock", "schedule", "outbox", "media")


@dataclass(frozen=True)
class StationIdentity:
    id: str
    district: str
    commune: str


@dataclass(frozen=True)
class AmplifierConfig:
    """The amplifier relay: BCM pin, polarity, seconds on before and after the audio."""

    pin: int
    active_high: bool = True
    warmup_s: float = 2.0
    tail_s: float = 1.0
    feedback_pin: int | None = None


@dataclass(frozen=True)
class GpioConfig:
    pin_factory: str = "lgpio"


@dataclass(frozen=True)
class AudioConfig:
    """PortAudio output: device by name (or index), latency, write deadline margin."""

    device: str | int = "default"
    latency: str | float = "high"
    margin_s: float = 10.0


@dataclass(frozen=True)
class TlsConfig:
    ca: Path | None = None
    insecure: bool = False


@dataclass(frozen=True)
class MqttConfig:
    host: str
    port: int = 8883
    username: str | None = None
    password_file: Path | None = None
    tls: TlsConfig | None = TlsConfig()
    keepalive_s: int = 60
    session_expiry_s: int = MIN_SESSION_EXPIRY_S
    republish_s: float = 60.0

    def __repr__(self) -> str:  # the password lives in a file; never print more than its path
        return (f"MqttConfig(host={self.host!r}, port={self.port}, username={self.username!r}, "
                f"password_file={self.password_file}, tls={self.tls})")


@dataclass(frozen=True)
class ScheduleConfig:
    grace_s: float = 600.0


@dataclass(frozen=True)
class OutboxConfig:
    retention_days: int = 400


@dataclass(frozen=True)
class MediaConfig:
    """How media is fetched. ``timeout_s``: longest single wait for the network;
    ``deadline_s``: longest whole download of one file (what arrived is resumed next round);
    ``allow_local_hosts``: fetch from loopback, link-local and the station's own networks."""

    allow_local_hosts: bool = False
    timeout_s: float = 30.0
    deadline_s: float = 300.0


@dataclass(frozen=True)
class AmpConfig:
    """What ``amp-off`` needs: the relay and the pin factory."""

    amplifier: AmplifierConfig
    gpio: GpioConfig


@dataclass(frozen=True)
class StationConfig:
    source: Path
    station: StationIdentity
    timezone: str
    data_dir: Path
    amplifier: AmplifierConfig
    gpio: GpioConfig
    audio: AudioConfig
    mqtt: MqttConfig | None
    district_keys: tuple[Mapping[str, Any], ...]
    require_synced_clock: bool
    schedule: ScheduleConfig
    outbox: OutboxConfig
    media: MediaConfig = MediaConfig()

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.timezone)

    @property
    def key_path(self) -> Path:
        return self.data_dir / KEY_FILE_NAME

    @property
    def outbox_path(self) -> Path:
        return self.data_dir / OUTBOX_FILE_NAME

    def district_keyring(self) -> KeyRing:
        return KeyRing.from_jwks(self.district_keys)


def _pin(reader: ConfigReader, data: Mapping[str, Any], name: str, nullable: bool = False) -> Any:
    """A BCM GPIO number (0..53)."""
    if nullable:
        return reader.get(data, "amplifier", name, int, None, minimum=0, maximum=53, nullable=True)
    return reader.get(data, "amplifier", name, int, minimum=0, maximum=53)


def _read_amplifier(reader: ConfigReader, root: Mapping[str, Any]) -> AmplifierConfig:
    data = reader.mapping(root.get("amplifier"), "amplifier",
                          ("pin", "active_high", "warmup_s", "tail_s", "feedback_pin"))
    pin = _pin(reader, data, "pin")
    feedback_pin = _pin(reader, data, "feedback_pin", nullable=True)
    if pin is not None and feedback_pin is not None and pin == feedback_pin:
        reader.error("amplifier.feedback_pin", f"must differ from amplifier.pin ({pin})")
    return AmplifierConfig(
        pin=pin if pin is not None else -1,
        active_high=reader.get(data, "amplifier", "active_high", bool, True),
        warmup_s=reader.get(data, "amplifier", "warmup_s", float, 2.0, minimum=0.0, maximum=60.0),
        tail_s=reader.get(data, "amplifier", "tail_s", float, 1.0, minimum=0.0, maximum=60.0),
        feedback_pin=feedback_pin,
    )


def _read_gpio(reader: ConfigReader, root: Mapping[str, Any]) -> GpioConfig:
    data = reader.mapping(root.get("gpio"), "gpio", ("pin_factory",), required=False)
    return GpioConfig(reader.get(data, "gpio", "pin_factory", str, "lgpio", choices=PIN_FACTORIES))


def _read_station(reader: ConfigReader, root: Mapping[str, Any]) -> StationIdentity:
    data = reader.mapping(root.get("station"), "station", ("id", "district", "commune"))
    commune = data.get("commune")
    if isinstance(commune, int) and not isinstance(commune, bool):
        reader.error("station.commune", f"must be a quoted string of digits (\"{commune}\"), "
                     "or leading zeros are lost")
        commune_value = str(commune)
    else:
        commune_value = reader.get(data, "station", "commune", str, pattern=COMMUNE_PATTERN)
    return StationIdentity(
        id=reader.get(data, "station", "id", str, pattern=STATION_PATTERN) or "",
        district=reader.get(data, "station", "district", str, pattern=DISTRICT_PATTERN) or "",
        commune=commune_value or "",
    )


def _read_timezone(reader: ConfigReader, root: Mapping[str, Any]) -> str:
    name = reader.get(root, "", "timezone", str, DEFAULT_TIMEZONE)
    try:
        zone(name)
    except ValueError:
        reader.error("timezone", f"unknown IANA timezone {name!r} (e.g. {DEFAULT_TIMEZONE})")
    return str(name)


def _read_audio(reader: ConfigReader, root: Mapping[str, Any]) -> AudioConfig:
    data = reader.mapping(root.get("audio"), "audio", ("device", "latency", "margin_s"),
                          required=False)
    device: str | int = "default"
    raw_device = data.get("device", "default")
    if isinstance(raw_device, int) and not isinstance(raw_device, bool) and raw_device >= 0:
        device = raw_device
    elif isinstance(raw_device, str) and raw_device.strip():
        device = raw_device
    else:
        reader.error("audio.device", f"must be a PortAudio device name or index, got {raw_device!r}")
    latency: str | float = "high"
    raw_latency = data.get("latency", "high")
    if isinstance(raw_latency, str) and raw_latency in LATENCIES:
        latency = raw_latency
    elif isinstance(raw_latency, int | float) and not isinstance(raw_latency, bool) \
            and 0 < raw_latency <= 2:
        latency = float(raw_latency)
    else:
        reader.error("audio.latency", f"must be low, high or seconds in (0, 2], got {raw_latency!r}")
    margin_s = reader.get(data, "audio", "margin_s", float, 10.0, minimum=0.5, maximum=600.0)
    return AudioConfig(device=device, latency=latency, margin_s=margin_s)


def _read_mqtt(reader: ConfigReader, root: Mapping[str, Any], base: Path) -> MqttConfig | None:
    if root.get("mqtt") is None:
        return None  # no network link: the station airs and keeps evidence locally
    data = reader.mapping(root.get("mqtt"), "mqtt",
                          ("host", "port", "username", "password_file", "tls", "keepalive_s",
                           "session_expiry_s", "republish_s"))
    tls: TlsConfig | None = TlsConfig()
    if "tls" in data and data["tls"] is None:
        tls = None
    elif "tls" in data:
        tls_data = reader.mapping(data["tls"], "mqtt.tls", ("ca", "insecure"))
        tls = TlsConfig(
            ca=config_path(base, reader.get(tls_data, "mqtt.tls", "ca", str, None, nullable=True)),
            insecure=reader.get(tls_data, "mqtt.tls", "insecure", bool, False),
        )
    return MqttConfig(
        host=reader.get(data, "mqtt", "host", str) or "",
        port=reader.get(data, "mqtt", "port", int, 8883, minimum=1, maximum=65535),
        username=reader.get(data, "mqtt", "username", str, None, nullable=True),
        password_file=config_path(base, reader.get(data, "mqtt", "password_file", str, None,
                                                nullable=True)),
        tls=tls,
        keepalive_s=reader.get(data, "mqtt", "keepalive_s", int, 60, minimum=5, maximum=3600),
        session_expiry_s=reader.get(data, "mqtt", "session_expiry_s", int, MIN_SESSION_EXPIRY_S,
                                    minimum=MIN_SESSION_EXPIRY_S, maximum=2**32 - 1),
        republish_s=reader.get(data, "mqtt", "republish_s", float, 60.0, minimum=1.0,
                               maximum=86400.0),
    )


def _read_district_keys(reader: ConfigReader, root: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...]:
    raw = reader.get(root, "", "district_keys", list, [])
    keys: list[Mapping[str, Any]] = []
    for index, jwk in enumerate(raw or []):
        key = f"district_keys[{index}]"
        try:
            jwk_to_public_key(jwk)
        except JoseError as exc:
            reader.error(key, f"not an Ed25519 public JWK: {exc.detail or exc.reason}")
            continue
        if "kid" in jwk and jwk["kid"] != jwk_thumbprint(jwk):
            reader.error(key, "kid is not the RFC 7638 thumbprint of the key")
            continue
        keys.append(dict(jwk))
    return tuple(keys)


def _root(path: Path, reader: ConfigReader) -> dict[str, Any]:
    data = load_yaml_file(path)
    if data is None:
        reader.error("", "empty file (expected a mapping of settings)")
        reader.finish()
    return reader.mapping(data, "", _TOP_KEYS)


def load_station_config(path: Path | str) -> StationConfig:
    """Read and validate the whole station config; raises ConfigError listing every problem."""
    path = Path(path)
    reader = ConfigReader(str(path))
    root = _root(path, reader)
    base = path.resolve().parent
    station = _read_station(reader, root)
    timezone = _read_timezone(reader, root)
    data_dir = config_path(base, reader.get(root, "", "data_dir", str, DEFAULT_DATA_DIR))
    amplifier = _read_amplifier(reader, root)
    gpio = _read_gpio(reader, root)
    audio = _read_audio(reader, root)
    mqtt = _read_mqtt(reader, root, base)
    district_keys = _read_district_keys(reader, root)
    require_synced_clock = reader.get(root, "", "require_synced_clock", bool, True)
    schedule_data = reader.mapping(root.get("schedule"), "schedule", ("grace_s",), required=False)
    grace_s = reader.get(schedule_data, "schedule", "grace_s", float, 600.0, minimum=0.0,
                         maximum=86400.0)
    outbox_data = reader.mapping(root.get("outbox"), "outbox", ("retention_days",), required=False)
    retention_days = reader.get(outbox_data, "outbox", "retention_days", int, 400, minimum=1)
    media = _read_media(reader, root)
    reader.finish()
    assert data_dir is not None
    return StationConfig(
        source=path, station=station, timezone=timezone, data_dir=data_dir,
        amplifier=amplifier, gpio=gpio, audio=audio, mqtt=mqtt, district_keys=district_keys,
        require_synced_clock=require_synced_clock, schedule=ScheduleConfig(grace_s),
        outbox=OutboxConfig(retention_days), media=media,
    )


def _read_media(reader: ConfigReader, root: Mapping[str, Any]) -> MediaConfig:
    data = reader.mapping(root.get("media"), "media", ("allow_local_hosts", "timeout_s", "deadline_s"),
                          required=False)
    return MediaConfig(
        allow_local_hosts=reader.get(data, "media", "allow_local_hosts", bool, False),
        timeout_s=reader.get(data, "media", "timeout_s", float, 30.0, minimum=0.1, maximum=600.0),
        deadline_s=reader.get(data, "media", "deadline_s", float, 300.0, minimum=0.1, maximum=86400.0),
    )


AMP_OFF_KEYS = "amplifier.pin, amplifier.active_high and gpio.pin_factory"


def load_amp_config(path: Path | str) -> AmpConfig:
    """Read only ``amplifier.pin``, ``amplifier.active_high`` and ``gpio.pin_factory``.

    Anything else in the file may be wrong (unknown keys, a typo in the amplifier section,
    a broken ``station`` or ``audio`` section): ``amp-off`` runs after the service stops and
    must switch the relay off anyway. Raises ConfigError only when one of those three cannot
    be read (a wrong polarity could switch the amplifier on).
    """
    path = Path(path)
    reader = ConfigReader(str(path))
    data = load_yaml_file(path)
    if not isinstance(data, Mapping):
        reader.error("", "expected a mapping of settings")
        data = {}
    amp_data = data.get("amplifier")
    if not isinstance(amp_data, Mapping):
        reader.error("amplifier", "missing section" if amp_data is None
                     else f"must be a mapping, got {type(amp_data).__name__}")
        amp_data = {}
    pin = _pin(reader, amp_data, "pin")
    active_high = reader.get(amp_data, "amplifier", "active_high", bool, True)
    gpio_data = data.get("gpio")
    if gpio_data is None:
        gpio_data = {}
    elif not isinstance(gpio_data, Mapping):
        reader.error("gpio", f"must be a mapping, got {type(gpio_data).__name__}")
        gpio_data = {}
    pin_factory = reader.get(gpio_data, "gpio", "pin_factory", str, "lgpio", choices=PIN_FACTORIES)
    if reader.problems:
        reader.problems.append(f"{path}: amp-off reads only {AMP_OFF_KEYS}; fix these to "
                               "switch the amplifier off")
    reader.finish()
    return AmpConfig(AmplifierConfig(pin=pin, active_high=active_high), GpioConfig(pin_factory))
