"""The evidence report as a spreadsheet (openpyxl), and the report's tables in words.

The row builders here (``points_rows``, ``commune_rows``, ``airing_rows``, ``excluded_rows``,
``station_rows``, ``grid_header``) turn the report dict into the tables an official reads,
with codes translated; the PDF (``pdf_report``) prints the same tables, so the paper and the
spreadsheet always agree. :func:`write_report_xlsx` writes the sheets Summary (Tổng hợp),
Weeks grid (Lưới tuần), Airings, Excluded and Stations.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell as XlsxCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from district_collector.documents.i18n import (
    DocumentError,
    check_lang,
    code_text,
    finding_text,
    format_date,
    format_duration,
    grid_name,
    region_unit,
    t,
    tier_name,
)
from radio_protocol.durable import atomic_write
from radio_protocol.timefmt import parse_rfc3339, zone

Cell = str | int | float
Rows = list[list[Cell]]

GRID_SYMBOL = {"aired": "■", "not-aired": "□", "not-required": "·"}
GRID_FILL = {"aired": "C8E6C9", "not-aired": "FFCDD2", "not-required": "EEEEEE"}
GRID_FONT = {"aired": "1B5E20", "not-aired": "B71C1C", "not-required": "9E9E9E"}
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _tz(report: Mapping[str, Any]) -> ZoneInfo:
    try:
        return zone(str((report.get("period") or {}).get("timezone") or "Asia/Ho_Chi_Minh"))
    except ValueError:
        return zone("Asia/Ho_Chi_Minh")


def local_time_text(text: object, report: Mapping[str, Any]) -> str:
    """An RFC 3339 time as ``dd/mm/yyyy HH:MM:SS`` in the report's timezone (raw if unparseable)."""
    try:
        at = parse_rfc3339(str(text)).astimezone(_tz(report))
    except ValueError:
        return str(text or "")
    return at.strftime("%d/%m/%Y %H:%M:%S")


def _commune_names(report: Mapping[str, Any]) -> dict[str, str]:
    """Commune code -> name: the scored communes, and ``commune_names`` when the evidence
    bundle adds the registry's (district-level stations sit in a commune that is not scored)."""
    extra = report.get("commune_names")
    names = {str(k): str(v) for k, v in extra.items()} if isinstance(extra, Mapping) else {}
    names.update({str(c.get("code")): str(c.get("name", c.get("code"))) for c in report.get("communes") or []})
    return names


def _commune_name(names: Mapping[str, str], code: object) -> str:
    return names.get(str(code), str(code or ""))


def points_rows(report: Mapping[str, Any], lang: str) -> tuple[list[str], Rows]:
    """Criteria 1.6 and 1.7 for the district and their sum, then 1.5 for each commune."""
    district = report.get("district") or {}
    criteria = district.get("criteria") or {}
    airings = int(district.get("airings") or 0)
    header = [t(k, lang) for k in ("col_unit", "col_criterion", "col_content", "col_result",
                                   "col_max", "col_points")]
    name = str(district.get("name") or district.get("id") or t("level_district", lang))
    has = t("has_programme", lang, n=airings) if airings else t("no_programme", lang)
    rows: Rows = [
        [name, "1.6", t("crit_1.6", lang), has, 10, int(criteria.get("1.6") or 0)],
        [name, "1.7", t("crit_1.7", lang),
         f"{tier_name(district.get('tier'), lang)}; {district.get('weeks_aired', 0)}/"
         f"{district.get('required_weeks', 0)} {t('col_week', lang).lower()}",
         10, int(criteria.get("1.7") or 0)],
        [name, "1.6 + 1.7", t("district_total", lang), "", 20,
         int(criteria.get("1.6") or 0) + int(criteria.get("1.7") or 0)],
    ]
    for commune in report.get("communes") or []:
        rows.append([str(commune.get("name") or commune.get("code") or ""), "1.5", t("crit_1.5", lang),
                     f"{tier_name(commune.get('tier'), lang)}; {commune.get('weeks_aired', 0)}/"
                     f"{commune.get('required_weeks', 0)} {t('col_week', lang).lower()}",
                     20, int((commune.get("criteria") or {}).get("1.5") or 0)])
    return header, rows


