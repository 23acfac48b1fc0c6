"""``catalogue template`` and ``catalogue ics``: the catalogue as the office works with it.

- ``catalogue template --month YYYY-MM --out FILE.xlsx``: the Excel template of that month
  (:mod:`district_collector.schedules.xlsx_template`), its station dropdown filled from the
  registry (station ids and groups). ``schedule publish FILE.xlsx`` publishes it filled in.
- ``catalogue ics CATALOGUE --out DIR``: any catalogue file (.yaml, .xlsx, .ics) as one
  calendar per station with a slot (``<station>.ics``) and one for all (``all.ics``)
  (:mod:`district_collector.schedules.ics_write`). ``ATTACH`` is the URL the stations get:
  with ``media: {base_url, dir}`` a local file is put in ``media.dir`` exactly as publish
  does; without it, a ``file:`` URI (the calendar then only works on this machine).

Problems are one-line messages and exit 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

from district_collector.commands.catalogue import _check_month
from district_collector.config import load_district_config
from district_collector.documents.i18n import DocumentError
from district_collector.schedules.ics_write import catalogue_calendars
from district_collector.schedules.publish import resolve_media, target_stations
from district_collector.schedules.reading import read_catalogue
from radio_protocol.cli_base import require_config
from radio_protocol.clock import SystemClock

PROG = "radio-district"


def cmd_template(args: argparse.Namespace) -> int:
    from district_collector.schedules.xlsx_template import write_template

    config = load_district_config(require_config(args, PROG))
    month = _check_month(args.month)
    if month is None:
        raise DocumentError("catalogue template needs --month YYYY-MM (the month the catalogue is for)")
    if args.source is not None:
        raise DocumentError(f"catalogue template takes no file ({args.source}); give --out FILE.xlsx")
    out = Path(args.out)
    if out.suffix.lower() != ".xlsx":
        raise DocumentError(f"--out {out}: the template is an Excel workbook: give a name ending in .xlsx")
    if out.is_dir():
        raise DocumentError(f"--out {out}: is a directory; give the workbook's file name")
    try:
        write_template(out, config, int(month[:4]), int(month[5:]))
    except OSError as exc:
        raise DocumentError(f"--out {out}: cannot write: {exc.strerror or exc}") from exc
    print(f"template for {month} written: {out}")
    print(f"  fill in sheet 'Danh mục', then: {PROG} -c {args.config} schedule publish {out}")
    return 0


def cmd_ics(args: argparse.Namespace) -> int:
    config = load_district_config(require_config(args, PROG))
    if args.source is None:
        raise DocumentError("catalogue ics needs the catalogue file: catalogue ics CATALOGUE --out DIR")
    catalogue = read_catalogue(args.source, config)
    stations = target_stations(catalogue, config)
    urls: dict[str, str] = {}
    durations: dict[str, float | None] = {}
    local = tuple(s for s in catalogue.segments if "://" not in s.media)
    if local and config.media is not None:
        for seg_id, media in resolve_media(dataclasses.replace(catalogue, segments=local), config).items():
            urls[seg_id], durations[seg_id] = str(media["url"]), float(media["duration_s"])
    for seg in catalogue.segments:
        if seg.id not in urls:
            urls[seg.id] = seg.media if "://" in seg.media else Path(seg.media).as_uri()
    files = catalogue_calendars(catalogue, stations, config.district.id, config.district.name, urls, durations,
                                SystemClock().now())
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise DocumentError(f"--out {out}: exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            tmp = out / f".{name}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, out / name)
    except OSError as exc:
        raise DocumentError(f"--out {out}: cannot write: {exc.strerror or exc}") from exc
    print(f"calendars for {catalogue.year:04d}-{catalogue.month:02d} written to {out}: {', '.join(files)}")
    if local and config.media is None:
        print("  note: no media: {base_url, dir} in the district config, so ATTACH is a file: URI")
    return 0


ACTIONS: dict[str, Callable[[argparse.Namespace], int]] = {"template": cmd_template, "ics": cmd_ics}
