"""``radio-station status``: what the running service says about itself.

Reads the state file the service writes (:mod:`firmware_daemon.service.state_file`); it
opens no MQTT connection and takes no lock, so it works beside the running daemon (run
it as root or as the service's user: the file is 0640 in the 0700 data directory).
Prints a table (English, like the rest of the station's command line) or the JSON.

Exit codes: :data:`EXIT_OK` (0) running and connected to the broker (or running without
an ``mqtt`` section); :data:`EXIT_NOT_RUNNING` (1) not running, or its state is stale
(also for a missing or unreadable state file or config); :data:`EXIT_LINK_DOWN` (3)
running but not connected (2 is left to command-line usage errors).
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from firmware_daemon.config import load_station_config
from firmware_daemon.service.state_file import (
    STALE_AFTER_INTERVALS,
    StateFile,
    liveness,
    read_state_file,
    state_file_path,
)
from radio_protocol.cli_base import Subcommands, require_config
from radio_protocol.clock import SystemClock
from radio_protocol.timefmt import parse_rfc3339

__all__ = ["EXIT_LINK_DOWN", "EXIT_NOT_RUNNING", "EXIT_OK", "register"]

PROG = "radio-station"
EXIT_OK = 0
EXIT_NOT_RUNNING = 1
EXIT_LINK_DOWN = 3
W = 18  # width of the table's label column

DESCRIPTION = f"""\
Show what the running station service reports about itself: the link to the district's
broker (connected, connecting or down; since when; the last connection error with its
reason, e.g. a TLS handshake failure or refused credentials), events waiting in the
outbox, the schedule in force and the next slot, missing media, the clock and the
amplifier, and the last airing. It reads the state file the service rewrites every few
seconds (data_dir/station-status.json): no MQTT connection, no lock on the service. When
the service is not running, or has not rewritten the file for {STALE_AFTER_INTERVALS} intervals,
it says so and shows the last known state.

