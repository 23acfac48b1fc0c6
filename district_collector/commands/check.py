"""``radio-district check``: what ``run`` would refuse, found before it runs.

Validates, and lists every problem at once (exit 1 if any, else one ``OK:`` line, exit 0):

- the config file (every problem :func:`load_district_config` collects, each naming its key);
- the district signing key (``signing_key``): when present, a readable Ed25519 PEM key of
  mode 0600 or stricter; when absent it is not a problem, ``keygen`` makes it (the OK line
  says so);
- the collector's broker password (``mqtt.password_file``): readable UTF-8, not empty;
- the broker's CA (``mqtt.tls.ca``): loadable as PEM CA certificates.

It creates and changes nothing (no key, no database), so it is safe on a running server and
in an install script before ``keygen``.
"""

from __future__ import annotations

import argparse
import ssl
from pathlib import Path
from typing import Any

from district_collector.config import DistrictConfig, MqttConfig, load_district_config
from radio_protocol.cli_base import require_config
from radio_protocol.errors import CommuneRadioError, ConfigError
from radio_protocol.jose import load_private_key

PROG = "radio-district"


def register(sub: Any) -> None:
    p = sub.add_parser(
        "check", help="validate the config, the signing key and the broker password/CA files",
        description="Validate the district config and the files it names (signing key if present, "
                    "mqtt.password_file, mqtt.tls.ca) without changing anything. Prints OK, or "
                    "every problem found and exits 1.")
    p.set_defaults(func=cmd_check)


def cmd_check(args: argparse.Namespace) -> int:
    """Print OK, or every problem found (config, key, password file, CA file), and exit 1."""
    path = require_config(args, PROG)
    config: DistrictConfig | None = None
    problems: list[str] = []
    try:
        config = load_district_config(path)
    except ConfigError as exc:
        problems.extend(exc.problems)
    if config is not None:
        problems.extend(config_file_problems(config))
    if problems:
        print(f"{path}: {len(problems)} problem(s):")
        for problem in problems:
            print(f"  - {problem}")
        return 1
    assert config is not None
    key_note = "key present" if config.signing_key.exists() else "no key yet (run keygen)"
    print(f"OK: {path} (district {config.district.id}, {len(config.stations)} station(s), {key_note})")
    return 0


def config_file_problems(config: DistrictConfig) -> list[str]:
    """Problems with the files a valid config names: the signing key (only when present),
    the collector's password file and the broker CA. Empty when all can be used."""
    source = str(config.source)
    problems: list[str] = []
    if config.signing_key.exists():
        try:
            load_private_key(config.signing_key)
        except CommuneRadioError as exc:
            problems.append(f"{source}: signing_key: {exc}")
    if config.mqtt is not None:
        problems.extend(_mqtt_problems(config.mqtt, source))
    return problems


def _mqtt_problems(mqtt: MqttConfig, source: str) -> list[str]:
    problems: list[str] = []
    if mqtt.password_file is not None:
        problem = _password_problem(mqtt.password_file)
        if problem:
            problems.append(f"{source}: mqtt.password_file: {problem}")
    if mqtt.tls is not None and mqtt.tls.ca is not None:
        problem = _ca_problem(mqtt.tls.ca)
        if problem:
            problems.append(f"{source}: mqtt.tls.ca: {problem}")
    return problems


def _password_problem(path: Path) -> str | None:
    """Why ``path`` cannot serve as the collector's broker password, or None."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror}"
    except UnicodeDecodeError:
        return f"{path} is not UTF-8 text"
    if not text.strip():
        return f"{path} is empty"
    return None


def _ca_problem(path: Path) -> str | None:
    """Why ``path`` cannot serve as the broker's CA file (as paho's ``tls_set`` loads it), or None."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cafile=str(path))
    except ssl.SSLError:
        return (f"{path} holds no usable PEM CA certificate (expected one or more "
                "-----BEGIN CERTIFICATE----- blocks)")
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror or exc}"
    return None
