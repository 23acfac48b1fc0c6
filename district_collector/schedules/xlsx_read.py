"""Read the office's Excel catalogue (the ``catalogue template`` workbook) into a Catalogue.

:func:`read_xlsx_catalogue` reads sheet ``Danh mục`` (layout in
:mod:`district_collector.schedules.xlsx_layout`): one airing per row; rows with the same
title, programme, topic, priority and audio file are one segment (its id made from the
title and the month, ``chuyen-doi-so-la-gi-2027-01``; ``-2``, ``-3``... when titles repeat
with other content). ``Ngày / Thứ`` takes Excel dates, text dates (``05/01/2027``,
``5/1``, ``2027-01-05``), weekday names (``Thứ Hai``..``Chủ nhật``, ``T2``..``CN``,
``Monday``..) or ``Hằng ngày``, several separated by commas; weekdays become the same
``FREQ=WEEKLY;BYDAY=..`` rule as the YAML's ``every``. ``Giờ`` takes Excel times or text
``06:30`` (several by commas). ``Trạm``: empty / ``tất cả`` = every station, else station
ids and group names. The month is the workbook's own (``DanhMuc_Thang``): a date of another
month is refused, a workbook without one is not a template.

Every problem is collected and raised at once as ConfigError, each naming the file, the
sheet, the row and the column (letter and header) in Vietnamese, then English.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from district_collector.config import DistrictConfig
from district_collector.schedules.catalogue import (
    DAILY,
    WEEKDAYS,
    Catalogue,
    CatalogueSegment,
    CatalogueSlot,
    check_rules,
)
from district_collector.schedules.xlsx_layout import (
    COLUMNS,
    EXTRA_WEEKDAYS,
    MAIN_SHEET,
    MONTH_NAME,
    PRIORITY_LABELS,
    REQUIRED,
)
from district_collector.schedules.yaml_lines import Problems
from radio_protocol import PRIORITIES
from radio_protocol.errors import CommuneRadioError, ConfigError
from radio_protocol.schedule.model import SLUG_RE
from radio_protocol.schedule.parse import check_media_url

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 3000
_SPLIT = re.compile(r"[,;\n]+")
_TIME = re.compile(r"^([01]?\d|2[0-3])\s*[:hH.]\s*([0-5]\d)$")
_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})(?:[/.-](\d{4}))?$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")


class XlsxProblems(Problems):
    """Problems said as ``FILE: trang tính 'S', dòng R, cột C (Header): vi / en``."""

    def __init__(self, source: Path, sheet: str, columns: dict[str, int]) -> None:
        super().__init__(source)
        self.sheet = sheet
        self.columns = columns

    def where(self, row: int, key: str | None) -> str:
        from openpyxl.utils import get_column_letter

        if key is None or key not in self.columns:
            return (f"{self.source}: trang tính '{self.sheet}', dòng {row} / "
                    f"sheet '{self.sheet}', row {row}")
        letter = get_column_letter(self.columns[key])
        return (f"{self.source}: trang tính '{self.sheet}', dòng {row}, cột {letter} ({COLUMNS[key][0]}) / "
                f"sheet '{self.sheet}', row {row}, column {letter} ({COLUMNS[key][1]})")

    def cell(self, row: int, key: str | None, vi: str, en: str) -> None:
        self.items.append(f"{self.where(row, key)}: {vi} / {en}")

    def add(self, line: int, key: str, message: str) -> None:
        """A problem from the shared catalogue checks (rules): said at the row's date column."""
        self.items.append(f"{self.where(line, 'when')}: lịch lặp không hợp lệ / {message}")


