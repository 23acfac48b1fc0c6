"""``radio-district broadcast FILE``: air an emergency or priority bulletin now (TT39).

Signed like every schedule (no unsigned path, no new trust): per target station, a new
schedule version = its latest published schedule + the bulletin's segment + one slot at
now (or ``--at``) valid for ``--valid-for`` (:mod:`district_collector.schedules.bulletin`),
stored, then published retained. An ``emergency`` bulletin stops a normal or priority
airing in progress (recorded ``interrupted``, reason ``preempted``); a ``priority`` one
airs as soon as the airing in progress ends. Nothing normal ever stops either.

The command then waits (``--wait`` seconds; 0: do not wait) and prints, per station, when
it aired, from the events the collector stores (``radio-district run`` must be running),
or why not yet (:mod:`district_collector.schedules.bulletin_watch`). Exit 0 when every
target station completed it, 1 otherwise (not sent, not aired in time, not completed).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from datetime import datetime
from datetime import time as dtime
from pathlib import Path

from district_collector.config import DistrictConfig, load_district_config
from district_collector.schedules.bulletin import (
    Bulletin,
    bulletin_id,
    bulletin_schedule,
    stage_bulletin_media,
    valid_for,
)
from district_collector.schedules.bulletin_watch import BulletinOutcome, bulletin_outcome, why_not
from district_collector.schedules.publish import PreparedSchedule, send_schedules
from district_collector.station_groups import UnknownStationError
from district_collector.store.opening import open_store
from radio_protocol.cli_base import Subcommands, require_config
from radio_protocol.clock import SystemClock
from radio_protocol.errors import ConfigError, ScheduleError
from radio_protocol.jose import Signer, load_private_key, parse_jws, sha256_hex
from radio_protocol.names import MAX_SCHEDULE_BYTES, SCHEDULE_TYP
from radio_protocol.timefmt import parse_rfc3339, zone

PROG = "radio-district"
POLL_S = 1.0


def register(sub: Subcommands) -> None:
    p = sub.add_parser(
        "broadcast", help="air an emergency/priority bulletin now (or at --at) at the chosen stations",
        description="Air FILE at once: a new signed schedule version per station (its schedule plus "
                    "this bulletin, valid for --valid-for), published retained; then wait and print per "
                    "station when it aired, or why not.")
    p.add_argument("file", help="the bulletin's audio file")
    p.add_argument("--title", required=True, help="the bulletin's title (as the evidence shows it)")
    p.add_argument("--priority", required=True, choices=("emergency", "priority"))
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--stations", help="comma-separated station ids or groups (district.yaml groups:)")
    group.add_argument("--commune", help="every station of this commune code")
    group.add_argument("--all", action="store_true", help="every registered station")
    p.add_argument("--at", help="air at this time (HH:MM today, or an RFC 3339 time) instead of now")
    p.add_argument("--valid-for", default="1h", help="how long a station may still air it late (default 1h)")
    p.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the stations' events (0: none)")
    p.set_defaults(func=cmd_broadcast)


def target_stations(config: DistrictConfig, stations: str | None, commune: str | None,
                    every: bool) -> list[str]:
    """The station ids chosen by ``--stations``/``--commune``/``--all`` (registry order).

    ``--stations`` takes station ids and the registry's groups (``expand_stations``).
    ConfigError for an unknown name or a commune without stations.
    """
    registered = [s.id for s in config.stations]
    if every:
        return registered
    if commune is not None:
        chosen = [s.id for s in config.stations if s.commune_code == commune]
        if not chosen:
            raise ConfigError([f"--commune {commune}: no station of {config.source} is in that commune"])
        return chosen
    wanted = [s.strip() for s in (stations or "").split(",") if s.strip()]
    if not wanted:
        raise ConfigError(["--stations: give at least one station id or group"])
    try:
        return config.expand_stations(wanted)
    except UnknownStationError as exc:
        raise ConfigError([f"--stations: {s!r} is not registered in {config.source} (not a station "
                           "id nor a group)"
                           for s in exc.names]) from exc


def airing_time(text: str | None, now_at: datetime, timezone: str) -> datetime:
    """``--at``: ``HH:MM`` (today, district time) or an RFC 3339 time; now when absent."""
    if text is None:
        return now_at
    try:
        if len(text) <= 5 and ":" in text:
            hh, mm = (int(x) for x in text.split(":"))
            return datetime.combine(now_at.astimezone(zone(timezone)).date(), dtime(hh, mm), zone(timezone))
        return parse_rfc3339(text)
    except ValueError as exc:
        raise ConfigError([f"--at: {text!r} is not HH:MM or an RFC 3339 time with offset: {exc}"]) from exc


def prepare(config: DistrictConfig, bulletin: Bulletin, stations: Sequence[str],
            now_at: datetime) -> list[PreparedSchedule]:
    """Build, check and sign every station's schedule, then store them all (none if one fails)."""
    signer = Signer(load_private_key(config.signing_key))
    built = []
    with open_store(config) as store:
        for station in stations:
            latest = store.latest_schedule(station)
            previous = json.loads(parse_jws(latest[1])[2]) if latest else None
            version = (latest[0] if latest else 0) + 1
            try:
                body = bulletin_schedule(previous, bulletin, district=config.district.id, station=station,
                                         version=version, timezone=config.district.timezone, now_at=now_at)
            except ScheduleError as exc:
                raise ConfigError([f"{station}: the schedule with the bulletin would be refused: {exc}"]) from exc
            jws = signer.sign(body, SCHEDULE_TYP)
            if len(jws) > MAX_SCHEDULE_BYTES:
                raise ConfigError([f"{station}: the schedule with the bulletin is {len(jws)} bytes signed; "
                                   f"a station accepts at most {MAX_SCHEDULE_BYTES}"])
            built.append(PreparedSchedule(station, version, jws, body, len(body["slots"]), bulletin.at,
                                          bulletin.at, ()))
        for item in built:
            store.add_schedule(item.station, item.version, item.jws, sha256_hex(item.jws), now_at)
    return built


