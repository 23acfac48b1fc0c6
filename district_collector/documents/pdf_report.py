"""The evidence report ("tài liệu kiểm chứng") as a printable A4 PDF.

:func:`write_report_pdf` renders the report dict of ``district_collector.scoring.report`` (docs/scoring.md
members plus ``weeks``, ``months``, per-commune ``weeks_grid``, ``airings``, ``excluded``,
``stations``, ``findings``). Layout: the official header and the points table on portrait
pages, the week-by-week grid on landscape pages (one coloured cell per ISO week: ■ aired,
□ not aired, · not required), then the airings, the exclusions, the per-station seq ranges
and findings, and how to verify. The text is real text in a font that covers Vietnamese
(see ``district_collector.documents.pdf``), so it can be searched and extracted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    NextPageTemplate,
    PageBreak,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from district_collector.documents.i18n import (
    DocumentError,
    check_lang,
    format_date,
    t,
    tier_name,
)
from district_collector.documents.pdf import (
    HEAD_BG,
    LANDSCAPE_W,
    PORTRAIT_W,
    Styles,
    build_pdf,
    chunked_tables,
    data_table,
    esc,
    heading,
    official_header,
    pdf_fonts,
    signature_block,
)
from district_collector.documents.pdf_chart import weekly_chart
from district_collector.documents.report_rules import report_criteria, report_unit
from district_collector.documents.report_tables import (
    airing_rows,
    commune_rows,
    excluded_rows,
    finding_rows,
    grid_header,
    grid_lines,
    points_rows,
    points_total_row,
    station_rows,
)

MAX_PDF_AIRINGS = 5000
AIRED_BG, AIRED_FG = colors.HexColor("#c8e6c9"), colors.HexColor("#1b5e20")
MISSED_BG, MISSED_FG = colors.HexColor("#ffcdd2"), colors.HexColor("#b71c1c")
NOTREQ_BG, NOTREQ_FG = colors.HexColor("#eeeeee"), colors.HexColor("#9e9e9e")
GRID_SYMBOL = {"aired": "■", "not-aired": "□", "not-required": "·"}
GRID_COLOURS = {"aired": (AIRED_BG, AIRED_FG), "not-aired": (MISSED_BG, MISSED_FG),
                "not-required": (NOTREQ_BG, NOTREQ_FG)}


def grid_chunks(weeks: Sequence[Mapping[str, Any]], size: int = 53) -> list[tuple[int, int]]:
    """``[start, stop)`` index ranges of the grid tables: one table when the period fits,
    else one per ISO year (at most 53 weeks), so each table reads as one year."""
    if len(weeks) <= size:
        return [(0, len(weeks))]
    chunks: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(weeks) + 1):
        if i == len(weeks) or str(weeks[i].get("week", ""))[:4] != str(weeks[start].get("week", ""))[:4] \
                or i - start == size:
            chunks.append((start, i))
            start = i
    return chunks


def _grid_tables(styles: Styles, report: Mapping[str, Any], lang: str) -> list[Flowable]:
    """One coloured cell per ISO week and commune, 53 weeks per table."""
    weeks = list(report.get("weeks") or [])
    lines = grid_lines(report, lang)
    out: list[Flowable] = []
    fonts = styles.fonts
    label = ParagraphStyle("gl", parent=styles.cell, fontSize=7, leading=8.5)
    fixed = 118 + 44 + 78 + 34
    for start, stop in grid_chunks(weeks):
        part = weeks[start:stop]
        years = sorted({str(w.get("week", ""))[:4] for w in part})
        cell_w = min(14.0, (LANDSCAPE_W - fixed) / max(len(part), 1))
        months_row, numbers_row = grid_header(part, lang)
        head: list[object] = [Paragraph(esc(t("col_commune", lang)), label), *numbers_row,
                              *(Paragraph(esc(t(k, lang)), label) for k in ("col_weeks", "col_tier", "col_points"))]
        year_label = f"{years[0]} - {years[-1]}" if len(years) > 1 else (years[0] if years else "")
        rows: list[list[object]] = [[year_label, *months_row, "", "", ""], list(head)]
        style: list[tuple[Any, ...]] = [
            ("FONT", (0, 0), (-1, -1), fonts.regular, 6.5),
            ("FONT", (1, 0), (len(part), 1), fonts.regular, 5.5),
            ("ALIGN", (1, 0), (-1, -1), "CENTER"), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("GRID", (0, 1), (-1, -1), 0.25, colors.white),
            ("BACKGROUND", (0, 1), (-1, 1), HEAD_BG),
            ("LEFTPADDING", (0, 0), (-1, -1), 1), ("RIGHTPADDING", (0, 0), (-1, -1), 1),
            ("TOPPADDING", (0, 0), (-1, -1), 1), ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
        ]
        col = 1
        while col <= len(part):  # month labels span the weeks that start in that month
            end = col
            while end < len(part) and months_row[end] == "":
                end += 1
            style.append(("SPAN", (col, 0), (end, 0)))
            col = end + 1
        for r, (name, commune, points) in enumerate(lines, start=2):
            grid = list(commune.get("weeks_grid") or [])[start:stop]
            cells: list[object] = [Paragraph(esc(name), label)]
            cells += [GRID_SYMBOL.get(state, "?") for state in grid]
            c = 0
            while c < len(grid):  # one style command per run of equal cells, not per cell
                end = c
                while end + 1 < len(grid) and grid[end + 1] == grid[c]:
                    end += 1
                bg, fg = GRID_COLOURS.get(grid[c], (colors.white, colors.black))
                style += [("BACKGROUND", (c + 1, r), (end + 1, r), bg), ("TEXTCOLOR", (c + 1, r), (end + 1, r), fg)]
                c = end + 1
            cells += [""] * (len(part) - len(grid))
            cells += [f"{commune.get('weeks_aired', 0)}/{commune.get('required_weeks', 0)}",
                      Paragraph(esc(tier_label(commune.get("tier"), lang)), label), points]
            rows.append(cells)
        for r in range(2, len(rows)):
            style.append(("FONT", (1, r), (len(part), r), fonts.bold, 7.5))
        if lines and lines[0][1] is report.get("district"):
            style += [("LINEBELOW", (0, 2), (-1, 2), 1.0, colors.black), ("FONT", (0, 2), (0, 2), fonts.bold, 7)]
        widths = [118.0, *([cell_w] * len(part)), 44.0, 78.0, 34.0]
        table = Table(rows, colWidths=widths, repeatRows=2)
        table.setStyle(TableStyle(style))
        out += [table, Spacer(1, 6)]
    return out


def tier_label(tier: object, lang: str) -> str:
    return tier_name(str(tier) if tier else None, lang)


def _legend(styles: Styles, lang: str) -> Table:
    """Symbol and colour of each grid state, in one row."""
    cells: list[object] = [f"{t('legend', lang)}:"]
    style: list[tuple[Any, ...]] = [("FONT", (0, 0), (-1, -1), styles.fonts.regular, 8),
                                    ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]
    for state, key in (("aired", "legend_aired"), ("not-aired", "legend_not_aired"),
                       ("not-required", "legend_not_required")):
        col = len(cells)
        bg, fg = GRID_COLOURS[state]
        cells += [GRID_SYMBOL[state], t(key, lang)]
        style += [("BACKGROUND", (col, 0), (col, 0), bg), ("TEXTCOLOR", (col, 0), (col, 0), fg),
                  ("ALIGN", (col, 0), (col, 0), "CENTER"), ("FONT", (col, 0), (col, 0), styles.fonts.bold, 9)]
    table = Table([cells], colWidths=[60, 14, 90, 14, 90, 14, 300], hAlign="LEFT")
    table.setStyle(TableStyle(style))
    return table


def report_story(report: Mapping[str, Any], lang: str) -> list[Flowable]:
    """The flowables of the evidence report (exposed for tests and for the evidence bundle)."""
    styles = Styles(pdf_fonts())
    district = dict(report.get("district") or {})
    period = dict(report.get("period") or {})
    name = str(district.get("name") or district.get("id") or "")
    year = str(period.get("to") or period.get("from") or "")[:4]
    level = report.get("region_level")
    story: list[Flowable] = official_header(styles, name, lang, year, PORTRAIT_W,
                                            level=level if isinstance(level, str) else None)
    story += [Paragraph(esc(t("report_title", lang)), styles.title),
              Paragraph(esc(t("report_subtitle", lang)), styles.subtitle),
              Paragraph(f"<b>{esc(t('district', lang))}:</b> {esc(name)}", styles.body),
              Paragraph(f"<b>{esc(t('period', lang))}:</b> " + esc(t(
                  "period_value", lang, from_=_fmt_date(period.get("from")), to=_fmt_date(period.get("to")),
                  tz=period.get("timezone", ""))), styles.body)]
    communes = list(report.get("communes") or [])
    airings = list(report.get("airings") or [])
    no_communes = t("no_communes", lang, ids=", ".join(c.id for c in report_criteria(report).of_level("commune")))
    if not communes and not airings:
        story += [Spacer(1, 12), Paragraph(f"<b>{esc(t('empty_report', lang))}</b>", styles.body)]
    elif not communes:
        story += [Spacer(1, 6), Paragraph(f"<b>{esc(no_communes)}</b>", styles.body)]
    unit = report_unit(report, lang)
    story.append(Paragraph(esc(t("summary_line", lang, unit=unit, airings=district.get("airings", 0),
                                 weeks_aired=district.get("weeks_aired", 0),
                                 required_weeks=district.get("required_weeks", 0),
                                 months_aired=district.get("months_aired", 0),
                                 required_months=district.get("required_months", 0),
                                 tier=tier_label(district.get("tier"), lang))), styles.body))
    story += heading(styles, t("sec_points", lang))
    header, rows = points_rows(report, lang)
    total = points_total_row(report)
    story.append(data_table(styles, header, rows, [90, 46, 160, 124, 45, 45],
                            extra=[("ALIGN", (4, 1), (5, -1), "CENTER"),
                                   *([("FONT", (0, total), (-1, total), styles.fonts.bold, 8),
                                      ("LINEBELOW", (0, total), (-1, total), 1.0, colors.black)]
                                     if total is not None else [])]))
    if communes:
        story += [NextPageTemplate("landscape"), PageBreak(),
                  *heading(styles, t("sec_grid", lang)), _legend(styles, lang), Spacer(1, 4)]
        story += _grid_tables(styles, report, lang)
        header, crow = commune_rows(report, lang)
        story.append(data_table(styles, header, crow, [110, 34, 70, 44, 44, 38, 38, 38, 52, 289]))
        chart = weekly_chart(report, lang, LANDSCAPE_W, styles.fonts.regular)
        if chart is not None:
            story += [Spacer(1, 8), chart]
        story += [NextPageTemplate("portrait"), PageBreak()]
    else:  # keep the numbering of the sections: say why there is no grid
        story += [*heading(styles, t("sec_grid", lang)), Paragraph(esc(no_communes), styles.body)]
    story += heading(styles, t("sec_airings", lang))
    header, arows = airing_rows(report, lang, limit=MAX_PDF_AIRINGS)
    total = len(airings)
    if not arows:
        story.append(Paragraph(esc(t("no_airings", lang)), styles.body))
    else:
        if total > len(arows):
            story.append(Paragraph(esc(t("truncated", lang, shown=len(arows), total=total)), styles.body))
        story += chunked_tables(styles, header, arows, [26, 54, 42, 70, 80, 136, 36, 66])
    story += heading(styles, t("sec_excluded", lang))
    header, xrows = excluded_rows(report, lang)
    story += chunked_tables(styles, header, xrows, [26, 72, 78, 40, 85, 209]) if xrows else [
        Paragraph(esc(t("none_listed", lang)), styles.body)]
    story += heading(styles, t("sec_stations", lang))
    header, srows = station_rows(report, lang)
    story += chunked_tables(styles, header, srows, [78, 86, 56, 40, 120, 44, 40, 46]) if srows else [
        Paragraph(esc(t("none_listed", lang)), styles.body)]
    findings = [Paragraph(f"• {esc(f)}", styles.body) for f in finding_rows(report, lang)] or [
        Paragraph(esc(t("no_findings", lang)), styles.body)]
    # The label never ends a page without its first finding.
    story += [KeepTogether([Spacer(1, 6), Paragraph(f"<b>{esc(t('findings', lang))}:</b>", styles.body),
                            findings[0]]), *findings[1:]]
    verify = _verify_section(styles, report, lang, unit)
    story += verify[:-1]
    story.append(signature_block(styles, lang, PORTRAIT_W, keep_with=verify[-1:]))
    return story


def district_thumbprint(report: Mapping[str, Any]) -> str | None:
    """The district key's RFC 7638 thumbprint when the report carries it."""
    district = report.get("district") or {}
    for value in (report.get("district_key"), district.get("key_thumbprint"),
                  report.get("district_key_thumbprint"), report.get("district_kid")):
        if isinstance(value, str) and value:
            return value
    return None


