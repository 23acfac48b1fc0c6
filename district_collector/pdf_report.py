"""The evidence report ("tài liệu kiểm chứng") as a printable A4 PDF (reportlab platypus).

:func:`write_report_pdf` renders the report dict of ``district_collector.report`` (SCORING.md
members plus ``weeks``, ``months``, per-commune ``weeks_grid``, ``airings``, ``excluded``,
``stations``, ``findings``). Layout: the official header and the points table on portrait
pages, the week-by-week grid on landscape pages (one coloured cell per ISO week: ■ aired,
□ not aired, · not required), then the airings, the exclusions, the per-station seq ranges
and findings, and how to verify. The text is real text in a TrueType font that covers
Vietnamese (DejaVu Sans, else Noto/Liberation), so it can be searched and extracted.

The page plumbing (fonts, styles, portrait/landscape templates, official header, page
numbers) is shared with ``catalogue_doc``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    KeepTogether,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from district_collector.i18n import DocumentError, check_lang, format_date, t, tier_name
from district_collector.xlsx_report import (
    airing_rows,
    commune_rows,
    excluded_rows,
    finding_rows,
    grid_header,
    grid_lines,
    points_rows,
    station_rows,
)
from radio_protocol.durable import atomic_write

FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu",
    "/usr/share/fonts/truetype/noto",
    "/usr/share/fonts/noto",
    "/usr/share/fonts/opentype/noto",
    "/usr/share/fonts/truetype/liberation",
    "/usr/share/fonts/liberation",
)
FONT_FILES = (
    ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    ("NotoSans-Regular.ttf", "NotoSans-Bold.ttf"),
    ("LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf"),
)
VIETNAMESE_PROBE = "ỦỶẪẬĐđơưễờữ■□·≥"
MAX_PDF_AIRINGS = 5000
MARGIN = 15 * mm

AIRED_BG, AIRED_FG = colors.HexColor("#c8e6c9"), colors.HexColor("#1b5e20")
MISSED_BG, MISSED_FG = colors.HexColor("#ffcdd2"), colors.HexColor("#b71c1c")
NOTREQ_BG, NOTREQ_FG = colors.HexColor("#eeeeee"), colors.HexColor("#9e9e9e")
HEAD_BG = colors.HexColor("#dfe6ee")
GRID_SYMBOL = {"aired": "■", "not-aired": "□", "not-required": "·"}
GRID_COLOURS = {"aired": (AIRED_BG, AIRED_FG), "not-aired": (MISSED_BG, MISSED_FG),
                "not-required": (NOTREQ_BG, NOTREQ_FG)}


@dataclass(frozen=True)
class Fonts:
    regular: str
    bold: str


_fonts: Fonts | None = None


def _covers(font: TTFont, text: str) -> bool:
    cmap = font.face.charToGlyph
    return all(ord(ch) in cmap for ch in text)


def pdf_fonts() -> Fonts:
    """Register a regular and a bold TrueType font that cover Vietnamese (once per process).

    ``COMMUNE_RADIO_FONT`` (and optionally ``COMMUNE_RADIO_FONT_BOLD``) name font files to use
    instead. Raises DocumentError naming the places looked at when none fits.
    """
    global _fonts
    if _fonts is not None:
        return _fonts
    candidates: list[tuple[Path, Path]] = []
    env = os.environ.get("COMMUNE_RADIO_FONT")
    if env:
        candidates.append((Path(env), Path(os.environ.get("COMMUNE_RADIO_FONT_BOLD", env))))
    for folder in FONT_DIRS:
        for regular, bold in FONT_FILES:
            candidates.append((Path(folder) / regular, Path(folder) / bold))
    for regular_path, bold_path in candidates:
        if not regular_path.is_file():
            continue
        try:
            regular = TTFont("CR-Regular", str(regular_path))
            bold = TTFont("CR-Bold", str(bold_path if bold_path.is_file() else regular_path))
        except Exception:  # a broken font file: try the next one
            continue
        if _covers(regular, VIETNAMESE_PROBE) and _covers(bold, VIETNAMESE_PROBE):
            pdfmetrics.registerFont(regular)
            pdfmetrics.registerFont(bold)
            _fonts = Fonts("CR-Regular", "CR-Bold")
            return _fonts
    raise DocumentError(
        "no TrueType font covering Vietnamese was found (looked for DejaVu Sans, Noto Sans, "
        f"Liberation Sans in {', '.join(FONT_DIRS)}); install fonts-dejavu-core or set "
        "COMMUNE_RADIO_FONT to a .ttf file")


class Styles:
    """Paragraph styles of the district's documents, in the registered fonts."""

    def __init__(self, fonts: Fonts) -> None:
        self.fonts = fonts
        self.body = ParagraphStyle("body", fontName=fonts.regular, fontSize=9.5, leading=12.5)
        self.subheading = ParagraphStyle("subheading", parent=self.body, spaceBefore=4, spaceAfter=2)
        self.small = ParagraphStyle("small", parent=self.body, fontSize=7.5, leading=9.5)
        self.cell = ParagraphStyle("cell", parent=self.body, fontSize=8, leading=10)
        self.cell_bold = ParagraphStyle("cellb", parent=self.cell, fontName=fonts.bold)
        self.head_cell = ParagraphStyle("headcell", parent=self.cell, fontName=fonts.bold, alignment=TA_CENTER)
        self.center = ParagraphStyle("center", parent=self.body, alignment=TA_CENTER)
        self.center_bold = ParagraphStyle("centerb", parent=self.center, fontName=fonts.bold)
        self.right = ParagraphStyle("right", parent=self.body, alignment=TA_RIGHT)
        self.title = ParagraphStyle("title", parent=self.body, fontName=fonts.bold, fontSize=14,
                                    leading=18, alignment=TA_CENTER, spaceBefore=8)
        self.subtitle = ParagraphStyle("subtitle", parent=self.body, fontName=fonts.bold, fontSize=11,
                                       leading=14, alignment=TA_CENTER, spaceAfter=8)
        self.heading = ParagraphStyle("heading", parent=self.body, fontName=fonts.bold, fontSize=10.5,
                                      leading=14, spaceBefore=10, spaceAfter=5)
        self.mono = ParagraphStyle("mono", parent=self.body, fontName=fonts.bold, leftIndent=14,
                                   spaceBefore=4, spaceAfter=4)


