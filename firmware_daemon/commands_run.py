"""``radio-station run``: the station service (see :mod:`firmware_daemon.daemon`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime
from typing import Any

from radio_protocol.cli_base import require_config
from radio_protocol.clock import Clock, SimulatedClock
from radio_protocol.errors import ConfigError
from radio_protocol.timefmt import parse_rfc3339

from .config import load_station_config
from .daemon import Daemon
from .instance_lock import instance_lock
from .slot_wiring import install as install_scheduler


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the station service: amplifier off, outbox, MQTT link to the district",
        description="Run the station service until SIGTERM/SIGINT. The amplifier is forced off "
                    "at start and at exit; every event in the outbox is delivered to the district "
                    "whenever the broker is reachable.",
    )
    parser.add_argument(
        "--simulate", metavar="START",
        help="run on a simulated clock starting at START (RFC 3339, e.g. 2024-03-01T00:00:00+07:00): "
             "waits take no real time, so a month of schedule airs in seconds (demo, tests)")
    parser.add_argument(
        "--until", metavar="END",
        help="with --simulate: stop when the simulated clock reaches END (RFC 3339)")
    parser.set_defaults(func=run_command)


SIMULATED_MAX_IDLE_S = 86400.0


def run_command(args: argparse.Namespace) -> int:
    config = load_station_config(require_config(args, "radio-station"))
    if args.until and not args.simulate:
        raise ConfigError(["radio-station run: --until needs --simulate START"])
    clock: Clock | None = None
    until_at = None
    if args.simulate:
        try:
            clock = SimulatedClock(parse_rfc3339(args.simulate))
            until_at = parse_rfc3339(args.until) if args.until else None
        except ValueError as exc:
            raise ConfigError([f"radio-station run: --simulate/--until: {exc}"]) from exc
    daemon = Daemon(config, clock=clock)
    daemon.startup_hooks.append(install_scheduler)
    if clock is not None:
        daemon.max_idle_s = SIMULATED_MAX_IDLE_S
        if until_at is not None:
            daemon.add_timer("simulate-until", _stop_at(daemon, clock, until_at))
    with instance_lock(config.data_dir):  # before the amplifier or the outbox is touched
        return daemon.run()


def _stop_at(daemon: Daemon, clock: Clock, until_at: datetime) -> Callable[[float], float | None]:
    def check(now_mono: float) -> float | None:
        left_s = (until_at - clock.now()).total_seconds()
        if left_s <= 0:
            daemon.request_stop("simulation reached --until")
            return None
        return now_mono + left_s

    return check
