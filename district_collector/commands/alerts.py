"""``radio-district alerts``: open alerts, history, acknowledge, test the channels.

``alerts`` lists the open alerts, newest first (table, or ``--format json``); ``alerts
history [--since DATE]``; ``alerts ack ID [--note ...]`` stops the reminders of an alert;
``alerts test`` sends one test message to every configured channel now and says which
worked and why not (exit 1 when any failed).
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from district_collector.alerts.api import acknowledge, alert_history, open_alerts, send_test
from district_collector.alerts.messages import KIND_TEXT
from district_collector.alerts.model import Alert
from district_collector.alerts.render import local_time
from district_collector.config import DistrictConfig, load_district_config
from district_collector.store.opening import open_store
from radio_protocol.cli_base import Subcommands, require_config
from radio_protocol.errors import ConfigError

PROG = "radio-district"


def _config(args: argparse.Namespace) -> DistrictConfig:
    return load_district_config(require_config(args, PROG))


def _lang(config: DistrictConfig) -> int:
    return 0 if config.alerts is None or config.alerts.language == "vi" else 1


def _table(alerts: list[Alert], config: DistrictConfig) -> str:
    tz = ZoneInfo(config.district.timezone)
    i = _lang(config)
    head = ("ID", "STATE", "KIND", "COMMUNE", "STATION", "SINCE", "ACK", "WHAT")
    rows = [head] + [(str(a.id), a.state, a.kind, a.detail.get("commune_name") or a.commune or "-",
                      a.station or "-", local_time(a.since, tz), "yes" if a.acked_at else "-",
                      KIND_TEXT.get(a.kind, ((a.kind, a.kind), ("", "")))[0][i]) for a in alerts]
    widths = [max(len(r[c]) for r in rows) for c in range(len(head) - 1)]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]
                     for r in rows)


def _print(alerts: list[Alert], config: DistrictConfig, fmt: str, empty: str) -> None:
    if fmt == "json":
        url = config.alerts.console_url if config.alerts else None
        print(json.dumps([a.as_json(url) for a in alerts], ensure_ascii=False, indent=1))
    elif not alerts:
        print(empty)
    else:
        print(_table(alerts, config))


def cmd_list(args: argparse.Namespace) -> int:
    config = _config(args)
    with open_store(config, read_only=True) as store:
        _print(open_alerts(store), config, args.format, "no open alert")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    config = _config(args)
    since = None
    if args.since:
        try:
            day = date.fromisoformat(args.since)
        except ValueError as exc:
            raise ConfigError([f"{PROG} alerts history: --since: not a date YYYY-MM-DD: {args.since!r}"]) from exc
        since = datetime.combine(day, time(0), ZoneInfo(config.district.timezone))
    with open_store(config, read_only=True) as store:
        _print(alert_history(store, since), config, args.format, "no alert in that period")
    return 0


def _actor() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def cmd_ack(args: argparse.Namespace) -> int:
    config = _config(args)
    open_store(config, read_only=True).close()  # no store (the collector never ran): say so, create nothing
    with open_store(config) as store:
        alert = acknowledge(store, args.id, args.actor or _actor(), args.note, datetime.now(UTC))
    print(f"alert {alert.id} ({alert.kind}, {alert.subject}) acknowledged by {alert.acked_by}: no more reminders")
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    config = _config(args)
    results = send_test(config, datetime.now(UTC))
    for r in results:
        print(f"{r.channel}: {'ok' if r.ok else 'FAILED: ' + (r.error or '')}")
    return 0 if all(r.ok for r in results) else 1


def register(sub: Subcommands) -> None:
    p = sub.add_parser("alerts", help="open alerts (newest first); history, ack, test",
                       description="Alerts the collector raised (radio-district run evaluates them every "
                                   "alerts.interval_s). Without an action: the open alerts, newest first.")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=cmd_list)
    actions = p.add_subparsers(dest="alerts_command", metavar="ACTION")
    h = actions.add_parser("history", help="alerts opened or resolved since a date",
                           description="Every alert opened or resolved since --since (district time), newest first.")
    h.add_argument("--since", metavar="DATE", help="YYYY-MM-DD (default: all)")
    h.add_argument("--format", choices=("table", "json"), default="table")
    h.set_defaults(func=cmd_history)
    a = actions.add_parser("ack", help="acknowledge an alert: no more reminders",
                           description="Acknowledge alert ID (someone is on it): its reminders stop; it still "
                                       "resolves by itself when the problem clears.")
    a.add_argument("id", type=int, metavar="ID")
    a.add_argument("--note", help="what is being done")
    a.add_argument("--actor", help="who acknowledges (default: the login name)")
    a.set_defaults(func=cmd_ack)
    t = actions.add_parser("test", help="send one test message to every channel; say which worked",
                           description="Send one test message to every configured channel (e-mail, webhook) "
                                       "now, not through the queue; print each channel's result. Exit 1 when "
                                       "any channel failed.")
    t.set_defaults(func=cmd_test)