def heading(styles: Styles, text: str, sub: bool = False) -> list[Flowable]:
    """A (sub)heading that starts a new page rather than sit alone at the foot of one.

    (A condition on the space left, not keepWithNext: that would drag a long table whole onto
    the next page and leave half a page blank.)
    """
    if sub:
        return [CondPageBreak(22 * mm), Paragraph(text, styles.subheading)]
    return [CondPageBreak(30 * mm), Paragraph(esc(text), styles.heading)]


def esc(value: object) -> str:
    """Text made safe for a reportlab Paragraph (which reads a little XML)."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def district_place(name: str) -> str:
    """``Huyện Kon Rẫy`` -> ``Kon Rẫy`` (the place written before the date line)."""
    for prefix in ("Huyện ", "huyện ", "Thị xã ", "Thành phố ", "Quận "):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def committee_name(name: str, lang: str) -> str:
    """The issuing body as printed top left: ``HUYỆN KON RẪY`` / ``KON RẪY DISTRICT``."""
    if lang == "vi":
        return name.upper()
    return f"{district_place(name).upper()} DISTRICT" if name.startswith("Huyện") else name.upper()


def official_header(styles: Styles, district_name: str, lang: str, year: str, width: float) -> list[Flowable]:
    """The two-column heading of a Vietnamese administrative document and the date line."""
    left = Paragraph(f"{esc(t('committee', lang))}<br/>{esc(committee_name(district_name, lang))}"
                     "<br/>_______", styles.center_bold)
    right = Paragraph(f"{esc(t('nation', lang))}<br/><u>{esc(t('motto', lang))}</u>", styles.center_bold)
    head = Table([[left, right]], colWidths=[width * 0.42, width * 0.58])
    head.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                              ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    place = t("place_date", lang, place=esc(district_place(district_name)), year=esc(year))
    return [head, Spacer(1, 4), Paragraph(f"<i>{place}</i>", styles.right)]


def signature_block(styles: Styles, lang: str, width: float, keep_with: Sequence[Flowable] = ()) -> Flowable:
    """The signature places, kept on one page with ``keep_with`` (the text just before them)."""
    left = Paragraph(f"<b>{esc(t('prepared_by', lang))}</b><br/>{esc(t('sign_hint', lang))}", styles.center)
    right = Paragraph(f"<b>{esc(t('on_behalf', lang))}</b><br/>{esc(t('sign_seal_hint', lang))}", styles.center)
    table = Table([[left, right], ["", ""]], colWidths=[width / 2, width / 2], rowHeights=[None, 22 * mm])
    return KeepTogether([*keep_with, Spacer(1, 10), table])


def _cell(value: object, width: float, styles: Styles) -> object:
    """A table cell: plain text when it fits on one line (fast), else a wrapping Paragraph."""
    if isinstance(value, Flowable):
        return value
    text = str(value)
    if "\n" not in text and pdfmetrics.stringWidth(text, styles.cell.fontName, styles.cell.fontSize) <= width - 7:
        return text
    return Paragraph(esc(text), styles.cell)


def data_table(styles: Styles, header: Sequence[str], rows: Sequence[Sequence[object]],
               widths: Sequence[float], *, extra: Sequence[tuple[Any, ...]] = ()) -> Table:
    """A bordered table with a bold repeated header row; long cells wrap."""
    body: list[list[object]] = [[Paragraph(esc(h), styles.head_cell) for h in header]]
    for row in rows:
        body.append([_cell(c, w, styles) for c, w in zip(row, widths, strict=False)])
    table = Table(body, colWidths=list(widths), repeatRows=1)
    table.setStyle(TableStyle([
        ("FONT", (0, 1), (-1, -1), styles.cell.fontName, styles.cell.fontSize, styles.cell.leading),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), HEAD_BG),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        *extra,
    ]))
    return table


def chunked_tables(styles: Styles, header: Sequence[str], rows: Sequence[Sequence[object]],
                   widths: Sequence[float], chunk: int = 400) -> list[Flowable]:
    """Long lists as several tables (reportlab splits one huge table slowly)."""
    return [data_table(styles, header, rows[i:i + chunk], widths) for i in range(0, len(rows), chunk)]


def build_pdf(path: Path | str, title: str, lang: str, story: list[Flowable]) -> None:
    """Lay ``story`` out on A4 (templates ``portrait`` and ``landscape``) and write it atomically.

    Every page carries the document title and ``Trang n`` at the bottom.
    """
    fonts = pdf_fonts()

    def footer(canvas: Canvas, doc: BaseDocTemplate) -> None:
        width = canvas._pagesize[0]
        canvas.saveState()
        canvas.setFont(fonts.regular, 7.5)
        canvas.setFillColor(colors.grey)
        canvas.drawString(MARGIN, 8 * mm, title)
        canvas.drawRightString(width - MARGIN, 8 * mm, t("page", lang, n=doc.page))
        canvas.restoreState()

    buffer = io.BytesIO()
    doc = BaseDocTemplate(buffer, pagesize=A4, title=title, author=t("committee", lang), subject=title,
                          creator="radio-district", leftMargin=MARGIN, rightMargin=MARGIN,
                          topMargin=MARGIN, bottomMargin=MARGIN + 4 * mm)
    templates = []
    for name, size in (("portrait", A4), ("landscape", landscape(A4))):
        frame = Frame(MARGIN, MARGIN + 4 * mm, size[0] - 2 * MARGIN, size[1] - 2 * MARGIN - 4 * mm, id=name)
        templates.append(PageTemplate(id=name, frames=[frame], onPage=footer, pagesize=size))
    doc.addPageTemplates(templates)
    try:
        doc.build(story)
    except DocumentError:
        raise
    except Exception as exc:  # a layout failure must reach the official as a message
        raise DocumentError(f"could not lay out {Path(path).name}: {type(exc).__name__}: {exc}") from exc
    write_document(Path(path), buffer.getvalue())


def write_document(path: Path, data: bytes) -> None:
    """Write a finished document atomically; DocumentError naming the path on failure."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data)
    except OSError as exc:
        raise DocumentError(f"cannot write {path}: {exc.strerror or exc}") from exc


