"""Why the station could not reach its broker: one :class:`LinkFailure` per failed attempt.

paho reports a failed connection in three ways, each translated here into the same
``LinkFailure(kind, detail)``:

- the exception a connect attempt raised (:func:`from_exception`): TLS handshake
  (``ssl.SSLError``, ``ssl.SSLCertVerificationError`` with its verify message, e.g. a CA
  mismatch or a host name mismatch), DNS (``socket.gaierror``), connection refused,
  timeout, any other ``OSError`` (network unreachable, reset...);
- a CONNACK with a failure reason code (:func:`from_connack`): bad user name or password
  and not authorized are ``refused-credentials``; other codes ``connack-refused`` with
  paho's ``ReasonCode`` name;
- the connection ending before any CONNACK (:func:`closed_before_connack`), e.g. plain
  MQTT sent to a TLS port.

``kind`` is a short stable code (:data:`KINDS`), ``detail`` one English sentence for a log
line, a state file and ``radio-station status``. Neither ever holds a password.
"""

from __future__ import annotations

import errno
import socket
import ssl
from dataclasses import dataclass
from typing import Final

from paho.mqtt.reasoncodes import ReasonCode

__all__ = ["KINDS", "LinkFailure", "closed_before_connack", "from_connack", "from_exception"]

KINDS: Final = ("tls-handshake", "refused-credentials", "dns", "connection-refused", "timeout",
                "network", "connack-refused", "closed")
"""Every ``LinkFailure.kind``."""

CREDENTIAL_CODES: Final = frozenset({134, 135})  # Bad user name or password, Not authorized
MAX_DETAIL_CHARS: Final = 300


@dataclass(frozen=True)
class LinkFailure:
    """One failed connection attempt: ``kind`` (one of :data:`KINDS`) and a ``detail``
    sentence. Two failures are "the same failure" when both members are equal."""

    kind: str
    detail: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown link failure kind {self.kind!r}")


def _bounded(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_DETAIL_CHARS else text[: MAX_DETAIL_CHARS - 3] + "..."


def _ssl_reason(exc: ssl.SSLError) -> str:
    """The most specific words an SSLError has (verify message, OpenSSL reason, text)."""
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return f"certificate verify failed: {exc.verify_message}"
    text = exc.strerror or str(exc)
    if exc.reason and exc.reason.lower().replace("_", " ") not in text.lower():
        return f"{exc.reason}: {text}"
    return text


def from_exception(exc: BaseException, host: str, port: int) -> LinkFailure:
    """The failure a connect attempt to ``host:port`` raised (TLS, DNS, refused, timeout...)."""
    where = f"{host}:{port}"
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_code == 62:
        return LinkFailure("tls-handshake", _bounded(
            f"TLS handshake failed with {where}: the broker's certificate does not name "
            f"{host!r} ({_ssl_reason(exc)})"))
    if isinstance(exc, ssl.CertificateError) and not isinstance(exc, ssl.SSLError):
        return LinkFailure("tls-handshake", _bounded(f"TLS handshake failed with {where}: {exc}"))
    if isinstance(exc, ssl.SSLError):
        return LinkFailure("tls-handshake", _bounded(f"TLS handshake failed with {where}: {_ssl_reason(exc)}"))
    if isinstance(exc, socket.gaierror):
        reason = exc.strerror or str(exc)
        return LinkFailure("dns", _bounded(f"DNS lookup of {host!r} failed: {reason}"))
    if isinstance(exc, ConnectionRefusedError):
        return LinkFailure("connection-refused",
                           f"connection refused by {where} (nothing listens on that port, or a firewall)")
    if isinstance(exc, TimeoutError):
        text = str(exc) or "no answer"
        stage = "TLS handshake" if "handshake" in text else "connection"
        return LinkFailure("timeout", _bounded(f"{stage} to {where} timed out ({text})"))
    if isinstance(exc, OSError):
        name = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
        reason = exc.strerror or str(exc) or type(exc).__name__
        return LinkFailure("network", _bounded(f"cannot connect to {where}: {reason} ({name})"))
    return LinkFailure("network", _bounded(f"cannot connect to {where}: {type(exc).__name__}: {exc}"))


def from_connack(reason_code: ReasonCode, host: str, port: int, username: str | None) -> LinkFailure:
    """The failure a CONNACK with a failure ``reason_code`` means (call only when
    ``reason_code.is_failure``)."""
    name = reason_code.getName()
    where = f"{host}:{port}"
    if reason_code.value in CREDENTIAL_CODES:
        return LinkFailure("refused-credentials", _bounded(
            f"broker {where} refused credentials for user {username!r}: {name} "
            "(check mqtt.username and mqtt.password_file against the district's broker)"))
    return LinkFailure("connack-refused", _bounded(
        f"broker {where} refused the connection: {name} (reason code {reason_code.value})"))


def closed_before_connack(reason: str, host: str, port: int, tls: bool) -> LinkFailure:
    """The connection ended before the broker answered CONNECT (paho's ``reason``): the
    broker closed it, or no CONNACK came within the keepalive."""
    hint = "" if tls else "; plain MQTT to a TLS port? (mqtt.tls)"
    return LinkFailure("closed", _bounded(
        f"the connection to {host}:{port} ended before the broker accepted it ({reason}{hint})"))
