"""``radio-district catalogue``: the month's broadcast catalogue as catalogue.pdf + catalogue.xlsx.

Two sources, one document:

- ``catalogue CATALOGUE --out DIR``: the office's catalogue file (.yaml, .xlsx or .ics, read by
  ``district_collector.schedules.reading.read_catalogue``), turned into each station's schedule exactly as ``schedule publish`` would,
  without publishing anything or copying media (local media files are only read for their
  duration; a URL's duration is left blank rather than downloaded).
- ``catalogue --month YYYY-MM --out DIR``: what was actually published to the stations for
  that month (the latest version per station in the collector's ``schedules`` table).

``catalogue template`` and ``catalogue ics`` are in ``commands/catalogue_files.py``.

Every problem (bad catalogue, unknown station, no schedule, unwritable DIR) is a one-line
message and exit 1, never a stack trace.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from district_collector.config import DistrictConfig, load_district_config
from district_collector.documents.catalogue_doc import (
    build_catalogue_doc,
    month_range,
    write_catalogue_pdf,
    write_catalogue_xlsx,
)
from district_collector.documents.i18n import DocumentError
from district_collector.schedules.catalogue import schedule_payload
from district_collector.schedules.reading import read_catalogue
from district_collector.scoring.period import Period
from district_collector.scoring.report import decode_payload
from district_collector.scoring.report import schedules_from_store as stored
from district_collector.store.opening import open_store
from district_collector.store.sqlite import NoStoreError
from radio_protocol.cli_base import Subcommands, require_config
from radio_protocol.clock import SystemClock
from radio_protocol.errors import CommuneRadioError

PROG = "radio-district"
CATALOGUE_PDF = "catalogue.pdf"
CATALOGUE_XLSX = "catalogue.xlsx"
_UNKNOWN_MEDIA = {"sha256": "0" * 64, "url": "https://media.invalid/unknown", "bytes": 1, "duration_s": 1.0}

log = logging.getLogger(__name__)


def _duration_s(path: Path) -> float | None:
    """Seconds of a local audio file, or None when it cannot be read as audio."""
    import soundfile

    try:
        info = soundfile.info(str(path))
    except (RuntimeError, OSError, soundfile.LibsndfileError):
        return None
    return round(info.frames / info.samplerate, 3) if info.samplerate > 0 and info.frames > 0 else None


def schedules_from_catalogue(path: str, config: DistrictConfig) -> tuple[str, list[dict[str, Any]], list[str],
                                                                         dict[str, float | None]]:
    """``(month, payloads, stations without slots, segment durations)`` from a catalogue file."""
    catalogue = read_catalogue(path, config)
    registered = [s.id for s in config.stations]
    stations = list(catalogue.stations or registered)
    unknown = [s for s in stations if s not in registered]
    if unknown:
        raise DocumentError(f"{path}: station(s) {', '.join(unknown)} not registered in {config.source}")
    durations: dict[str, float | None] = {}
    media: dict[str, dict[str, Any]] = {}
    for seg in catalogue.segments:
        known = None if "://" in seg.media else _duration_s(Path(seg.media))
        durations[seg.id] = known
        media[seg.id] = {**_UNKNOWN_MEDIA, "duration_s": known or 1.0}
    issued_at = SystemClock().now()
    payloads: list[dict[str, Any]] = []
    unscheduled: list[str] = []
    for station in stations:
        if not catalogue.slots_for(station):
            unscheduled.append(station)
            continue
        payloads.append(schedule_payload(catalogue, district=config.district.id, station=station, version=1,
                                         issued_at=issued_at, media=media))
    return f"{catalogue.year:04d}-{catalogue.month:02d}", payloads, unscheduled, durations


def _published(config: DistrictConfig, period: Period) -> list[bytes]:
    """The published schedules overlapping ``period``; none before the collector's store exists."""
    try:
        store = open_store(config, read_only=True)
    except NoStoreError:
        return []
    with store:
        return stored(store, period)


