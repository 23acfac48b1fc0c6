"""``radio-station run``: the station service (see :mod:`firmware_daemon.daemon`)."""

from __future__ import annotations

import argparse
import logging
import threading
from collections.abc import Callable
from datetime import datetime

from firmware_daemon.config import load_station_config
from firmware_daemon.daemon import Daemon, install_scheduler
from firmware_daemon.service.instance_lock import instance_lock
from firmware_daemon.service.state_report import install_state_file
from radio_protocol.cli_base import Subcommands, require_config
from radio_protocol.clock import Clock, SimulatedClock, SystemClock
from radio_protocol.errors import ConfigError
from radio_protocol.timefmt import parse_rfc3339

log = logging.getLogger(__name__)


def register(subparsers: Subcommands) -> None:
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
UNTIL_DRAIN_S = 10.0  # at --until, wait at most this long (real time) for the last acks
UNTIL_DRAIN_OFFLINE_S = 2.0  # ... and give up sooner when the link is not connected
DRAIN_POLL_S = 0.05
UNTIL_REASON = "simulation reached --until"


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
    reached_until = threading.Event()
    if until_at is not None:
        # first hook, so its cleanup runs after the scheduler's (the last airing recorded)
        # and before the link stops
        def drain_hook(d: Daemon) -> None:
            d.stack.callback(_drain_at_until, d, reached_until)

        daemon.startup_hooks.append(drain_hook)
    daemon.startup_hooks.append(install_scheduler)
    daemon.startup_hooks.append(install_state_file)  # what `radio-station status` reads
    if clock is not None:
        daemon.max_idle_s = SIMULATED_MAX_IDLE_S
        if until_at is not None:
            daemon.add_timer("simulate-until", _stop_at(daemon, clock, until_at, reached_until))
    with instance_lock(config.data_dir):  # before the amplifier or the outbox is touched
        return daemon.run()


def _stop_at(daemon: Daemon, clock: Clock, until_at: datetime,
             reached: threading.Event) -> Callable[[float], float | None]:
    def check(now_mono: float) -> float | None:
        left_s = (until_at - clock.now()).total_seconds()
        if left_s <= 0:
            reached.set()
            daemon.request_stop(UNTIL_REASON)
            return None
        return now_mono + left_s

    return check


def _drain_at_until(daemon: Daemon, reached: threading.Event) -> None:
    """End of a ``--until`` run: let the link deliver what is pending and get the acks (at
    most ``UNTIL_DRAIN_S`` real seconds), so the district does not keep showing stale
    ``pending``. Not on SIGTERM/SIGINT (stop promptly), not without a link, nor without
    district keys (acks could not be verified, so nothing would ever drain)."""
    link, outbox = daemon.link, daemon.outbox
    if not reached.is_set() or link is None or outbox is None:
        return
    if not len(daemon.district_keys):
        log.warning("outbox not drained at --until pending=%d: no district_keys to verify acks",
                    outbox.pending_count())
        return
    real = SystemClock()
    started = real.monotonic()
    offline_since: float | None = None
    pause = threading.Event()
    link.notify()
    while (pending := outbox.pending_count()) > 0:
        now = real.monotonic()
        if link.connected:
            offline_since = None
        elif offline_since is None:
            offline_since = now
        if now - started >= UNTIL_DRAIN_S or (
                offline_since is not None and now - offline_since >= UNTIL_DRAIN_OFFLINE_S):
            seqs = [seq for seq, _ in outbox.unacked(limit=20)]
            more = ", ..." if pending > len(seqs) else ""
            log.warning("outbox not drained at --until pending=%d seqs=%s%s link=%s waited_s=%.1f: "
                        "they are sent at the next start", pending, ",".join(map(str, seqs)), more,
                        "connected" if link.connected else "down", now - started)
            return
        pause.wait(DRAIN_POLL_S)
    log.info("outbox drained at --until waited_s=%.1f", real.monotonic() - started)
