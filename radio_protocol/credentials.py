"""The broker login files both programs name in their config: the password file and the CA.

The station (``firmware_daemon``) and the district collector (``district_collector``) each log
in to the same broker with a ``mqtt.password_file`` and, with TLS, a ``mqtt.tls.ca``. Both
read and check those files here, so a missing, unreadable or malformed file gets the same
one-line :class:`~radio_protocol.errors.ConfigError` from ``radio-station run``,
``radio-station check``, ``radio-district run`` and ``radio-district check``, naming the
config file (``source``), the key and the file, instead of an ``ssl.SSLError`` traceback
from inside paho.

Only the standard library is used here: the caller hands the :class:`ssl.SSLContext` to its
own paho client (``client.tls_set_context(context)``).
"""

from __future__ import annotations

import ssl
from pathlib import Path

from radio_protocol.errors import ConfigError

PASSWORD_KEY = "mqtt.password_file"
CA_KEY = "mqtt.tls.ca"


def _problem(source: str, key: str, text: str) -> ConfigError:
    """``source: key: text`` (``key: text`` without a source) as a one-problem ConfigError."""
    return ConfigError([f"{source}: {key}: {text}" if source else f"{key}: {text}"])


def password_in_text(text: str) -> str:
    """The password a password file's ``text`` holds: its first line without surrounding
    whitespace ("" for a file that is empty or starts with a blank line)."""
    return text.splitlines()[0].strip() if text.strip() else ""


def read_password_file(path: Path, source: str) -> str:
    """The password in ``path`` (see :func:`password_in_text`).

    Raises ConfigError naming ``source`` and ``mqtt.password_file`` when the file cannot be
    read, is not UTF-8 text, or holds no password.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise _problem(source, PASSWORD_KEY, f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise _problem(source, PASSWORD_KEY, f"{path} is not UTF-8 text") from exc
    password = password_in_text(text)
    if not password:
        raise _problem(source, PASSWORD_KEY, f"{path} is empty")
    return password


def _ca_problem(path: Path, exc: OSError) -> str:
    """Why ``path`` cannot serve as the CA file, in one line (``ssl.SSLError`` is an OSError)."""
    if isinstance(exc, ssl.SSLError):
        return (f"{path} holds no usable PEM CA certificate (expected one or more "
                "-----BEGIN CERTIFICATE----- blocks)")
    return f"cannot read {path}: {exc.strerror or exc}"


def tls_client_context(ca: Path | None, source: str = "") -> ssl.SSLContext:
    """A client context as paho's ``tls_set`` builds it: the broker's certificate and host
    name are checked against ``ca`` (PEM CA certificates), or the system's CA store for None.

    Raises ConfigError naming ``source`` (when given), ``mqtt.tls.ca`` and the file when
    ``ca`` cannot be read or holds no usable PEM certificate.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca is None:
        context.load_default_certs()
        return context
    try:
        context.load_verify_locations(cafile=str(ca))
    except OSError as exc:
        raise _problem(source, CA_KEY, _ca_problem(ca, exc)) from exc
    return context


def check_ca_file(path: Path, source: str) -> None:
    """Load ``path`` as the CA file once; ConfigError naming ``mqtt.tls.ca`` if it cannot be."""
    tls_client_context(path, source)


def login_file_problems(password_file: Path | None, ca: Path | None, source: str) -> list[str]:
    """Every problem with the login files a config names (``mqtt.password_file``, then
    ``mqtt.tls.ca``; None for one it does not name), each a line as :func:`read_password_file`
    and :func:`check_ca_file` word it. Empty when both can be used."""
    problems: list[str] = []
    if password_file is not None:
        try:
            read_password_file(password_file, source)
        except ConfigError as exc:
            problems.extend(exc.problems)
    if ca is not None:
        try:
            check_ca_file(ca, source)
        except ConfigError as exc:
            problems.extend(exc.problems)
    return problems
