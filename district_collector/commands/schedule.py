"""``radio-district schedule publish|show``: send the month's catalogue, see what stations took."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from district_collector.config import DistrictConfig, load_district_config
from district_collector.schedules.publish import (
    prepare_schedules,
    resolve_media,
    send_schedules,
    target_stations,
)
from district_collector.schedules.reading import read_catalogue
from district_collector.station_groups import UnknownStationError
from district_collector.store.base import Store
from district_collector.store.opening import open_store
from radio_protocol.cli_base import require_config
from radio_protocol.clock import SystemClock
from radio_protocol.errors import ConfigError
from radio_protocol.jose import Signer, load_private_key
from radio_protocol.messages.status import Status
from radio_protocol.timefmt import format_rfc3339

PROG = "radio-district"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("schedule", help="publish the monthly catalogue; show what stations acked",
                                   description="Schedules: the monthly broadcast catalogue sent to stations.")
    sub = parser.add_subparsers(dest="schedule_command", metavar="ACTION")
    sub.required = True
    pub = sub.add_parser(
        "publish", help="validate CATALOGUE, sign one schedule per station (next version), publish retained",
        description="Validate the catalogue, read each media file once (sha256, bytes, duration), "
                    "sign one schedule per station with its next version, store it and publish it "
                    "retained (QoS 1) to the station's schedule topic. A station keeps one schedule, "
                    "so the slots the previous one still has to air before this catalogue's month "
                    "(from now on) are carried into the new one; its slots inside the month are "
                    "replaced (publishing a month again corrects it).")
    pub.add_argument("catalogue", help="the catalogue: YAML, the Excel template (.xlsx) or a calendar (.ics)")
    pub.add_argument("--stations", help="comma-separated station ids or groups (default: the catalogue's, "
                                        "else all)")
    pub.add_argument("--no-send", action="store_true", help="sign and store only (e.g. broker down)")
    pub.set_defaults(func=cmd_publish)
    show = sub.add_parser("show", help="per station: version published, version acked, errors, missing media",
                          description="Per station, from the store (read-only): the schedule version "
                                      "published, the version its latest status says it applied, its state "
                                      "and next slot, and its problems (offline, never seen, not yet "
                                      "applied, schedule error, media missing).")
    show.add_argument("station", nargs="?", help="one station id (default: all)")
    show.set_defaults(func=cmd_show)


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M") if at else "-"


def cmd_publish(args: argparse.Namespace) -> int:
    config = load_district_config(require_config(args, PROG))
    catalogue = read_catalogue(args.catalogue, config)
    try:
        only = config.expand_stations(args.stations.split(",")) if args.stations else None
    except UnknownStationError as exc:
        raise ConfigError([f"--stations: {exc}"]) from exc
    stations = target_stations(catalogue, config, only)
    signer = Signer(load_private_key(config.signing_key))
    media = resolve_media(catalogue, config)
    with open_store(config) as store:
        prepared = prepare_schedules(catalogue, config, store, signer, media, stations, SystemClock().now())
    results = {p.station: "stored, not sent (--no-send)" for p in prepared} if args.no_send \
        else send_schedules(config, prepared)
    failures = 0
    for item in prepared:
        error = results.get(item.station)
        print(f"{item.station}: version {item.version}, {item.slots} slots "
              f"({_when(item.first_at)} .. {_when(item.last_at)}), "
              f"{len(item.payload['segments'])} segments, {len(item.jws)} bytes: "
              f"{'published' if error is None else error}")
        carried = item.carried
        if carried is not None and carried.slots:
            print(f"  carried over from version {carried.from_version}: {carried.slots} slots still to air "
                  f"({_when(carried.first_at)} .. {_when(carried.last_at)}), "
                  f"segments {', '.join(carried.segments)}")
        elif item.version > 1:
            print("  carried over: nothing (no slot of the previous version is left before this catalogue)")
        if carried is not None and carried.dropped_after:
            print(f"  warning: the previous version had {carried.dropped_after} slots after this catalogue's "
                  "period; they are replaced and will not air")
        if item.weeks_without_airing:
            weeks = ", ".join(str(w) for w in item.weeks_without_airing)
            print(f"  warning: no chuyen-doi-so airing in ISO week(s) {weeks}")
        if error is not None and not args.no_send:
            failures += 1
    if not prepared:
        print("no station has a slot in this catalogue: nothing published")
        return 1
    return 1 if failures else 0


@dataclass(frozen=True)
class ScheduleRow:
    """One station's line of ``schedule show``: the version published to it, and what its
    latest readable status (``status``, None if it has none) says it applied."""

    station: str
    published: int | None
    status: Status | None

    @property
    def acked(self) -> int | None:
        return None if self.status is None else self.status.schedule_version

    @property
    def state(self) -> str | None:
        return None if self.status is None else self.status.state

    @property
    def next_slot(self) -> str | None:
        """The station's next slot as it wrote it (RFC 3339, its offset), or None."""
        at = None if self.status is None else self.status.next_slot
        return None if at is None else format_rfc3339(at)


def schedule_rows(config: DistrictConfig, store: Store, station: str | None = None) -> list[ScheduleRow]:
    """Per station: published version and the latest status (acked version, state, error,
    missing media); a stored status that no longer reads counts as none."""
    ids = [s.id for s in config.stations]
    if station is not None:
        if station not in ids:
            raise ConfigError([f"station {station!r} is not registered in {config.source}"])
        ids = [station]
    rows = []
    for sid in ids:
        latest = store.latest_schedule(sid)
        stored = store.status(sid)
        rows.append(ScheduleRow(sid, latest[0] if latest else None, stored.status() if stored else None))
    return rows


def cmd_show(args: argparse.Namespace) -> int:
    config = load_district_config(require_config(args, PROG))
    with open_store(config, read_only=True) as store:
        rows = schedule_rows(config, store, args.station)
    print(f"{'station':<20} {'published':>9} {'acked':>5}  {'state':<8} {'next slot':<30} problems")
    for r in rows:
        problems = _problems(r)
        print(f"{r.station:<20} {r.published if r.published is not None else '-':>9} "
              f"{r.acked if r.acked is not None else '-':>5}  {r.state or '-':<8} "
              f"{r.next_slot or '-':<30} {'; '.join(problems) or 'ok'}")
    return 0


def _problems(r: ScheduleRow) -> list[str]:
    """What stands between the station and airing its published schedule ([] when nothing)."""
    problems = []
    if r.status is None:
        problems.append("never seen (no status received)" if r.published is None else "no status yet")
    elif r.status.state == "offline":
        since = f"offline since {_when(r.status.at)}"
        problems.append(f"{since}: gets version {r.published} when it reconnects"
                        if r.published is not None and r.acked != r.published
                        else f"{since}: nothing heard from it until it reconnects")
    if r.published is not None and r.acked != r.published and r.status is not None:
        problems.append("not yet applied")
    if r.status is not None and r.status.schedule_error:
        problems.append(f"error: {r.status.schedule_error}")
    if r.status is not None and r.status.media_missing:
        problems.append("media missing: " + ", ".join(r.status.media_missing))
    return problems
