"""``radio-district`` report commands: ``report``, ``evidence`` and ``verify``.

``report`` and ``evidence`` read the collector's store (read-only) and config; ``verify``
needs neither (it reads only the bundle). Without ``--from``/``--to`` they cover this
year's scoring period, or the latest month with events when that period has none
(:mod:`district_collector.commands.report_period`), "this year" taken from the clock
(:func:`default_clock`, replaced in tests).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from district_collector.commands.report_period import choose_period
from district_collector.config import DistrictConfig, load_district_config
from district_collector.evidence.bundle import write_bundle
from district_collector.evidence.verify import format_result, in_vietnamese, verify_bundle
from district_collector.registry import Registry
from district_collector.scoring.compute import Period
from district_collector.scoring.report import (
    report_csv,
    report_table,
)
from district_collector.store.base import Store
from district_collector.store.records import StoredEvent
from district_collector.views.compliance import period_report
from district_collector.views.evidence import evidence_inputs
from district_collector.views.scope import parse_station_list, scope_ids, scoped_registry
from radio_protocol.cli_base import Subcommands, require_config
from radio_protocol.clock import Clock, SystemClock
from radio_protocol.errors import KeyFileError
from radio_protocol.jose import Signer, load_private_key, public_jwk

PROG = "radio-district"


def default_clock() -> Clock:
    return SystemClock()


def _period(args: argparse.Namespace, config: DistrictConfig, clock: Clock) -> Period:
    """The period to cover (:func:`choose_period`); its notes go to stderr, so the report
    on stdout stays one table or JSON object. NoStoreError when there is no store."""
    store = _open_store(config)
    try:
        period, notes = choose_period(args, config.district.timezone, clock, store)
    finally:
        store.close()
    for note in notes:
        print(f"{PROG} {args.command}: {note}", file=sys.stderr)
    return period


def _open_store(config: DistrictConfig) -> Store:
    """The store, read-only; NoStoreError ("no store at PATH ...") when there is none."""
    from district_collector.store.opening import open_store

    return open_store(config, read_only=True)


def _district_keys(config: DistrictConfig, required: bool) -> list[dict[str, str]]:
    try:
        return [public_jwk(load_private_key(config.signing_key).public_key())]
    except KeyFileError:
        if required:
            raise
        return []


def _stations(args: argparse.Namespace, config: DistrictConfig) -> list[str] | None:
    """``--stations`` as station ids (ids, group names, ``all``), checked before anything
    is read or written: UnknownStationError naming the unknown names; None without it."""
    text = getattr(args, "stations", None)
    return None if text is None else config.expand_stations(parse_station_list(text))


def compute_report(config: DistrictConfig, period: Period, district_keys: list[dict[str, str]],
                   with_airings: bool = True, stations: list[str] | None = None) -> dict[str, Any]:
    """The report alone, streamed from the store's report columns (no JWS read): what
    ``report`` prints, by :func:`~district_collector.views.compliance.period_report` (the
    console's ``/api/v1/report`` runs the same). The same dict as :func:`compute` gives;
    without the ``airings`` member when ``with_airings`` is False; ``stations``: of those
    stations alone (:mod:`district_collector.views.scope`)."""
    store = _open_store(config)
    try:
        return period_report(store, config, period, district_keys, with_airings, stations)
    finally:
        store.close()


def compute(config: DistrictConfig, period: Period, district_keys: list[dict[str, str]],
            stations: list[str] | None = None) -> tuple[Registry, list[StoredEvent], list[bytes], dict[str, Any]]:
    """``(registry, period events, schedule JWS, report)`` from the store: what the
    evidence bundle needs (every event's JWS bytes as received), by
    :func:`~district_collector.views.evidence.evidence_inputs` (the console's zip too);
    ``stations``: only those stations' registry entries, events, schedules and report."""
    registry = scoped_registry(config, district_keys, stations=stations)
    store = _open_store(config)
    try:
        events, schedules, report = evidence_inputs(store, config, registry, period,
                                                    scope_ids(registry, None, stations))
    finally:
        store.close()
    return registry, events, schedules, report


def cmd_report(args: argparse.Namespace) -> int:
    config = load_district_config(require_config(args, PROG))
    clock = getattr(args, "clock", None) or default_clock()
    stations = _stations(args, config)
    period = _period(args, config, clock)
    with_airings = args.format == "json" and bool(args.airings)
    report = compute_report(config, period, _district_keys(config, False), with_airings, stations)
    if args.format == "json":
        write_json(report, sys.stdout)
    elif args.format == "csv":
        sys.stdout.write(report_csv(report))
    else:
        sys.stdout.write(report_table(report, config.district.level))
    return 0


def write_json(report: dict[str, Any], out: TextIO) -> None:
    """One JSON object and a newline: compact (the C encoder; a million airings take
    seconds with ``indent``), indented when ``out`` is a terminal, for a reader."""
    pretty = out.isatty()
    out.write(json.dumps(report, ensure_ascii=False, indent=2 if pretty else None))
    out.write("\n")


def cmd_evidence(args: argparse.Namespace) -> int:
    config = load_district_config(require_config(args, PROG))
    clock = getattr(args, "clock", None) or default_clock()
    stations = _stations(args, config)
    period = _period(args, config, clock)
    signer = Signer(load_private_key(config.signing_key))
    registry, events, schedules, report = compute(config, period, [signer.public_jwk], stations)
    out = write_bundle(Path(args.out), events=events, schedules=schedules, registry=registry,
                       report=report, period=period, signer=signer, generated_at=clock.now(),
                       lang=args.lang, criteria=config.criteria_for(period.end))
    print(f"evidence written to {out}: {len(events)} events, {len(schedules)} schedules, "
          f"district key {signer.kid}")
    print(f"  check it with / kiểm tra bằng: {PROG} verify {out} --district-key={signer.kid}")
    for finding in report["findings"]:
        print(f"  finding: {finding}")
        vietnamese = in_vietnamese(finding)
        if vietnamese != finding:
            print(f"    phát hiện: {vietnamese}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    result = verify_bundle(Path(args.dir), args.district_key)
    sys.stdout.write(format_result(result))
    return 0 if result.ok else 1


STATIONS_HELP = ("only these stations: comma-separated station ids and/or group names (groups: of "
                 "district.yaml). The report is then of those stations alone: a commune's criteria are "
                 "computed from its listed stations only, the region's line from the listed stations "
                 "only; other stations' events are not counted anywhere")


def _dates(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD",
                   help="first day of the period (default: 1 January of this year; without "
                        "--from/--to and no event in this year's 1 January .. 10 December, the "
                        "latest month with events)")
    p.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD",
                   help="last day of the period, inclusive (default: 10 December of this year)")


def register(sub: Subcommands) -> None:
    p = sub.add_parser(
        "report", help="broadcast frequency and points per commune (docs/scoring.md)",
        description="Broadcast frequency and points per commune (docs/scoring.md), from the store. "
                    "--format json prints one JSON object: period, district, communes (the "
                    "docs/scoring.md members), weeks, months, excluded, stations and findings; compact "
                    "on one line (indented when stdout is a terminal). The list of every counted "
                    "airing is left out unless --airings is given (it is most of the output: about "
                    "500 bytes per airing); the evidence bundle's report.json always has it.")
    _dates(p)
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--airings", action="store_true",
                   help="json: also list every counted airing (member 'airings'; large: "
                        "about 500 MB for a million events)")
    p.add_argument("--stations", metavar="LIST", help=STATIONS_HELP)
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("evidence", help="write the verifiable evidence bundle of a period into DIR",
                       description="Write the evidence bundle of a period into DIR: report.pdf/.xlsx/.json, "
                                   "events.jsonl (the JWS as received), schedules.jsonl, keys.json and a "
                                   "manifest signed with the district key. A failed run keeps nothing.")
    _dates(p)
    p.add_argument("--out", required=True, metavar="DIR", help="a new or empty directory")
    p.add_argument("--lang", choices=("vi", "en"), default="vi", help="language of report.pdf/.xlsx")
    p.add_argument("--stations", metavar="LIST",
                   help=STATIONS_HELP + "; the bundle then holds only these stations' registry entries, "
                        "events, schedules and report, and verifies on its own")
    p.set_defaults(func=cmd_evidence)
    p = sub.add_parser("verify", help="check an evidence bundle (no config, no database needed)",
                       description="Check an evidence bundle from its files alone: every signature, each "
                                   "station's seq/chain continuity, the manifest's hashes and signature, and "
                                   "the report recomputed from the events. Exit 0 when verified, else 1.")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--district-key", metavar="KID",
                   help="require the manifest to be signed by this district key (RFC 7638 thumbprint)")
    p.set_defaults(func=cmd_verify)

