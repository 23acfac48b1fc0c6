"""What the station link needs from the config: :class:`LinkSettings`.

:func:`settings_from_config` turns the ``mqtt`` section of the station config into a
frozen :class:`LinkSettings` (reading the password file); :func:`configure_tls` applies
the TLS part of the settings to a paho client.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from radio_protocol.errors import ConfigError

if TYPE_CHECKING:
    from .config import StationConfig

MIN_SESSION_EXPIRY_S = 7 * 24 * 3600
MAX_AHEAD = 2_000  # default LinkSettings.max_ahead


@dataclass(frozen=True)
class LinkSettings:
    """Everything the link needs, already validated (see :func:`settings_from_config`)."""

    district: str
    station: str
    host: str
    port: int = 8883
    username: str | None = None
    password: str | None = None
    tls: bool = False
    tls_ca: Path | None = None  # None with tls: the system's CA store
    tls_insecure: bool = False  # skip host name checking (test brokers only)
    keepalive_s: int = 60
    session_expiry_s: int = MIN_SESSION_EXPIRY_S
    republish_s: float = 300.0
    batch: int = 200
    max_ahead: int = MAX_AHEAD  # rows read at most per page when the outbox cannot page by seq
    status_min_interval_s: float = 2.0
    status_counters_interval_s: float = 30.0
    status_heartbeat_s: float = 900.0  # a fresh status at least this often (uptime, at)
    poll_s: float = 0.5
    reconnect_min_s: int = 1
    reconnect_max_s: int = 30

    def __repr__(self) -> str:  # never show the password
        return (f"LinkSettings(station={self.station}, host={self.host}, port={self.port}, "
                f"username={self.username}, tls={'on' if self.tls else 'off'})")


def read_password_file(path: Path, source: str) -> str:
    """The first line of ``path``; ConfigError naming ``mqtt.password_file`` otherwise."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{source}: mqtt.password_file: cannot read {path}: {exc.strerror}"]) from exc
    password = text.splitlines()[0].strip() if text.strip() else ""
    if not password:
        raise ConfigError([f"{source}: mqtt.password_file: {path} is empty"])
    return password


def configure_tls(client: Any, settings: LinkSettings) -> None:
    """Apply the TLS part of ``settings`` to a paho client (nothing without ``tls``)."""
    if not settings.tls:
        return
    client.tls_set(ca_certs=str(settings.tls_ca) if settings.tls_ca else None)
    if settings.tls_insecure:
        client.tls_insecure_set(True)


def settings_from_config(config: StationConfig) -> LinkSettings | None:
    """LinkSettings from the station config; None when it has no ``mqtt`` section."""
    m = config.mqtt
    if m is None:
        return None
    password = read_password_file(m.password_file, str(config.source)) if m.password_file else None
    return LinkSettings(
        district=config.station.district,
        station=config.station.id,
        host=m.host,
        port=m.port,
        username=m.username,
        password=password,
        tls=m.tls is not None,
        tls_ca=m.tls.ca if m.tls is not None else None,
        tls_insecure=m.tls.insecure if m.tls is not None else False,
        keepalive_s=m.keepalive_s,
        session_expiry_s=max(MIN_SESSION_EXPIRY_S, m.session_expiry_s),
        republish_s=m.republish_s,
    )