def commune_rows(report: Mapping[str, Any], lang: str) -> tuple[list[str], Rows]:
    """One row per commune: counts, schedule compliance and the weeks not aired."""
    header = [t(k, lang) for k in ("col_commune", "col_code", "col_stations", "col_weeks", "col_months",
                                   "col_airings", "col_excluded", "col_conflicts", "col_schedule",
                                   "col_missing_weeks")]
    rows: Rows = []
    for c in report.get("communes") or []:
        schedule = c.get("schedule") or {}
        rows.append([str(c.get("name", "")), str(c.get("code", "")), ", ".join(c.get("stations") or []),
                     f"{c.get('weeks_aired', 0)}/{c.get('required_weeks', 0)}",
                     f"{c.get('months_aired', 0)}/{c.get('required_months', 0)}",
                     int(c.get("airings") or 0), int(c.get("excluded") or 0), int(c.get("conflicts") or 0),
                     f"{schedule.get('aired', 0)}/{schedule.get('scheduled', 0)}",
                     ", ".join(str(w) for w in c.get("missing_weeks") or [])])
    return header, rows


def _slot_text(slot: object, report: Mapping[str, Any], lang: str) -> str:
    if not slot:
        return t("manual", lang)
    try:
        return parse_rfc3339(str(slot)).astimezone(_tz(report)).strftime("%d/%m %H:%M")
    except ValueError:
        return str(slot)


def airing_rows(report: Mapping[str, Any], lang: str, full: bool = False,
                limit: int | None = None) -> tuple[list[str], Rows]:
    """Counted airings in order (date, time, station, commune, segment, duration, slot).

    ``full`` adds seq, segment id, seconds played and the exact ``started_at`` for spreadsheets;
    ``limit`` keeps only the first airings (the printed list is capped, the spreadsheet is not).
    """
    names = _commune_names(report)
    header = [t(k, lang) for k in ("col_no", "col_date", "col_time", "col_station", "col_commune",
                                   "col_segment", "col_duration", "col_slot")]
    if full:
        header += [t("col_seq", lang), "segment_id", "played_s", "started_at"]
    rows: Rows = []
    for i, a in enumerate(list(report.get("airings") or [])[:limit], start=1):
        row: list[Cell] = [i, format_date(a.get("local_date"), lang), str(a.get("local_time") or "")[:8],
                           str(a.get("station", "")), _commune_name(names, a.get("commune")),
                           str(a.get("title") or a.get("segment_id") or ""), format_duration(a.get("played_s")),
                           _slot_text(a.get("slot"), report, lang)]
        if full:
            row += [int(a.get("seq") or 0), str(a.get("segment_id") or ""), float(a.get("played_s") or 0.0),
                    str(a.get("started_at") or "")]
        rows.append(row)
    return header, rows


def excluded_rows(report: Mapping[str, Any], lang: str) -> tuple[list[str], Rows]:
    """Events of the period not counted, each with its first failing reason in words."""
    names = _commune_names(report)
    header = [t(k, lang) for k in ("col_no", "col_station", "col_commune", "col_seq", "col_started",
                                   "col_reason")]
    rows: Rows = []
    for i, x in enumerate(report.get("excluded") or [], start=1):
        rows.append([i, str(x.get("station", "")), _commune_name(names, x.get("commune")),
                     int(x.get("seq") or 0), local_time_text(x.get("started_at"), report),
                     _reason(x, lang)])
    return header, rows


def _reason(entry: Mapping[str, Any], lang: str) -> str:
    text = code_text(str(entry.get("reason") or ""), lang)
    detail = entry.get("outcome") or entry.get("detail")
    if detail and detail != "completed" and ":" not in str(entry.get("reason") or ""):
        text += f" ({code_text(str(detail), lang)})"
    return text


def station_rows(report: Mapping[str, Any], lang: str) -> tuple[list[str], Rows]:
    """Each station's seq range, event count, gaps, chain breaks and conflicts."""
    names = _commune_names(report)
    header = [t(k, lang) for k in ("col_station", "col_commune", "col_seq_range", "col_events",
                                   "col_gaps", "col_chain_breaks", "col_conflicts", "col_bad_signatures")]
    rows: Rows = []
    for s in report.get("stations") or []:
        first, last = s.get("first_seq"), s.get("last_seq")
        seq_range = f"{first}..{last}" if first is not None else "-"
        gaps = ", ".join(f"{a}..{b}" if a != b else f"{a}" for a, b in (s.get("gaps") or []))
        rows.append([str(s.get("id", "")), _commune_name(names, s.get("commune")), seq_range,
                     int(s.get("events") or 0), gaps or "-", _seqs(s.get("chain_breaks")),
                     _seqs(s.get("conflicts")), _seqs(s.get("bad_signatures") or [])])
    return header, rows


