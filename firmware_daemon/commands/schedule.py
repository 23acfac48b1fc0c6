"""``radio-station schedule``: the schedule in force at this station and its next slots."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import tzinfo

from firmware_daemon.config import load_station_config
from firmware_daemon.schedule.media_cache import MediaCache
from firmware_daemon.schedule.store import ScheduleStore
from radio_protocol.cli_base import Subcommands, require_config
from radio_protocol.clock import SystemClock
from radio_protocol.schedule.expand import Slot, expand, next_slots
from radio_protocol.timefmt import parse_rfc3339

PROG = "radio-station"


def register(subparsers: Subcommands) -> None:
    parser = subparsers.add_parser(
        "schedule", help="show the schedule in force and the next slots",
        description="Show the schedule in force at this station (version, validity, segments and "
                    "whether their media is cached), the last schedule error, and the next slots.")
    parser.add_argument("--next", type=int, default=10, metavar="N", help="how many next slots (default 10)")
    parser.add_argument("--at", metavar="TIME",
                        help="list slots after TIME (RFC 3339, e.g. 2024-03-01T00:00:00+07:00) instead of "
                             "this machine's clock (a station run with --simulate aired on its own clock)")
    parser.set_defaults(func=cmd_schedule)


def cmd_schedule(args: argparse.Namespace) -> int:
    config = load_station_config(require_config(args, PROG))
    now_at = parse_rfc3339(args.at) if args.at else SystemClock().now()
    tz = config.tz
    store = ScheduleStore(config.data_dir / "schedule", district=config.station.district,
                          station=config.station.id, keys=config.district_keyring())
    try:
        schedule = store.current
        if store.error:
            print(f"schedule error: {store.error}")
        if schedule is None:
            print(f"no schedule in force at station {config.station.id} (none received yet)")
            return 0 if not store.error else 1
        cache = MediaCache(config.data_dir / "media", config.media)
        since = store.since_at
        print(f"schedule version {schedule.version} for {schedule.station} ({schedule.district}), "
              f"valid {schedule.valid_from}..{schedule.valid_until}, timezone {schedule.timezone}")
        if since is not None:
            print(f"in force since {since.astimezone(tz):%Y-%m-%d %H:%M:%S %z}")
        print("segments:")
        width = max(len(seg.id) for seg in schedule.segments)
        missing = set(cache.missing(schedule))
        for seg in schedule.segments:
            cached = "MEDIA MISSING" if seg.id in missing else "cached"
            kind = f"{seg.program}/{seg.topic or '-'}"
            print(f"  {seg.id:<{width}}  {seg.priority:<9} {kind:<30} "
                  f"{seg.media.duration_s:7.1f} s  {cached:<13} {seg.title}")
        keys = {slot.key for slot in expand(schedule)}  # this schedule's slots only
        counts = store.state_counts(keys)
        so_far = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none yet"
        print(f"slots so far: {so_far} (of {len(keys)} in this schedule)")
        done = store.done_keys()
        upcoming = next_slots(schedule, now_at, max(0, args.next), done)
        clock = "--at" if args.at else "this machine's clock; --at TIME for another moment"
        print(f"next {len(upcoming)} slot(s) still to air after {now_at.astimezone(tz):%Y-%m-%d %H:%M} "
              f"({clock}):")
        _print_slots(upcoming, tz, width)
        if not upcoming:
            left = next_slots(schedule, schedule.start_at, max(0, args.next), done)
            if left:
                print(f"  (none after that moment; this schedule's slots not yet aired, from {schedule.valid_from}:)")
                _print_slots(left, tz, width)
            else:
                print(f"  (none left: every slot of this schedule ({len(keys)}) is aired or recorded)")
    finally:
        store.close()
    return 0



def _print_slots(slots: Sequence[Slot], tz: tzinfo, width: int) -> None:
    for slot in slots:
        local = slot.at.astimezone(tz)
        print(f"  {local:%Y-%m-%d %a %H:%M}  {slot.segment.id:<{width}}  {slot.segment.priority:<9} "
              f"{slot.segment.title}")
