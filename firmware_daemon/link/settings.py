"""What the station link needs from the config, checked before anything connects.

:func:`settings_from_config` turns the ``mqtt`` section of the station config into a
frozen :class:`LinkSettings`: it reads the password file and loads the TLS CA file once,
so a missing, unreadable or malformed file is a :class:`ConfigError` naming the key and
the file at startup (``radio-station run`` exits 1 with that line), not an
``ssl.SSLError`` traceback from inside paho. :func:`configure_tls` applies the TLS part
of the settings to a paho client, translating the same failures. The file checks are
:mod:`radio_protocol.credentials`' (the district collector makes the same ones).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from radio_protocol.credentials import check_ca_file, read_password_file, tls_client_context

if TYPE_CHECKING:
    from paho.mqtt.client import Client

    from firmware_daemon.config import StationConfig

MIN_SESSION_EXPIRY_S = 7 * 24 * 3600


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
    status_min_interval_s: float = 2.0
    status_counters_interval_s: float = 30.0
    status_heartbeat_s: float = 900.0  # a fresh status at least this often (uptime, at)
    poll_s: float = 0.5
    reconnect_min_s: int = 1
    reconnect_max_s: int = 30

    def __repr__(self) -> str:  # never show the password
        return (f"LinkSettings(station={self.station}, host={self.host}, port={self.port}, "
                f"username={self.username}, tls={'on' if self.tls else 'off'})")


def configure_tls(client: Client, settings: LinkSettings) -> None:
    """Apply the TLS part of ``settings`` to a paho client (nothing without ``tls``).

    A CA file that cannot be loaded is a ConfigError naming ``mqtt.tls.ca`` and the file.
    """
    if not settings.tls:
        return
    client.tls_set_context(tls_client_context(settings.tls_ca))
    client.tls_insecure_set(settings.tls_insecure)


def settings_from_config(config: StationConfig) -> LinkSettings | None:
    """LinkSettings from the station config; None when it has no ``mqtt`` section.

    Reads ``mqtt.password_file`` and loads ``mqtt.tls.ca``; raises ConfigError naming the
    key and the file when either cannot be used.
    """
    m = config.mqtt
    if m is None:
        return None
    source = str(config.source)
    password = read_password_file(m.password_file, source) if m.password_file else None
    if m.tls is not None and m.tls.ca is not None:
        check_ca_file(m.tls.ca, source)
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