def _seqs(value: object) -> str | int:
    """A list of seqs as ``3, 7`` ("-" when empty); a plain count stays a number."""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "-"
    return int(value or 0)  # type: ignore[call-overload]


def finding_rows(report: Mapping[str, Any], lang: str) -> list[str]:
    """The report's findings in ``lang`` (scoring writes them in English)."""
    return [finding_text(str(f), lang) for f in report.get("findings") or []]


def grid_header(weeks: Sequence[Mapping[str, Any]], lang: str) -> tuple[list[str], list[str]]:
    """Month labels (only where a week starts a new month, else "") and week numbers."""
    months: list[str] = []
    numbers: list[str] = []
    last = ""
    for w in weeks:
        start = str(w.get("start") or "")
        month = start[5:7]
        label = ""
        if month and month != last:
            label = f"T{int(month)}" if lang == "vi" else MONTHS_EN[int(month) - 1]
            last = month
        months.append(label)
        numbers.append(str(w.get("week", ""))[-2:])
    return months, numbers


HEAD_FILL = "DFE6EE"


def grid_lines(report: Mapping[str, Any], lang: str) -> list[tuple[str, Mapping[str, Any], str]]:
    """Rows of the weeks grid: (label, scope with ``weeks_grid``, points text).

    The whole district comes first when the report has its grid (points of criterion 1.7),
    then each commune (points of criterion 1.5).
    """
    lines: list[tuple[str, Mapping[str, Any], str]] = []
    district = report.get("district") or {}
    if district.get("weeks_grid"):
        unit = region_unit(str(district.get("name") or ""), lang)
        lines.append((t("whole_district", lang, unit=unit), district,
                      f"{(district.get('criteria') or {}).get('1.7', 0)} (1.7)"))
    for c in report.get("communes") or []:
        lines.append((str(c.get("name", c.get("code", ""))), c, f"{(c.get('criteria') or {}).get('1.5', 0)} (1.5)"))
    return lines


@functools.cache
def _font(bold: bool, size: float | None, colour: str | None) -> Font:
    return Font(bold=bold, size=size, color=colour)


@functools.cache
def _fill(colour: str) -> PatternFill:
    return PatternFill("solid", fgColor=colour)


@functools.cache
def _align(center: bool, wrap: bool) -> Alignment:
    return Alignment(horizontal="center" if center else None, vertical="center", wrap_text=wrap)


def styled(ws: WriteOnlyWorksheet, value: Cell | None, *, bold: bool = False, size: float | None = None,
           fill: str | None = None, colour: str | None = None, center: bool = False,
           wrap: bool = False) -> XlsxCell:
    """A cell for a write-only sheet with the given look (style objects shared, not rebuilt per cell)."""
    cell = WriteOnlyCell(ws, value=value)
    if bold or size or colour:
        cell.font = _font(bold, size, colour)
    if fill:
        cell.fill = _fill(fill)
    if center or wrap:
        cell.alignment = _align(center, wrap)
    return cell


def put_table(ws: WriteOnlyWorksheet, header: Sequence[str], rows: Rows) -> None:
    """Append a bold header, the rows and one blank row to a write-only sheet."""
    ws.append([styled(ws, h, bold=True, fill=HEAD_FILL, wrap=True) for h in header])
    for values in rows:
        ws.append(values)
    ws.append([])


def set_widths(ws: WriteOnlyWorksheet, widths: Sequence[int]) -> None:
    """Column widths (characters); set before the first row of a write-only sheet."""
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = w