def _fold(text: str) -> str:
    """Lower case, NFC, single spaces: how names typed in Excel are compared."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def segment_slug(title: str) -> str:
    """``title`` in ASCII for a segment id: ``Chuyển đổi số là gì?`` -> ``chuyen-doi-so-la-gi``."""
    text = unicodedata.normalize("NFD", title.replace("đ", "d").replace("Đ", "D"))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:48].strip("-") or "ban-tin"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _workbook(path: Path) -> Any:
    from openpyxl import load_workbook

    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ConfigError([f"{path}: không đọc được tệp / cannot read: {exc.strerror or exc}"]) from exc
    if size > MAX_BYTES:
        raise ConfigError([f"{path}: tệp quá lớn / file larger than {MAX_BYTES} bytes"])
    try:
        with warnings.catch_warnings():  # openpyxl warns of what it skips (extensions, odd dates)
            warnings.simplefilter("ignore")
            return load_workbook(path, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file: one message for all
        raise ConfigError([f"{path}: không phải tệp Excel .xlsx đọc được / not a readable Excel .xlsx "
                           f"workbook ({type(exc).__name__}: {exc})"[:400]]) from exc


def _month(path: Path, wb: Any) -> tuple[int, int]:
    made = ("tạo mẫu bằng 'radio-district catalogue template --month YYYY-MM' / "
            "make one with 'radio-district catalogue template --month YYYY-MM'")
    name = wb.defined_names.get(MONTH_NAME)
    value: Any = None
    try:
        for sheet, ref in (name.destinations if name is not None else ()):
            value = wb[sheet][ref.replace("$", "")].value
    except (KeyError, ValueError, TypeError, AttributeError):
        value = None
    if isinstance(value, datetime):  # Excel turned the text 2027-01 into a date when someone re-typed it
        value = f"{value:%Y-%m}"
    match = re.fullmatch(r"(\d{4})-(\d{2})", _text(value))
    if name is None or match is None or not 1 <= int(match.group(2)) <= 12:
        raise ConfigError([f"{path}: tệp không phải mẫu danh mục (không ghi tháng {MONTH_NAME}); {made} / "
                           f"not a catalogue template (no month in {MONTH_NAME})"])
    return int(match.group(1)), int(match.group(2))


def _columns(path: Path, sheet: Any) -> tuple[int, dict[str, int]]:
    """The header row and ``key -> column number`` found by the headers' text."""
    names = {_fold(vi): key for key, (vi, _en, _w) in COLUMNS.items()}
    names.update({_fold(en): key for key, (_vi, en, _w) in COLUMNS.items()})
    for row in sheet.iter_rows(min_row=1, max_row=10):
        found = {names[_fold(str(c.value))]: c.column for c in row
                 if isinstance(c.value, str) and _fold(c.value) in names}
        if "title" in found:
            missing = [COLUMNS[k][0] for k in REQUIRED if k not in found]
            if missing:
                raise ConfigError([f"{path}: trang tính '{sheet.title}', dòng {row[0].row}: thiếu cột "
                                   f"{', '.join(missing)} / sheet '{sheet.title}', row {row[0].row}: "
                                   f"missing column(s) {', '.join(missing)}"])
            return row[0].row, found
    raise ConfigError([f"{path}: trang tính '{sheet.title}': không thấy dòng tiêu đề cột (Tiêu đề, ...) / "
                       f"sheet '{sheet.title}': no header row (Tiêu đề, ...) in rows 1-10"])