exit codes:
  {EXIT_OK}  the service runs and is connected to the broker (or has no mqtt section)
  {EXIT_NOT_RUNNING}  the service is not running, its state is stale, or the file/config cannot be read
  2  command-line usage error
  {EXIT_LINK_DOWN}  the service runs but is not connected to the broker"""


def register(sub: Subcommands) -> None:
    parser = sub.add_parser(
        "status", help="show the running service's link, outbox, schedule and last airing",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--format", choices=("table", "json"), default="table",
                        help="table (default) or json (the state file and the service's liveness)")
    parser.set_defaults(func=cmd_status)


def cmd_status(args: argparse.Namespace) -> int:
    config = load_station_config(require_config(args, PROG))
    path = state_file_path(config.data_dir)
    state = read_state_file(path)
    now_at = SystemClock().now()
    service = "absent" if state is None else liveness(state, now_at)
    if service == "running":
        link = state.link_state if state is not None else None
        code = EXIT_OK if link in (None, "connected") else EXIT_LINK_DOWN
    else:
        code = EXIT_NOT_RUNNING
    if args.format == "json":
        age = None if state is None else round((now_at - state.written_at).total_seconds(), 1)
        print(json.dumps({"service": service, "exit_code": code, "state_file": str(path), "age_s": age,
                          "state": None if state is None else state.data}, ensure_ascii=False, indent=1))
    else:
        print("\n".join(table(service, state, str(path), now_at)))
    return code


# --- the table ------------------------------------------------------------------------


def table(service: str, state: StateFile | None, path: str, now_at: datetime) -> list[str]:
    """The lines ``status`` prints for ``service`` (a :func:`liveness` answer or ``absent``)."""
    if state is None:
        return [_row("Service", f"NOT RUNNING: no state file at {path}"),
                _row("", "(start it: systemctl start radio-station; see journalctl -u radio-station)")]
    d = state.data
    lines = [_row("Station", f"{d.get('station')} (district {d.get('district')})")]
    lines += _service_lines(service, state, now_at)
    lines += _link_lines(d.get("link"), now_at)
    outbox = d.get("outbox") or {}
    lines.append(_row("Pending events", f"{outbox.get('pending')} (last seq {outbox.get('last_seq')})"))
    lines += _schedule_lines(d)
    missing = d.get("media_missing") or []
    lines.append(_row("Media missing", ", ".join(missing) if missing else "none"))
    synced = d.get("clock_synced")
    lines.append(_row("Clock", "synchronized" if synced else "NOT synchronized" if synced is False else "unknown"))
    lines.append(_row("Amplifier", "ON" if d.get("amp_on") else "off"))
    lines.append(_row("Last airing", _airing(d.get("last_airing"))))
    lines.append(_row("Storage", d.get("storage_error") or "ok"))
    return lines


def _row(label: str, value: str) -> str:
    """One table line: ``Label:`` padded to :data:`W`, then ``value`` (no label: indented)."""
    return f"{label + ':' if label else '':<{W}}{value}"


def _when(text: Any, now_at: datetime | None = None) -> str:
    """``2024-03-05 06:30:00 +07:00`` (and ``, N s ago`` given ``now_at``); ``-`` for none."""
    if not text:
        return "-"
    try:
        at = parse_rfc3339(str(text))
    except ValueError:
        return str(text)
    shown = at.strftime("%Y-%m-%d %H:%M:%S %z")
    shown = f"{shown[:-2]}:{shown[-2:]}"
    if now_at is None:
        return shown
    return f"{shown} ({_ago((now_at - at).total_seconds())})"


def _ago(seconds: float) -> str:
    if seconds < 0:
        return "in the future: clock changed?"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit} ago"
    return f"{seconds:.0f} s ago"


def _service_lines(service: str, state: StateFile, now_at: datetime) -> list[str]:
    d = state.data
    daemon = d.get("daemon") or {}
    written = _when(d.get("written_at"), now_at)
    sim = " [simulated clock]" if daemon.get("simulated") else ""
    if service == "running":
        text = f"running (pid {state.pid}, started {_when(daemon.get('started_at'))}){sim}"
    elif service == "stopped":
        text = f"NOT RUNNING: stopped at {_when(daemon.get('stopped_at'))}; last known state below"
    elif service == "gone":
        text = f"NOT RUNNING: process {state.pid} is gone (crashed or killed); last known state below"
    else:
        text = (f"STALE: process {state.pid} has not rewritten its state for over "
                f"{STALE_AFTER_INTERVALS * state.interval_s:.0f} s (hung?); last known state below")
    return [_row("Service", text), _row("State written", written)]


def _link_lines(link: Any, now_at: datetime) -> list[str]:
    if not isinstance(link, dict):
        return [_row("Link", "none (no mqtt section: events stay in the outbox for USB hand-carry)")]
    state = str(link.get("state"))
    shown = {"connected": "connected", "connecting": "CONNECTING", "down": "DOWN",
             "stopped": "stopped"}.get(state, state)
    tls = "TLS" if link.get("tls") else "plain"
    lines = [_row("Link", f"{shown} since {_when(link.get('since'), now_at)}"),
             _row("Broker", f"{link.get('broker')} ({tls})")]
    failures, total = link.get("failures") or 0, link.get("failures_total") or 0
    if failures:
        lines.append(_row("Failed attempts", f"{failures} since the last connect ({total} since start)"))
    err = link.get("last_error")
    if isinstance(err, dict):
        lines.append(_row("Last link error", f"{err.get('kind')} at {_when(err.get('at'), now_at)}"))
        lines.append(_row("", str(err.get("detail"))))
    else:
        lines.append(_row("Last link error", "none"))
    if state != "connected" and link.get("connected_at"):
        lines.append(_row("Last connected", _when(link.get("connected_at"), now_at)))
    return lines


def _schedule_lines(d: dict[str, Any]) -> list[str]:
    s = d.get("schedule") or {}
    if s.get("version") is None:
        lines = [_row("Schedule", "none in force")]
    else:
        text = f"version {s.get('version')}"
        if s.get("valid_from"):
            text += f", valid {s.get('valid_from')} to {s.get('valid_until')}"
        if s.get("in_force_since"):
            text += f", in force since {_when(s.get('in_force_since'))}"
        lines = [_row("Schedule", text)]
    received = s.get("received_version")
    if received is not None and received != s.get("version"):
        lines.append(_row("Newest received", f"version {received} (not in force yet)"))
    if s.get("error"):
        lines.append(_row("Schedule error", str(s.get("error"))))
    slot = d.get("next_slot")
    if isinstance(slot, dict):
        what = f"{slot.get('segment')} \"{slot.get('title')}\"" if slot.get("segment") else ""
        lines.append(_row("Next slot", f"{_when(slot.get('at'))} {what}".rstrip()))
    else:
        lines.append(_row("Next slot", "none"))
    return lines


def _airing(airing: Any) -> str:
    if not isinstance(airing, dict):
        return "none recorded"
    outcome = str(airing.get("outcome"))
    if airing.get("reason"):
        outcome += f" ({airing.get('reason')})"
    when = _when(airing.get("started_at") or airing.get("slot"))
    return f"{outcome}, {when}, {airing.get('segment')} \"{airing.get('title')}\" (seq {airing.get('seq')})"