def schedules_from_store(config: DistrictConfig, month: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The latest published schedule of each station overlapping ``month``, and the stations without."""
    first, last = month_range(month)
    latest: dict[str, dict[str, Any]] = {}
    for jws in _published(config, Period(first, last, config.district.timezone)):
        payload = decode_payload(jws)
        if not _overlaps(payload, first, last):  # an older month's schedule: not this catalogue
            continue
        station = str(payload.get("station"))
        if station not in latest or int(payload.get("version") or 0) > int(latest[station].get("version") or 0):
            latest[station] = payload
    order = [s.id for s in config.stations]
    payloads = [latest[s] for s in order if s in latest] + [p for s, p in sorted(latest.items()) if s not in order]
    return payloads, [s for s in order if s not in latest]


def _overlaps(payload: Mapping[str, Any], first: date, last: date) -> bool:
    """Whether a schedule's validity (valid_from..valid_until, dates) meets first..last."""
    try:
        return (date.fromisoformat(str(payload.get("valid_from"))) <= last
                and date.fromisoformat(str(payload.get("valid_until"))) >= first)
    except ValueError:
        return True  # malformed dates: let the document say what it can rather than hide it


def _check_month(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        if len(text) != 7:
            raise ValueError
        date.fromisoformat(f"{text}-01")
    except ValueError:
        raise DocumentError(f"--month {text!r}: expected YYYY-MM, e.g. 2024-03") from None
    return text


def cmd_catalogue(args: argparse.Namespace) -> int:
    config = load_district_config(require_config(args, PROG))
    month = _check_month(args.month)
    durations: Mapping[str, float | None] = {}
    if args.catalogue:
        file_month, payloads, unscheduled, durations = schedules_from_catalogue(args.catalogue, config)
        if month is not None and month != file_month:
            raise DocumentError(f"{args.catalogue} is the catalogue of {file_month}, not of --month {month}")
        month = file_month
    elif month is not None:
        payloads, unscheduled = schedules_from_store(config, month)
    else:
        raise DocumentError("give a catalogue file (CATALOGUE.yaml) or --month YYYY-MM "
                            "(the schedules published for that month)")
    communes = {s.id: s.commune_name for s in config.stations}
    district = {"id": config.district.id, "name": config.district.name, "timezone": config.district.timezone,
                "level": config.district.level}
    doc = build_catalogue_doc(district, payloads, month, communes, unscheduled)
    for seg in doc["segments"]:
        if seg["id"] in durations:
            seg["duration_s"] = durations[seg["id"]]
    if args.catalogue:
        for station in doc["stations"]:
            station["version"] = None  # not published yet: no version to show
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise DocumentError(f"--out {out}: exists and is not a directory")
    pdf = write_catalogue_pdf(doc, out / CATALOGUE_PDF, args.lang)
    xlsx = write_catalogue_xlsx(doc, out / CATALOGUE_XLSX, args.lang)
    print(f"catalogue {month} written: {pdf} and {xlsx}")
    if not payloads:
        print(f"  no station has a schedule for {month}")
    for station in doc["stations"]:
        if station.get("valid_from") is None and not args.catalogue:
            print(f"  {station['id']}: no schedule was published for {month}")
            continue
        verdict = ("meets at least once a week" if station["meets_weekly"]
                   else f"does NOT meet once a week (weeks {', '.join(station['short_weeks'])})")
        print(f"  {station['id']}: {station['total']} airing(s) of chuyen-doi-so; {verdict}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from district_collector.commands.catalogue_files import ACTIONS

    try:
        if args.catalogue in ACTIONS:
            return ACTIONS[args.catalogue](args)
        if args.source is not None:
            raise DocumentError(f"one catalogue file only (got {args.catalogue} and {args.source}); "
                                "the actions are: " + ", ".join(ACTIONS))
        return cmd_catalogue(args)
    except CommuneRadioError:
        raise
    except (KeyError, TypeError, ValueError) as exc:  # a malformed stored schedule: say so, no trace
        log.debug("catalogue failed", exc_info=True)
        raise DocumentError(f"cannot build the catalogue: {type(exc).__name__}: {exc}") from exc


def register(sub: Subcommands) -> None:
    p = sub.add_parser("catalogue", help="the month's broadcast catalogue as catalogue.pdf and catalogue.xlsx; "
                                         "the Excel template; calendars (.ics)",
                       description="Render the monthly broadcast catalogue (danh mục phát sóng) from a "
                                   "catalogue file, or from the schedules published for --month. "
                                   "'catalogue template --month YYYY-MM --out FILE.xlsx' writes the Excel "
                                   "template to fill in; 'catalogue ics CATALOGUE --out DIR' writes one "
                                   "calendar (.ics) per station and one for all.")
    p.add_argument("catalogue", nargs="?", metavar="CATALOGUE | template | ics",
                   help="the office's catalogue file (.yaml, .xlsx, .ics), or an action")
    p.add_argument("source", nargs="?", metavar="CATALOGUE", help="for ics: the catalogue file")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="directory for catalogue.pdf and catalogue.xlsx (template: the .xlsx file to write)")
    p.add_argument("--lang", choices=("vi", "en"), default="vi", help="language of the documents (default vi)")
    p.add_argument("--month", metavar="YYYY-MM",
                   help="the month; without a catalogue file, render what was published for it")
    p.set_defaults(func=_run)