def _verify_section(styles: Styles, report: Mapping[str, Any], lang: str, unit: str) -> list[Flowable]:
    thumb = district_thumbprint(report)
    command = t("verify_cmd", lang) + (f" --district-key={thumb}" if thumb else "")
    return [*heading(styles, t("sec_verify", lang)),
            Paragraph(esc(t("verify_text", lang, unit=unit)), styles.body),
            Paragraph(esc(command), styles.mono),
            Paragraph(esc(t("verify_after", lang, unit=unit)), styles.body),
            Paragraph(f"<b>{esc(t('thumbprint', lang, unit=unit))}:</b> "
                      f"{esc(thumb or t('thumbprint_unknown', lang, unit=unit))}",
                      styles.body)]


def _fmt_date(value: object) -> str:
    return format_date(str(value) if value else "", "vi")


def write_report_pdf(report: Mapping[str, Any], path: Path | str, lang: str = "vi",
                     generated_at: datetime | None = None) -> Path:
    """Render ``report`` as ``path`` (A4 PDF) in ``lang``; returns the path. ``generated_at``:
    the document's creation time (the bundle's), so the same report gives the same bytes
    (None: the time of writing).

    Raises DocumentError for an unknown language, a missing font or an unwritable path;
    an empty report gives a document saying there is no data.
    """
    check_lang(lang)
    if not isinstance(report, Mapping):
        raise DocumentError("the report to render is not an object")
    title = t("report_doc_title", lang)
    build_pdf(path, title, lang, report_story(report, lang), generated_at)
    return Path(path)