PORTRAIT_W = A4[0] - 2 * MARGIN
LANDSCAPE_W = A4[1] - 2 * MARGIN


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
    story: list[Flowable] = official_header(styles, name, lang, year, PORTRAIT_W)
    story += [Paragraph(esc(t("report_title", lang)), styles.title),
              Paragraph(esc(t("report_subtitle", lang)), styles.subtitle),
              Paragraph(f"<b>{esc(t('district', lang))}:</b> {esc(name)}", styles.body),
              Paragraph(f"<b>{esc(t('period', lang))}:</b> " + esc(t(
                  "period_value", lang, from_=_fmt_date(period.get("from")), to=_fmt_date(period.get("to")),
                  tz=period.get("timezone", ""))), styles.body)]
    communes = list(report.get("communes") or [])
    airings = list(report.get("airings") or [])
    if not communes and not airings:
        story += [Spacer(1, 12), Paragraph(f"<b>{esc(t('empty_report', lang))}</b>", styles.body)]
    elif not communes:
        story += [Spacer(1, 6), Paragraph(f"<b>{esc(t('no_communes', lang))}</b>", styles.body)]
    story.append(Paragraph(esc(t("summary_line", lang, airings=district.get("airings", 0),
                                 weeks_aired=district.get("weeks_aired", 0),
                                 required_weeks=district.get("required_weeks", 0),
                                 months_aired=district.get("months_aired", 0),
                                 required_months=district.get("required_months", 0),
                                 tier=tier_label(district.get("tier"), lang))), styles.body))
    story += heading(styles, t("sec_points", lang))
    header, rows = points_rows(report, lang)
    story.append(data_table(styles, header, rows, [90, 46, 160, 124, 45, 45],
                            extra=[("ALIGN", (4, 1), (5, -1), "CENTER"),
                                   ("FONT", (0, 3), (-1, 3), styles.fonts.bold, 8),
                                   ("LINEBELOW", (0, 3), (-1, 3), 1.0, colors.black)]))
    if communes:
        story += [NextPageTemplate("landscape"), PageBreak(),
                  *heading(styles, t("sec_grid", lang)), _legend(styles, lang), Spacer(1, 4)]
        story += _grid_tables(styles, report, lang)
        header, crow = commune_rows(report, lang)
        story.append(data_table(styles, header, crow, [110, 34, 70, 44, 44, 38, 38, 38, 52, 289]))
        story += [NextPageTemplate("portrait"), PageBreak()]
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
    story.append(Paragraph(f"<b>{esc(t('findings', lang))}:</b>", styles.body))
    findings = finding_rows(report, lang)
    story += [Paragraph(f"• {esc(f)}", styles.body) for f in findings] or [
        Paragraph(esc(t("no_findings", lang)), styles.body)]
    verify = _verify_section(styles, report, lang)
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


