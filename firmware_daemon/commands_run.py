"""``radio-station run``: the station service (see :mod:`firmware_daemon.daemon`)."""

from __future__ import annotations

import argparse
from typing import Any

from radio_protocol.cli_base import require_config

from .config import load_station_config
from .daemon import Daemon


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the station service: amplifier off, outbox, MQTT link to the district",
        description="Run the station service until SIGTERM/SIGINT. The amplifier is forced off "
                    "at start and at exit; every event in the outbox is delivered to the district "
                    "whenever the broker is reachable.",
    )
    parser.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    config = load_station_config(require_config(args, "radio-station"))
    return Daemon(config).run()
