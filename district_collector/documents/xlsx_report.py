"""The evidence report as a spreadsheet (openpyxl, streaming mode).

:func:`write_report_xlsx` writes the sheets Summary (Tổng hợp), Weeks grid (Lưới tuần),
Airings (Lượt phát), Excluded (Không tính) and Stations (Trạm), with the tables of
``report_tables`` (so the spreadsheet says what the PDF says). Every header is in the
document's language; every table is an Excel table with an autofilter; dates and times
are real Excel date/time cells (local time of the period's timezone); the weeks grid
sheet ends with the counted airings per ISO week and commune and their bar chart.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.utils import get_column_letter

from district_collector.documents.i18n import (
    DocumentError,
    check_lang,
    format_date,
    grid_name,
    t,
    tier_name,
)
from district_collector.documents.report_tables import (
    airing_rows,
    commune_rows,
    excluded_rows,
    finding_rows,
    grid_header,
    grid_lines,
    points_rows,
    station_rows,
    weekly_airings,
)
from district_collector.documents.xlsx_cells import SheetWriter, save_workbook, set_widths, styled

GRID_SYMBOL = {"aired": "■", "not-aired": "□", "not-required": "·"}
GRID_FILL = {"aired": "C8E6C9", "not-aired": "FFCDD2", "not-required": "EEEEEE"}
GRID_FONT = {"aired": "1B5E20", "not-aired": "B71C1C", "not-required": "9E9E9E"}
_LEGEND = {"aired": "legend_aired", "not-aired": "legend_not_aired", "not-required": "legend_not_required"}


def _summary_sheet(sheet: SheetWriter, report: Mapping[str, Any], lang: str) -> None:
    ws = sheet.ws
    district = report.get("district") or {}
    period = report.get("period") or {}
    set_widths(ws, [28, 14, 60, 40, 14, 12, 12, 12, 16, 40])
    sheet.append([styled(ws, t("report_title", lang), bold=True, size=14)])
    sheet.append([styled(ws, t("report_subtitle", lang), bold=True)])
    sheet.append([t("district", lang), str(district.get("name") or district.get("id") or "")])
    sheet.append([t("period", lang), t("period_value", lang, from_=format_date(period.get("from"), lang),
                                       to=format_date(period.get("to"), lang), tz=period.get("timezone", ""))])
    sheet.append([t("col_tier", lang), tier_name(district.get("tier"), lang)])
    sheet.append([t("col_weeks", lang), f"{district.get('weeks_aired', 0)}/{district.get('required_weeks', 0)}"])
    sheet.append([t("col_months", lang), f"{district.get('months_aired', 0)}/{district.get('required_months', 0)}"])
    sheet.append([t("col_airings", lang), int(district.get("airings") or 0)])
    sheet.append([])
    if not report.get("communes") and not report.get("airings"):
        sheet.append([styled(ws, t("empty_report", lang), bold=True)])
        sheet.append([])
    sheet.table("points", *points_rows(report, lang))
    sheet.table("communes", *commune_rows(report, lang))


def _grid_sheet(sheet: SheetWriter, report: Mapping[str, Any], lang: str) -> None:
    ws = sheet.ws
    weeks = list(report.get("weeks") or [])
    months, _ = grid_header(weeks, lang)
    set_widths(ws, [28, 12, 26, 10, *([9] * len(weeks))])
    ws.freeze_panes = "E3"
    sheet.append(["", "", "", "", *months])
    header = [t("col_commune", lang), t("col_weeks", lang), t("col_tier", lang), t("col_points", lang),
              *[str(w.get("week", "")) for w in weeks]]
    rows = []
    for name, scope, points in grid_lines(report, lang):
        grid = list(scope.get("weeks_grid") or [])
        cells = [styled(ws, GRID_SYMBOL[state], bold=True, fill=GRID_FILL[state], colour=GRID_FONT[state],
                        center=True) if state in GRID_FILL else state for state in grid]
        rows.append([name, f"{scope.get('weeks_aired', 0)}/{scope.get('required_weeks', 0)}",
                     tier_name(scope.get("tier"), lang), points, *cells, *([""] * (len(weeks) - len(grid)))])
    sheet.table("grid", header, rows)
    for state in ("aired", "not-aired", "not-required"):
        sheet.append([styled(ws, GRID_SYMBOL[state], fill=GRID_FILL[state], colour=GRID_FONT[state], center=True),
                      t(_LEGEND[state], lang), grid_name(state, lang)])
    sheet.append([])
    _weekly_chart(sheet, report, lang)


def _weekly_chart(sheet: SheetWriter, report: Mapping[str, Any], lang: str) -> None:
    """The counted airings per week and commune as a table and a stacked bar chart beside it."""
    weeks, series = weekly_airings(report, lang)
    if not weeks or not series:
        return
    sheet.append([styled(sheet.ws, t("chart_title", lang), bold=True)])
    names: list[str] = []
    for name, _counts in series:  # table headers must be unique
        names.append(name if name not in names else f"{name} ({len(names) + 1})")
    top = sheet.row + 1
    sheet.table("weekly", [t("col_week", lang), *names],
                [[week, *(counts[i] for _name, counts in series)] for i, week in enumerate(weeks)])
    bottom = top + len(weeks)
    chart = BarChart()
    chart.type, chart.grouping, chart.overlap = "col", "stacked", 100
    chart.title = t("chart_title", lang)
    chart.y_axis.title, chart.x_axis.title = t("chart_y", lang), t("chart_x", lang)
    chart.add_data(Reference(sheet.ws, min_col=2, max_col=1 + len(series), min_row=top, max_row=bottom),
                   titles_from_data=True)
    chart.set_categories(Reference(sheet.ws, min_col=1, min_row=top + 1, max_row=bottom))
    chart.width, chart.height = 32.0, 12.0
    sheet.ws.add_chart(chart, f"{get_column_letter(len(series) + 3)}{top}")


def write_report_xlsx(report: Mapping[str, Any], path: Path | str, lang: str = "vi",
                      generated_at: datetime | None = None) -> Path:
    """Write the report's tables as an .xlsx workbook at ``path`` (atomically); returns the path.
    ``generated_at``: the workbook's created/modified time (the bundle's), so the same
    report gives the same bytes (None: the time of writing).

    Written in openpyxl's streaming (write-only) mode, so a year of 1,000 stations stays quick.
    """
    check_lang(lang)
    if not isinstance(report, Mapping):
        raise DocumentError("the report to render is not an object")
    wb = Workbook(write_only=True)
    names: set[str] = set()
    _summary_sheet(SheetWriter(wb.create_sheet(t("sheet_summary", lang)), names), report, lang)
    _grid_sheet(SheetWriter(wb.create_sheet(t("sheet_grid", lang)), names), report, lang)
    for key, builder, widths in (
        ("sheet_airings", lambda: airing_rows(report, lang, full=True, excel=True),
         [6, 12, 10, 16, 22, 40, 10, 17, 10, 18, 12, 20]),
        ("sheet_excluded", lambda: excluded_rows(report, lang, excel=True), [6, 16, 22, 10, 20, 70]),
        ("sheet_stations", lambda: station_rows(report, lang), [16, 22, 14, 10, 40, 12, 10, 14]),
    ):
        sheet = SheetWriter(wb.create_sheet(t(key, lang)), names)
        set_widths(sheet.ws, widths)
        sheet.ws.freeze_panes = "A2"
        sheet.table(key, *builder())
        if key == "sheet_stations":
            sheet.append([styled(sheet.ws, t("findings", lang), bold=True)])
            for finding in finding_rows(report, lang) or [t("no_findings", lang)]:
                sheet.append([finding])
    wb.properties.title = t("report_doc_title", lang)
    wb.properties.creator = "radio-district"
    save_workbook(wb, Path(path), generated_at)
    return Path(path)