def _when(p: XlsxProblems, row: int, value: Any, year: int, month: int
          ) -> tuple[str | None, list[date]]:
    """(weekly/daily rule or None, dates) of a ``Ngày / Thứ`` cell."""
    if isinstance(value, datetime):
        value = value.date()
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and 1 <= value < 2958466:
        value = date(1899, 12, 30) + timedelta(days=int(value))  # an Excel serial not formatted as a date
    items: list[Any] = [value] if isinstance(value, date) else [s.strip() for s in _SPLIT.split(_text(value))]
    days: list[str] = []
    dates: list[date] = []
    daily = False
    for item in items:
        if item == "":
            continue
        try:
            day = item if isinstance(item, date) else _parse_date(item, year)
        except ValueError:
            p.cell(row, "when", f"{item!r} không phải ngày có thật", f"{item!r} is not a real date")
            continue
        if day is None:
            folded = _fold(item)
            code = WEEKDAYS.get(folded) or EXTRA_WEEKDAYS.get(folded)
            if folded in DAILY:
                daily = True
            elif code is not None:
                days.extend([code] if code not in days else [])
            else:
                p.cell(row, "when", f"{item!r} không phải ngày (05/01/{year}) hay thứ (Thứ Hai..Chủ nhật)",
                       f"{item!r} is not a date (05/01/{year}) or weekday (Monday..Sunday, T2..CN)")
            continue
        if (day.year, day.month) != (year, month):
            p.cell(row, "when", f"ngày {day:%d/%m/%Y} không thuộc tháng {month:02d}/{year} của mẫu này; "
                                f"tháng khác hãy tạo mẫu mới (catalogue template --month)",
                   f"{day:%d/%m/%Y} is not in this template's month {year}-{month:02d}; make a new "
                   f"template for another month (catalogue template --month)")
        elif day not in dates:
            dates.append(day)
    rule = "FREQ=DAILY" if daily else ("FREQ=WEEKLY;BYDAY=" + ",".join(days) if days else None)
    return rule, dates


def _parse_date(text: str, year: int) -> date | None:
    """A text date (day first, or ISO); None if it does not look like one; ValueError if it
    looks like one that does not exist (30/02/2027)."""
    m = _DMY.match(text)
    if m:
        return date(int(m.group(3) or year), int(m.group(2)), int(m.group(1)))
    m = _ISO.match(text)
    if m:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    return None


