"""``radio-district check``: what ``run`` would refuse, found before it runs.

Validates, and lists every problem at once (exit 1 if any, else one ``OK:`` line, exit 0):

- the config file (every problem :func:`load_district_config` collects, each naming its key);
- the district signing key (``signing_key``): when present, a readable Ed25519 PEM key of
  mode 0600 or stricter; when absent it is not a problem, ``keygen`` makes it (the OK line
  says so);
- the collector's broker password (``mqtt.password_file``): readable UTF-8, not empty;
- the broker's CA (``mqtt.tls.ca``): loadable as PEM CA certificates;
- the PostgreSQL password file (``database_password_file``): readable, mode 0600 or stricter.

It creates and changes nothing (no key, no database), so it is safe on a running server and
in an install script before ``keygen``.
"""

from __future__ import annotations

import argparse

from district_collector.config import DistrictConfig, load_district_config
from radio_protocol.cli_base import Subcommands, print_problems, require_config
from radio_protocol.credentials import login_file_problems
from radio_protocol.errors import CommuneRadioError, ConfigError
from radio_protocol.jose import load_private_key

PROG = "radio-district"


def register(sub: Subcommands) -> None:
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
        return print_problems(path, problems)
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
        tls = config.mqtt.tls
        problems.extend(login_file_problems(config.mqtt.password_file,
                                            tls.ca if tls is not None else None, source))
    if config.database_password_file is not None:
        from district_collector.store.pg_connect import read_password

        try:
            read_password(config.database_password_file)
        except CommuneRadioError as exc:
            problems.append(f"{source}: database_password_file: {exc}")
    if config.alerts is not None and config.alerts.enabled:  # the SMTP password and webhook secret files
        from district_collector.alerts.delivery import build_channels

        try:
            build_channels(config)
        except ConfigError as exc:
            problems.extend(exc.problems)
    return problems
