"""What the station link needs from the config, checked before anything connects.

:func:`settings_from_config` turns the ``mqtt`` section of the station config into a
frozen :class:`LinkSettings`: it reads the password file and loads the TLS CA file once,
so a missing, unreadable or malformed file is a :class:`ConfigError` naming the key and
the file at startup (``radio-station run`` exits 1 with that line), not an
``ssl.SSLError`` traceback from inside paho. :func:`configure_tls` applies the TLS part
of the settings to a paho client, translating the same failures.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from radio_protocol.errors import ConfigError

if TYPE_CHECKING:
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


def read_password_file(path: Path, source: str) -> str:
    """The first line of ``path``; ConfigError naming ``mqtt.password_file`` otherwise."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{source}: mqtt.password_file: cannot read {path}: {exc.strerror}"]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{source}: mqtt.password_file: {path} is not UTF-8 text"]) from exc
    password = text.splitlines()[0].strip() if text.strip() else ""
    if not password:
        raise ConfigError([f"{source}: mqtt.password_file: {path} is empty"])
    return password


def _ca_problem(path: Path, exc: OSError) -> str:
    """Why ``path`` cannot serve as the CA file, in one line (``ssl.SSLError`` is an OSError)."""
    if isinstance(exc, ssl.SSLError):
        return (f"{path} holds no usable PEM CA certificate (expected one or more "
                "-----BEGIN CERTIFICATE----- blocks)")
    return f"cannot read {path}: {exc.strerror or exc}"


def _tls_context(ca: Path | None) -> ssl.SSLContext:
    """A client context as paho's ``tls_set`` builds it: certificates and host names checked."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca is not None:
        context.load_verify_locations(cafile=str(ca))
    else:
        context.load_default_certs()
    return context


def check_ca_file(path: Path, source: str) -> None:
    """Load ``path`` as the CA file once; ConfigError naming ``mqtt.tls.ca`` if it cannot be."""
    try:
        _tls_context(path)
    except OSError as exc:
        raise ConfigError([f"{source}: mqtt.tls.ca: {_ca_problem(path, exc)}"]) from exc


def configure_tls(client: Any, settings: LinkSettings) -> None:
    """Apply the TLS part of ``settings`` to a paho client (nothing without ``tls``).

    A CA file that cannot be loaded is a ConfigError naming ``mqtt.tls.ca`` and the file.
    """
    if not settings.tls:
        return
    try:
        context = _tls_context(settings.tls_ca)
    except OSError as exc:
        assert settings.tls_ca is not None  # the system store does not fail this way
        raise ConfigError([f"mqtt.tls.ca: {_ca_problem(settings.tls_ca, exc)}"]) from exc
    client.tls_set_context(context)
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