def _times(p: XlsxProblems, row: int, value: Any) -> tuple[time, ...]:
    if isinstance(value, datetime):
        value = value.time()
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1:
        minutes = round(value * 1440) % 1440
        value = time(minutes // 60, minutes % 60)
    if isinstance(value, time):
        minutes = round(value.hour * 60 + value.minute + value.second / 60) % 1440
        return (time(minutes // 60, minutes % 60),)
    out: list[time] = []
    for item in (s.strip() for s in _SPLIT.split(_text(value))):
        match = _TIME.match(item)
        if match is None:
            p.cell(row, "at", f"{item!r} không phải giờ dạng 06:30", f"{item!r} is not a time like 06:30")
            continue
        at = time(int(match.group(1)), int(match.group(2)))
        out.extend([at] if at not in out else [])
    return tuple(out)


def _media(p: XlsxProblems, row: int, value: str, base: Path) -> str:
    if "://" in value:
        why = check_media_url(value)
        if why:
            p.cell(row, "media", f"địa chỉ không dùng được ({why})", f"URL {why}")
        return value
    path = (base / value).resolve()
    if not path.is_file():
        p.cell(row, "media", f"không có tệp {path}", f"no such file {path}")
    return str(path)


def _row(p: XlsxProblems, row: int, cells: dict[str, Any], base: Path, config: DistrictConfig,
         year: int, month: int) -> tuple[tuple[str, str, str | None, str, str], CatalogueSlot] | None:
    """One row: its segment's content and its slot (segment id filled in later)."""
    before = len(p.items)
    text = {k: _text(cells.get(k)) for k in ("title", "program", "topic", "priority", "media", "stations")}
    for key in REQUIRED:
        if cells.get(key) is None or _text(cells.get(key)) == "":
            p.cell(row, key, "chưa điền (bắt buộc)", "empty (required)")
    program = text["program"].lower()
    if program and not SLUG_RE.match(program):
        p.cell(row, "program", f"{program!r} không phải mã chương trình (vd chuyen-doi-so)",
               f"{program!r} is not a programme code (e.g. chuyen-doi-so)")
    topic = text["topic"].lower() or None
    if topic and not SLUG_RE.match(topic):
        p.cell(row, "topic", f"{topic!r} không phải mã chủ đề (vd policy)", f"{topic!r} is not a topic code")
    priority = PRIORITY_LABELS.get(_fold(text["priority"]), _fold(text["priority"]) or "normal")
    if priority not in PRIORITIES:
        p.cell(row, "priority", f"{text['priority']!r}: chọn thường, ưu tiên hoặc khẩn cấp",
               f"{text['priority']!r}: pick normal, priority or emergency")
    media = _media(p, row, text["media"], base) if text["media"] else ""
    rule, dates = _when(p, row, cells.get("when"), year, month) if cells.get("when") is not None else (None, [])
    times = _times(p, row, cells.get("at")) if cells.get("at") is not None else ()
    stations: tuple[str, ...] | None = None
    if text["stations"]:
        try:
            stations = tuple(config.expand_stations(_SPLIT.split(text["stations"])))
        except CommuneRadioError as exc:
            p.cell(row, "stations", "mã trạm hoặc nhóm trạm không có trong danh sách đăng ký", str(exc))
    if len(p.items) > before:
        return None
    if rule is not None and dates:
        p.cell(row, "when", "ghi ngày hoặc thứ, không ghi cả hai trong một ô",
               "give dates or weekdays, not both, in one cell")
        return None
    content = (text["title"], program, topic, priority, media)
    return content, CatalogueSlot("", times, tuple(dates), rule, stations, row)


def read_xlsx_catalogue(path: Path | str, config: DistrictConfig,
                        media_base: Path | None = None) -> Catalogue:
    """The catalogue in an Excel template workbook; ConfigError listing every problem."""
    path = Path(path)
    wb = _workbook(path)
    if MAIN_SHEET not in wb.sheetnames:
        raise ConfigError([f"{path}: không có trang tính '{MAIN_SHEET}' / no sheet '{MAIN_SHEET}' "
                           f"(sheets: {', '.join(wb.sheetnames)})"])
    year, month = _month(path, wb)
    sheet = wb[MAIN_SHEET]
    header, columns = _columns(path, sheet)
    p = XlsxProblems(path, MAIN_SHEET, columns)
    rows: list[tuple[tuple[str, str, str | None, str, str], CatalogueSlot]] = []
    last = min(sheet.max_row, header + MAX_ROWS)
    for cells in sheet.iter_rows(min_row=header + 1, max_row=last):
        values = {key: cells[col - 1].value if col - 1 < len(cells) else None for key, col in columns.items()}
        values = {k: v for k, v in values.items() if not (isinstance(v, str) and not v.strip())}
        if all(v is None for v in values.values()):
            continue
        got = _row(p, cells[0].row, values, media_base or path.parent, config, year, month)
        if got is not None:
            rows.append(got)
    if sheet.max_row > last:
        p.cell(last + 1, None, f"quá {MAX_ROWS} dòng", f"more than {MAX_ROWS} rows")
    if not rows and not p.items:
        p.cell(header + 1, None, "danh mục chưa có dòng nào", "the catalogue has no rows")
    if p.items:
        raise ConfigError(p.items)
    ids: dict[tuple[str, str, str | None, str, str], str] = {}
    segments: list[CatalogueSegment] = []
    slots: list[CatalogueSlot] = []
    for key, slot in rows:
        if key not in ids:
            base = f"{segment_slug(key[0])}-{year:04d}-{month:02d}"
            seg_id = base
            while seg_id in ids.values():
                seg_id = f"{base}-{sum(1 for v in ids.values() if v.startswith(base)) + 1}"
            ids[key] = seg_id
            segments.append(CatalogueSegment(seg_id, key[0], key[1], key[2], key[3], key[4], slot.line))
        slots.append(CatalogueSlot(ids[key], slot.times, slot.dates, slot.rrule, slot.stations, slot.line))
    catalogue = Catalogue(path, year, month, config.district.timezone, None, tuple(segments), tuple(slots))
    check_rules(p, catalogue)
    if p.items:
        raise ConfigError(p.items)
    return catalogue