def _verify_section(styles: Styles, report: Mapping[str, Any], lang: str) -> list[Flowable]:
    thumb = district_thumbprint(report)
    command = t("verify_cmd", lang) + (f" --district-key {thumb}" if thumb else "")
    return [*heading(styles, t("sec_verify", lang)),
            Paragraph(esc(t("verify_text", lang)), styles.body),
            Paragraph(esc(command), styles.mono),
            Paragraph(esc(t("verify_after", lang)), styles.body),
            Paragraph(f"<b>{esc(t('thumbprint', lang))}:</b> {esc(thumb or t('thumbprint_unknown', lang))}",
                      styles.body)]


def _fmt_date(value: object) -> str:
    return format_date(str(value) if value else "", "vi")


def write_report_pdf(report: Mapping[str, Any], path: Path | str, lang: str = "vi") -> Path:
    """Render ``report`` as ``path`` (A4 PDF) in ``lang``; returns the path.

    Raises DocumentError for an unknown language, a missing font or an unwritable path;
    an empty report gives a document saying there is no data.
    """
    check_lang(lang)
    if not isinstance(report, Mapping):
        raise DocumentError("the report to render is not an object")
    title = t("report_doc_title", lang)
    build_pdf(path, title, lang, report_story(report, lang))
    return Path(path)