def _summary_sheet(ws: WriteOnlyWorksheet, report: Mapping[str, Any], lang: str) -> None:
    district = report.get("district") or {}
    period = report.get("period") or {}
    set_widths(ws, [28, 14, 60, 40, 14, 12, 12, 12, 16, 40])
    ws.append([styled(ws, t("report_title", lang), bold=True, size=14)])
    ws.append([styled(ws, t("report_subtitle", lang), bold=True)])
    ws.append([t("district", lang), str(district.get("name") or district.get("id") or "")])
    ws.append([t("period", lang), t("period_value", lang, from_=format_date(period.get("from"), lang),
                                    to=format_date(period.get("to"), lang), tz=period.get("timezone", ""))])
    ws.append([t("col_tier", lang), tier_name(district.get("tier"), lang)])
    ws.append([t("col_weeks", lang), f"{district.get('weeks_aired', 0)}/{district.get('required_weeks', 0)}"])
    ws.append([t("col_months", lang), f"{district.get('months_aired', 0)}/{district.get('required_months', 0)}"])
    ws.append([t("col_airings", lang), int(district.get("airings") or 0)])
    ws.append([])
    if not report.get("communes") and not report.get("airings"):
        ws.append([styled(ws, t("empty_report", lang), bold=True)])
        ws.append([])
    put_table(ws, *points_rows(report, lang))
    put_table(ws, *commune_rows(report, lang))


_LEGEND = {"aired": "legend_aired", "not-aired": "legend_not_aired", "not-required": "legend_not_required"}


def _grid_sheet(ws: WriteOnlyWorksheet, report: Mapping[str, Any], lang: str) -> None:
    weeks = list(report.get("weeks") or [])
    months, _ = grid_header(weeks, lang)
    set_widths(ws, [28, 12, 26, 10, *([9] * len(weeks))])
    ws.freeze_panes = "E3"
    ws.append(["", "", "", "", *months])
    ws.append([styled(ws, h, bold=True, fill=HEAD_FILL) for h in (
        t("col_commune", lang), t("col_weeks", lang), t("col_tier", lang), t("col_points", lang),
        *[str(w.get("week", "")) for w in weeks])])
    for name, scope, points in grid_lines(report, lang):
        grid = list(scope.get("weeks_grid") or [])
        ws.append([name, f"{scope.get('weeks_aired', 0)}/{scope.get('required_weeks', 0)}",
                   tier_name(scope.get("tier"), lang), points,
                   *[styled(ws, GRID_SYMBOL[state], bold=True, fill=GRID_FILL[state], colour=GRID_FONT[state],
                            center=True) if state in GRID_FILL else state for state in grid]])
    ws.append([])
    for state in ("aired", "not-aired", "not-required"):
        ws.append([styled(ws, GRID_SYMBOL[state], fill=GRID_FILL[state], colour=GRID_FONT[state], center=True),
                   t(_LEGEND[state], lang), grid_name(state, lang)])


def write_report_xlsx(report: Mapping[str, Any], path: Path | str, lang: str = "vi") -> Path:
    """Write the report's tables as an .xlsx workbook at ``path`` (atomically); returns the path.

    Written in openpyxl's streaming (write-only) mode, so a year of 1,000 stations stays quick.
    """
    check_lang(lang)
    if not isinstance(report, Mapping):
        raise DocumentError("the report to render is not an object")
    wb = Workbook(write_only=True)
    _summary_sheet(wb.create_sheet(t("sheet_summary", lang)), report, lang)
    _grid_sheet(wb.create_sheet(t("sheet_grid", lang)), report, lang)
    for key, builder, widths in (
        ("sheet_airings", lambda: airing_rows(report, lang, full=True), [6, 12, 10, 16, 22, 40, 10, 14, 10, 18, 10, 30]),
        ("sheet_excluded", lambda: excluded_rows(report, lang), [6, 16, 22, 10, 22, 50]),
        ("sheet_stations", lambda: station_rows(report, lang), [16, 22, 14, 10, 40, 12, 10, 14]),
    ):
        ws = wb.create_sheet(t(key, lang))
        set_widths(ws, widths)
        ws.freeze_panes = "A2"
        put_table(ws, *builder())
        if key == "sheet_stations":
            ws.append([styled(ws, t("findings", lang), bold=True)])
            for finding in finding_rows(report, lang) or [t("no_findings", lang)]:
                ws.append([finding])
    wb.properties.title = t("report_doc_title", lang)
    wb.properties.creator = "radio-district"
    save_workbook(wb, Path(path))
    return Path(path)


def save_workbook(wb: Workbook, path: Path) -> None:
    """Serialize ``wb`` and write it atomically; DocumentError naming the path on failure."""
    buffer = io.BytesIO()
    wb.save(buffer)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, buffer.getvalue())
    except OSError as exc:
        raise DocumentError(f"cannot write {path}: {exc.strerror or exc}") from exc