def wait_and_report(config: DistrictConfig, bulletin: Bulletin, prepared: Sequence[PreparedSchedule],
                    sent: dict[str, str | None], wait_s: float, since_at: datetime) -> int:
    """Poll the store until every sent station has an event for the bulletin or ``wait_s``
    passes; print one line per station; the exit code."""
    pending = {p.station: p.version for p in prepared if sent.get(p.station) is None}
    results: dict[str, BulletinOutcome] = {}
    deadline = time.monotonic() + wait_s
    with open_store(config, read_only=True) as store:
        while pending and wait_s > 0:
            for station in list(pending):
                found = bulletin_outcome(store, station, bulletin.segment_id)
                if found is not None:
                    results[station] = found
                    pending.pop(station)
                    print(f"{station}: {found.describe(since_at)}", flush=True)
            if not pending or time.monotonic() >= deadline:
                break
            time.sleep(POLL_S)
        failures = 0
        for item in prepared:
            error = sent.get(item.station)
            if error is not None:
                print(f"{item.station}: not sent: {error}")
            elif item.station in pending:
                why = why_not(store, item.station, item.version, bulletin.segment_id)
                print(f"{item.station}: not aired {'yet' if wait_s > 0 else '(not waited for)'}: {why}")
            failures += error is not None or item.station in pending or \
                (item.station in results and results[item.station].outcome != "completed")
    return 1 if failures else 0


def cmd_broadcast(args: argparse.Namespace) -> int:
    config = load_district_config(require_config(args, PROG))
    stations = target_stations(config, args.stations, args.commune, args.all)
    span = valid_for(args.valid_for)
    title = (args.title or "").strip()
    if not 1 <= len(title) <= 300:
        raise ConfigError(["--title: 1 to 300 characters"])
    now_at = SystemClock().now()
    at = airing_time(args.at, now_at, config.district.timezone)
    if at + span <= now_at:
        raise ConfigError([f"--at {args.at}: with --valid-for {args.valid_for} it is already over"])
    media = stage_bulletin_media(Path(args.file), config)
    bulletin = Bulletin(bulletin_id(now_at), title, args.priority, at, at + span, media)
    prepared = prepare(config, bulletin, stations, now_at)
    sent = send_schedules(config, prepared)
    loud = media.get("loudness")
    tz = zone(config.district.timezone)
    level = f", {loud['measured_lufs']} -> {loud['target_lufs']} LUFS" if loud else ""
    print(f"bulletin {bulletin.segment_id} ({args.priority}, {media['duration_s']:.1f} s{level}) at "
          f"{at.astimezone(tz):%H:%M:%S}, valid until {bulletin.until.astimezone(tz):%H:%M:%S}: "
          f"schedule published to {sum(1 for s in sent.values() if s is None)} of {len(prepared)} station(s)",
          flush=True)
    return wait_and_report(config, bulletin, prepared, sent, max(0.0, args.wait), now_at)
