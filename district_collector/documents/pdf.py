"""PDF page plumbing shared by the district's documents (reportlab platypus, A4).

A TrueType font that covers Vietnamese (DejaVu Sans, else Noto/Liberation Sans, or the file
named by ``COMMUNE_RADIO_FONT``), the paragraph styles, the official heading of a Vietnamese
administrative document (issuing body left, national motto right, place and date line), the
signature places, bordered tables that wrap long cells, and :func:`build_pdf`: portrait and
landscape page templates, the document title and ``Trang n`` on every page, and an atomic write.
Used by ``pdf_report`` (evidence report) and ``catalogue_doc`` (monthly catalogue).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
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
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from district_collector.documents.i18n import DocumentError, region_place, region_unit, t
from district_collector.documents.stamp import pdf_date
from district_collector.region import region_level
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
MARGIN = 15 * mm
HEAD_BG = colors.HexColor("#dfe6ee")


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
    """``Huyện Kon Rẫy`` -> ``Kon Rẫy``, ``Tỉnh Quảng Ngãi`` -> ``Quảng Ngãi`` (the place
    written before the date line)."""
    return region_place(name)


def committee_name(name: str, lang: str, level: str | None = None) -> str:
    """The issuing body as printed top left, from the configured name (never a hard-coded
    unit): ``HUYỆN KON RẪY`` / ``KON RẪY DISTRICT``, ``TỈNH QUẢNG NGÃI`` / ``QUẢNG NGÃI PROVINCE``.
    ``level``: the configured ``district.level`` code; it names the unit when the name does
    not (``Quảng Ngãi`` with ``tinh``: ``TỈNH QUẢNG NGÃI``)."""
    place = region_place(name)
    if level is not None and place == name:
        unit = region_level(name, level)
        return (f"{unit.title} {name}" if lang == "vi" else f"{name} {unit.english}").upper()
    if lang == "vi":
        return name.upper()
    return f"{place} {region_unit(name, lang, level)}".upper() if place != name else name.upper()


def official_header(styles: Styles, district_name: str, lang: str, year: str, width: float,
                    doc_code: str = "BC-UBND", level: str | None = None) -> list[Flowable]:
    """The heading of a Vietnamese administrative document (Nghị định 30/2020/NĐ-CP layout).

    Left: the issuing body and under it the number line ``Số: ......../BC-UBND`` (``doc_code``:
    BC = báo cáo, a report); right: the national name and motto and under them the place and
    date line ``Kon Rẫy, ngày ..... tháng ..... năm 2024``, left blank for the office to fill in
    when it registers the document. ``level``: the region's configured level code (see
    :func:`committee_name`).
    """
    left = Paragraph(f"{esc(t('committee', lang))}<br/>{esc(committee_name(district_name, lang, level))}"
                     "<br/>_______", styles.center_bold)
    right = Paragraph(f"{esc(t('nation', lang))}<br/><u>{esc(t('motto', lang))}</u>", styles.center_bold)
    number = Paragraph(esc(t("doc_number", lang, code=doc_code)), styles.center)
    place = t("place_date", lang, place=esc(district_place(district_name)), year=esc(year))
    head = Table([[left, right], [number, Paragraph(f"<i>{place}</i>", styles.center)]],
                 colWidths=[width * 0.42, width * 0.58])
    head.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                              ("RIGHTPADDING", (0, 0), (-1, -1), 0), ("TOPPADDING", (0, 1), (-1, 1), 4)]))
    return [head, Spacer(1, 4)]


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


def build_pdf(path: Path | str, title: str, lang: str, story: list[Flowable],
              generated_at: datetime | None = None) -> None:
    """Lay ``story`` out on A4 (templates ``portrait`` and ``landscape``) and write it atomically.

    Every page carries the document title and ``Trang n`` at the bottom. ``generated_at``:
    the CreationDate/ModDate, written by ReportLab in invariant mode (its ``/ID`` a digest
    of the content), so the same story gives the same bytes (None: the time of writing).
    """
    fonts = pdf_fonts()
    stamp = None if generated_at is None else pdf_date(generated_at)

    def footer(canvas: Canvas, doc: BaseDocTemplate) -> None:
        if stamp is not None:
            canvas.setDateFormatter(lambda *_ymdhms: stamp)
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
                          topMargin=MARGIN, bottomMargin=MARGIN + 4 * mm,
                          invariant=None if generated_at is None else 1)
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
