"""Writing the district's spreadsheets with openpyxl in streaming (write-only) mode.

Styled cells whose style objects are shared (:func:`styled`), column widths, real
Excel dates and times (:func:`excel_value`: ``date``/``time``/``datetime`` cells with a
``dd/mm/yyyy`` number format, never text), :class:`SheetWriter` which counts rows so each
table becomes an Excel table with its own autofilter, and an atomic save.
Used by ``xlsx_report`` (evidence report) and ``catalogue_doc`` (monthly catalogue).
"""

from __future__ import annotations

import functools
import io
import re
import warnings
from collections.abc import Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.filters import AutoFilter
from openpyxl.worksheet.table import Table, TableColumn, TableStyleInfo
from openpyxl.xml.constants import ARC_CORE
from openpyxl.xml.functions import tostring

from district_collector.documents.i18n import DocumentError
from district_collector.documents.stamp import fixed_zip, utc
from radio_protocol.durable import atomic_write

HEAD_FILL = "DFE6EE"
DATE_FORMAT = "dd/mm/yyyy"
TIME_FORMAT = "hh:mm:ss"
DATETIME_FORMAT = "dd/mm/yyyy hh:mm:ss"

Value = str | int | float | date | time | datetime | None


@functools.cache
def _font(bold: bool, size: float | None, colour: str | None) -> Font:
    return Font(bold=bold, size=size, color=colour)


@functools.cache
def _fill(colour: str) -> PatternFill:
    return PatternFill("solid", fgColor=colour)


@functools.cache
def _align(center: bool, wrap: bool) -> Alignment:
    return Alignment(horizontal="center" if center else None, vertical="center", wrap_text=wrap)


def styled(ws: Any, value: Value, *, bold: bool = False, size: float | None = None,
           fill: str | None = None, colour: str | None = None, center: bool = False, wrap: bool = False) -> Any:
    """A cell for a write-only sheet with the given look (style objects shared, not rebuilt per cell)."""
    cell = WriteOnlyCell(ws, value=value)
    if bold or size or colour:
        cell.font = _font(bold, size, colour)
    if fill:
        cell.fill = _fill(fill)
    if center or wrap:
        cell.alignment = _align(center, wrap)
    return cell


def excel_value(ws: Any, value: Value) -> Any:
    """``value`` as written: a date, time or datetime becomes a date cell with its
    ``dd/mm/yyyy`` / ``hh:mm:ss`` number format; anything else stays as it is."""
    if isinstance(value, datetime | date | time):
        cell = WriteOnlyCell(ws, value=value)
        cell.number_format = (DATETIME_FORMAT if isinstance(value, datetime) else
                              DATE_FORMAT if isinstance(value, date) else TIME_FORMAT)
        return cell
    return value


def set_widths(ws: Any, widths: Sequence[int]) -> None:
    """Column widths (characters); set before the first row of a write-only sheet."""
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = w


def _table_name(text: str, taken: set[str]) -> str:
    base = "T_" + (re.sub(r"\W", "_", text.encode("ascii", "ignore").decode()) or "table")
    name, n = base[:200], 2
    while name.casefold() in taken:
        name, n = f"{base[:190]}_{n}", n + 1
    taken.add(name.casefold())
    return name


class SheetWriter:
    """A write-only sheet that knows its row number, so tables get their ranges.

    ``table`` writes a header and rows and declares them an Excel table (a filter button on
    every header cell, Excel's "Format as Table"); header texts must be unique and non-empty.
    """

    def __init__(self, ws: Any, names: set[str]) -> None:
        self.ws = ws
        self.row = 0
        self._names = names

    def append(self, values: Sequence[Any]) -> None:
        self.ws.append([excel_value(self.ws, v) for v in values])
        self.row += 1

    def table(self, key: str, header: Sequence[str], rows: Sequence[Sequence[Value]], *,
              first_col: int = 1, blank_after: bool = True) -> str:
        """Write the table at the next row; returns its range (``A3:F20``)."""
        top = self.row + 1
        pad: list[Any] = [None] * (first_col - 1)
        self.append([*pad, *(styled(self.ws, h, bold=True, fill=HEAD_FILL, wrap=True) for h in header)])
        for values in rows:
            self.append([*pad, *values])
        left = get_column_letter(first_col)
        ref = f"{left}{top}:{get_column_letter(first_col + len(header) - 1)}{max(self.row, top + 1)}"
        if not rows:
            self.append([*pad, *([None] * len(header))])  # a table needs one data row
        table = Table(displayName=_table_name(key, self._names), ref=ref, autoFilter=AutoFilter(ref=ref),
                      tableColumns=[TableColumn(id=i, name=str(h)) for i, h in enumerate(header, start=1)],
                      tableStyleInfo=TableStyleInfo(name="TableStyleLight1", showRowStripes=False))
        with warnings.catch_warnings():  # the columns are given above, as write-only mode needs
            warnings.filterwarnings("ignore", message="In write-only mode you must add table columns manually")
            self.ws.add_table(table)
        if blank_after:
            self.append([])
        return ref


def save_workbook(wb: Workbook, path: Path, generated_at: datetime | None = None) -> None:
    """Serialize ``wb`` and write it atomically; DocumentError naming the path on failure.
    ``generated_at``: the workbook's created/modified time and every zip member's date, so
    the same workbook gives the same bytes (None: openpyxl's, the time of writing)."""
    buffer = io.BytesIO()
    wb.save(buffer)
    data = buffer.getvalue()
    if generated_at is not None:
        wb.properties.created = wb.properties.modified = utc(generated_at).replace(tzinfo=None)
        data = fixed_zip(data, generated_at, {ARC_CORE: tostring(wb.properties.to_tree())})
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data)
    except OSError as exc:
        raise DocumentError(f"cannot write {path}: {exc.strerror or exc}") from exc
