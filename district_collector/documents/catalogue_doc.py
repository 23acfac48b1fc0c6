"""The month's broadcast catalogue ("danh mục phát sóng") as a printable PDF and an XLSX.

The district issues it each month (the letter asks for "danh mục phát sóng về Chuyển đổi số
hàng tháng, với thời lượng đảm bảo tối thiểu 01 lần/tuần"). :func:`build_catalogue_doc`
turns the district info and the per-station schedule payloads (docs/protocol.md "schedule") into
a plain dict: the segments, each station's airings of the month (``at`` slots and RRULEs
expanded in the schedule's timezone, inside ``valid_from``..``valid_until``), the airings
per ISO week and whether each station meets "at least once a week" in every ISO week lying
wholly inside the month. :func:`write_catalogue_pdf` and :func:`write_catalogue_xlsx`
render that dict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from reportlab.lib import colors
from reportlab.platypus import Flowable, Paragraph, Spacer

from district_collector.documents.i18n import (
    DocumentError,
    check_lang,
    code_text,
    format_date,
    format_duration,
    t,
    weekday_name,
)
from district_collector.documents.pdf import (
    PORTRAIT_W,
    Styles,
    build_pdf,
    data_table,
    esc,
    heading,
    official_header,
    pdf_fonts,
    signature_block,
)
from district_collector.documents.xlsx_cells import SheetWriter, save_workbook, set_widths, styled
from radio_protocol.errors import ScheduleError
from radio_protocol.schedule.model import ScheduleSegment
from radio_protocol.schedule.parse import parse_schedule
from radio_protocol.schedule.rules import build_rule, rule_occurrences

PROGRAM = "chuyen-doi-so"
MIN_PER_WEEK = 1


def month_range(month: str) -> tuple[date, date]:
    """``2024-03`` -> (2024-03-01, 2024-03-31); DocumentError when not ``YYYY-MM``."""
    try:
        first = date.fromisoformat(f"{month}-01")
    except (TypeError, ValueError):
        raise DocumentError(f"month {month!r} is not of the form YYYY-MM") from None
    nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, nxt - timedelta(days=1)


def month_weeks(first: date, last: date) -> list[dict[str, Any]]:
    """The ISO weeks touching the month; ``full`` when all seven days lie inside it."""
    weeks = []
    monday = first - timedelta(days=first.weekday())
    while monday <= last:
        iso = monday.isocalendar()
        sunday = monday + timedelta(days=6)
        weeks.append({"week": f"{iso.year}-W{iso.week:02d}", "start": monday.isoformat(),
                      "end": sunday.isoformat(), "full": monday >= first and sunday <= last})
        monday += timedelta(days=7)
    return weeks


def _default_month(schedules: Sequence[Mapping[str, Any]]) -> str:
    starts = sorted(str(s.get("valid_from") or "") for s in schedules if s.get("valid_from"))
    if not starts:
        raise DocumentError("no month given and no schedule to take it from: give --month YYYY-MM")
    return starts[0][:7]


def _station_airings(payload: Mapping[str, Any], first: date, last: date) -> tuple[Any, list[dict[str, Any]]]:
    """The parsed schedule and its airings inside the month and its validity, in order."""
    station = payload.get("station", "?") if isinstance(payload, Mapping) else "?"
    try:
        schedule = parse_schedule(payload)
    except ScheduleError as exc:
        raise DocumentError(f"schedule of station {station}: " + "; ".join(exc.problems)) from exc
    tz = schedule.tz
    lo = max(first, schedule.valid_from)
    hi = min(last, schedule.valid_until)
    lo_at = datetime.combine(lo, time(0), tz)
    hi_at = datetime.combine(hi + timedelta(days=1), time(0), tz)
    found: list[tuple[datetime, int, str]] = []
    for slot in schedule.slots:
        if slot.at is not None:
            if lo_at <= slot.at < hi_at:
                found.append((slot.at.astimezone(tz), slot.index, slot.segment))
        elif slot.rrule is not None and slot.dtstart is not None:
            rule = build_rule(slot.rrule, slot.dtstart)
            found += [(occ.astimezone(tz), slot.index, slot.segment) for occ in rule_occurrences(rule, lo_at, hi_at)]
    airings = []
    for at, _, seg_id in sorted(found):
        seg = schedule.segment(seg_id)
        iso = at.date().isocalendar()
        airings.append({"date": at.date().isoformat(), "time": at.strftime("%H:%M"), "weekday": at.weekday(),
                        "week": f"{iso.year}-W{iso.week:02d}", "segment": seg_id, "title": seg.title,
                        "program": seg.program})
    return schedule, airings


def build_catalogue_doc(district: Mapping[str, Any], schedules: Sequence[Mapping[str, Any]],
                        month: str | None = None, communes: Mapping[str, str] | None = None,
                        unscheduled: Sequence[str] = ()) -> dict[str, Any]:
    """The catalogue of ``month`` (``YYYY-MM``; default: the month of the earliest ``valid_from``).

    ``district``: ``id``, ``name``, ``timezone``. ``schedules``: schedule payloads, one per
    station. ``communes``: station id -> commune name, for the reader. ``unscheduled``:
    stations with no schedule this month (listed with no airing, so the gap shows).
    Raises DocumentError naming the station when a payload is not a valid schedule.
    """
    month = month or _default_month(schedules)
    first, last = month_range(month)
    weeks = month_weeks(first, last)
    full_weeks = [w["week"] for w in weeks if w["full"]]
    segments: dict[str, dict[str, Any]] = {}
    stations = []
    for payload in schedules:
        schedule, airings = _station_airings(payload, first, last)
        for seg in schedule.segments:
            entry = segments.setdefault(seg.id, {
                "id": seg.id, "title": seg.title, "program": seg.program, "topic": seg.topic,
                "priority": seg.priority, "duration_s": seg.media.duration_s, "stations": [],
                "lufs": _published_lufs(seg)})
            entry["stations"].append(schedule.station)
        per_week = {w["week"]: 0 for w in weeks}
        for a in airings:
            if a["program"] == PROGRAM:
                per_week[a["week"]] = per_week.get(a["week"], 0) + 1
        short = [w for w in full_weeks if per_week.get(w, 0) < MIN_PER_WEEK]
        stations.append({
            "id": schedule.station, "commune": (communes or {}).get(schedule.station, ""),
            "version": schedule.version, "valid_from": schedule.valid_from.isoformat(),
            "valid_until": schedule.valid_until.isoformat(), "timezone": schedule.timezone,
            "airings": airings, "per_week": per_week, "total": sum(per_week.values()),
            "meets_weekly": not short, "short_weeks": short,
        })
    for station_id in unscheduled:
        stations.append({
            "id": station_id, "commune": (communes or {}).get(station_id, ""), "version": None,
            "valid_from": None, "valid_until": None, "timezone": None, "airings": [],
            "per_week": {w["week"]: 0 for w in weeks}, "total": 0, "meets_weekly": False,
            "short_weeks": list(full_weeks)})
    return {"district": dict(district), "month": month, "first": first.isoformat(), "last": last.isoformat(),
            "weeks": weeks, "segments": list(segments.values()), "stations": stations}


def _published_lufs(seg: ScheduleSegment) -> float | None:
    """The loudness of the file the stations air: the target when the district normalised
    it, else what it measured; None when the schedule carries no ``loudness``."""
    loud = seg.loudness
    if loud is None:
        return None
    return round(loud.target_lufs if loud.target_lufs is not None else loud.measured_lufs, 1)


def _segment_rows(doc: Mapping[str, Any], lang: str) -> tuple[list[str], list[list[Any]]]:
    """No, title, topic, duration, priority, [loudness (LUFS) when any segment has one], ID."""
    segments = list(doc.get("segments") or [])
    loudness = any(s.get("lufs") is not None for s in segments)
    header = [t("col_no", lang), t("col_title", lang), t("col_topic", lang), t("col_duration", lang),
              t("col_priority", lang), *([t("col_lufs", lang)] if loudness else []), "ID"]
    rows = [[i, s["title"], code_text(s.get("topic"), lang), format_duration(s.get("duration_s")),
             code_text(s.get("priority"), lang), *([s.get("lufs")] if loudness else []), s["id"]]
            for i, s in enumerate(segments, start=1)]
    return header, rows


def _slot_rows(station: Mapping[str, Any], lang: str) -> tuple[list[str], list[list[Any]]]:
    header = [t("col_no", lang), t("col_weekday", lang), t("col_date", lang), t("col_time", lang),
              t("col_segment", lang), t("col_week", lang)]
    rows = [[i, weekday_name(a["weekday"], lang), format_date(a["date"], lang), a["time"], a["title"], a["week"]]
            for i, a in enumerate(station.get("airings") or [], start=1)]
    return header, rows


def _week_rows(doc: Mapping[str, Any], lang: str) -> tuple[list[str], list[list[Any]]]:
    weeks = list(doc.get("weeks") or [])
    header = [t("col_station", lang), t("col_commune", lang),
              *[w["week"][-3:] + ("" if w["full"] else "*") for w in weeks],
              t("col_total", lang), t("col_meets", lang)]
    rows = []
    for s in doc.get("stations") or []:
        verdict = t("yes", lang) if s["meets_weekly"] else f"{t('no', lang)} ({', '.join(s['short_weeks'])})"
        rows.append([s["id"], s.get("commune", ""), *[s["per_week"].get(w["week"], 0) for w in weeks],
                     s["total"], verdict])
    stations = list(doc.get("stations") or [])
    if len(stations) > 1:  # the whole district's airings per week, the figure the office reports
        rows.append([t("all_stations", lang), f"{len(stations)} {t('col_station', lang).lower()}",
                     *[sum(int(s["per_week"].get(w["week"], 0)) for s in stations) for w in weeks],
                     sum(int(s["total"]) for s in stations), ""])
    return header, rows


def _mm_yyyy(doc: Mapping[str, Any]) -> tuple[str, str]:
    month = str(doc.get("month") or "0000-00")
    return month[5:7], month[:4]


def catalogue_story(doc: Mapping[str, Any], lang: str) -> list[Flowable]:
    styles = Styles(pdf_fonts())
    district = doc.get("district") or {}
    name = str(district.get("name") or district.get("id") or "")
    mm, yyyy = _mm_yyyy(doc)
    level = district.get("level")
    story: list[Flowable] = official_header(styles, name, lang, yyyy, PORTRAIT_W, doc_code="DM-UBND",
                                            level=level if isinstance(level, str) else None)
    story += [Paragraph(esc(t("cat_title", lang)), styles.title),
              Paragraph(esc(t("cat_subtitle", lang, mm=mm, yyyy=yyyy)), styles.subtitle),
              Paragraph(esc(t("cat_basis", lang)), styles.body)]
    stations = list(doc.get("stations") or [])
    if not stations:
        story += [Spacer(1, 10), Paragraph(f"<b>{esc(t('no_stations', lang))}</b>", styles.body)]
    story += heading(styles, t("cat_sec_segments", lang))
    header, rows = _segment_rows(doc, lang)  # the ID column is for the spreadsheet only
    widths = [28, 232, 140, 50, 60] if len(header) == 6 else [28, 196, 120, 50, 60, 56]
    story.append(data_table(styles, header[:-1], [[*r[:5], *("-" if v is None else f"{v:.1f}" for v in r[5:-1])]
                                                  for r in rows], widths) if rows
                 else Paragraph(esc(t("none_listed", lang)), styles.body))
    story += heading(styles, t("cat_sec_slots", lang))
    for s in stations:
        where = f" - {s['commune']}" if s.get("commune") else ""
        facts = []
        if s.get("version") is not None:
            facts.append(f"{esc(t('col_version', lang))} {s['version']}")
        if s.get("valid_from"):
            facts.append(f"{esc(t('col_valid', lang))} {format_date(s['valid_from'], lang)} - "
                         f"{format_date(s['valid_until'], lang)}")
        story += heading(styles, f"<b>{esc(t('col_station', lang))} {esc(s['id'])}{esc(where)}</b>"
                         + (f" ({'; '.join(facts)})" if facts else ""), sub=True)
        header, rows = _slot_rows(s, lang)
        story.append(data_table(styles, header, rows, [28, 62, 66, 42, 246, 66]) if rows
                     else Paragraph(esc(t("no_slots", lang)), styles.body))
        story.append(Spacer(1, 6))
    header, rows = _week_rows(doc, lang)
    n_weeks = len(doc.get("weeks") or [])
    fixed = 80 + 96 + 34 + 110
    widths = [80, 96, *([(PORTRAIT_W - fixed) / max(n_weeks, 1)] * n_weeks), 34, 110]
    closing: list[Flowable] = heading(styles, t("cat_sec_weekly", lang))
    if rows:
        total_row = [("FONT", (0, -1), (-1, -1), styles.fonts.bold, 8),
                     ("LINEABOVE", (0, -1), (-1, -1), 1.0, colors.black)] if len(stations) > 1 else []
        closing.append(data_table(styles, header, rows, widths, extra=total_row))
    closing += [Spacer(1, 3), Paragraph(esc(t("min_weekly_note", lang)), styles.small)]
    if len(rows) <= 25:  # a short summary stays on the page of the signatures
        story.append(signature_block(styles, lang, PORTRAIT_W, keep_with=closing))
    else:
        story += closing[:-1]
        story.append(signature_block(styles, lang, PORTRAIT_W, keep_with=closing[-1:]))
    return story


def write_catalogue_pdf(doc: Mapping[str, Any], path: Path | str, lang: str = "vi") -> Path:
    """Render the catalogue ``doc`` (from :func:`build_catalogue_doc`) as an A4 PDF."""
    check_lang(lang)
    mm, yyyy = _mm_yyyy(doc)
    title = f"{t('cat_doc_title', lang)} - {mm}/{yyyy}"
    build_pdf(path, title, lang, catalogue_story(doc, lang))
    return Path(path)


def write_catalogue_xlsx(doc: Mapping[str, Any], path: Path | str, lang: str = "vi") -> Path:
    """The catalogue as a workbook: Segments, Schedule (every airing), Per week. Each table
    is an Excel table (a filter on every header); dates and times are Excel dates and times."""
    check_lang(lang)
    mm, yyyy = _mm_yyyy(doc)
    wb = Workbook(write_only=True)
    names: set[str] = set()
    ws = wb.create_sheet(t("sheet_segments", lang))
    set_widths(ws, [8, 50, 36, 12, 14, 24])
    segments = SheetWriter(ws, names)
    segments.append([styled(ws, t("cat_title", lang), bold=True, size=14)])
    segments.append([styled(ws, t("cat_subtitle", lang, mm=mm, yyyy=yyyy), bold=True)])
    district = doc.get("district") or {}
    segments.append([t("district", lang), str(district.get("name") or district.get("id") or "")])
    if not doc.get("stations"):
        segments.append([styled(ws, t("no_stations", lang), bold=True)])
    segments.append([])
    segments.table("segments", *_segment_rows(doc, lang))
    slots_ws = wb.create_sheet(t("sheet_slots", lang))
    set_widths(slots_ws, [18, 22, 10, 12, 8, 44, 20, 10])
    all_rows = []
    for s in doc.get("stations") or []:
        for a in s.get("airings") or []:
            all_rows.append([s["id"], s.get("commune", ""), weekday_name(a["weekday"], lang),
                             date.fromisoformat(a["date"]), time.fromisoformat(a["time"]), a["title"],
                             a["segment"], a["week"]])
    SheetWriter(slots_ws, names).table(
        "schedule", [t("col_station", lang), t("col_commune", lang), t("col_weekday", lang),
                     t("col_date", lang), t("col_time", lang), t("col_segment", lang), "ID",
                     t("col_week", lang)], all_rows)
    weekly_ws = wb.create_sheet(t("sheet_weekly", lang))
    set_widths(weekly_ws, [18, 22, *([9] * len(doc.get("weeks") or [])), 8, 30])
    weekly = SheetWriter(weekly_ws, names)
    weekly.table("per_week", *_week_rows(doc, lang))
    weekly.append([t("min_weekly_note", lang)])
    wb.properties.title = f"{t('cat_doc_title', lang)} - {mm}/{yyyy}"
    wb.properties.creator = "radio-district"
    save_workbook(wb, Path(path))
    return Path(path)
