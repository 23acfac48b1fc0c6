"""``catalogue template``: the month's Excel catalogue for the office to fill in.

:func:`write_template` writes the workbook described in
:mod:`district_collector.schedules.xlsx_layout`: the ``Danh mục`` sheet with its headers,
one filled example row and dropdowns (programme, topic, priority, weekday, stations:
the registry's station ids and groups), the ``Hướng dẫn`` sheet (Vietnamese, then English)
and the ``Danh sách`` sheet holding the dropdowns' lists and the month (the named cell
``DanhMuc_Thang``). The file is written to a temporary name and renamed into place.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import time
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from district_collector.config import DistrictConfig
from district_collector.schedules.xlsx_layout import (
    COLUMNS,
    FIRST_ROW,
    HEADER_ROW,
    HELP_SHEET,
    LISTS_SHEET,
    MAIN_SHEET,
    MONTH_NAME,
    PRIORITY_LABELS,
    PROGRAMS,
    TEMPLATE_ROWS,
    TOPICS,
    WEEKDAY_LABELS,
)

_HEADER_FILL = PatternFill("solid", fgColor="1F4E79")
_EXAMPLE_FILL = PatternFill("solid", fgColor="FFF2CC")
_MONTH_CELL = "H2"

HELP_VI = (
    "Hướng dẫn lập danh mục phát sóng bằng Excel",
    "",
    "1. Mỗi dòng của trang «Danh mục» là một lượt phát (hoặc một lịch lặp lại theo thứ trong tuần).",
    "2. Tiêu đề: tên bản tin. Các dòng cùng tiêu đề, chương trình, chủ đề, mức ưu tiên và tệp âm thanh "
    "là cùng một bản tin.",
    "3. Chương trình, Chủ đề, Mức ưu tiên: chọn trong danh sách thả xuống "
    "(chỉ chương trình chuyen-doi-so được tính điểm tiêu chí Chuyển đổi số).",
    "4. Tệp âm thanh: tên tệp đặt cùng thư mục với tệp Excel này (ví dụ media/ban-tin.mp3) "
    "hoặc địa chỉ https://...",
    "5. Ngày / Thứ: một ngày trong tháng (05/01/2027, kiểu ngày của Excel), nhiều ngày cách nhau "
    "bằng dấu phẩy, hoặc thứ trong tuần (Thứ Hai..Chủ nhật, T2..CN, Hằng ngày) để phát hằng tuần cả tháng.",
    "6. Giờ: giờ phát, dạng 06:30; nhiều giờ cách nhau bằng dấu phẩy (06:30, 17:00).",
    "7. Trạm: để trống hoặc «tất cả» là mọi trạm; hoặc mã trạm, tên nhóm trạm, cách nhau bằng dấu phẩy.",
    "8. Dòng tô vàng là dòng mẫu: sửa lại hoặc xóa đi trước khi phát hành.",
    "9. Tệp này chỉ dùng cho tháng ghi ở trang «Danh sách»; tháng khác hãy tạo mẫu mới.",
    "Phát hành: radio-district -c district.yaml schedule publish TEP.xlsx",
)
HELP_EN = (
    "How to fill in the catalogue",
    "",
    "1. Each row of the 'Danh mục' sheet is one airing (or a weekly repetition on weekdays).",
    "2. Title: the segment's name. Rows with the same title, programme, topic, priority and audio "
    "file are the same segment.",
    "3. Programme, topic, priority: pick from the dropdowns (only chuyen-doi-so counts for the "
    "Digital Transformation criteria).",
    "4. Audio file: a file next to this workbook (e.g. media/segment.mp3) or an https:// URL.",
    "5. Date / weekday: a date of the month (05/01/2027 or an Excel date), several separated by "
    "commas, or weekdays (Thứ Hai..Chủ nhật, T2..CN, Monday..Sunday, Hằng ngày = every day) for "
    "the whole month.",
    "6. Time: HH:MM like 06:30; several separated by commas.",
    "7. Stations: empty or 'tất cả' = every station; else station ids or group names, comma separated.",
    "8. The yellow row is an example: change or delete it before publishing.",
    "9. This workbook is for the month on the 'Danh sách' sheet only; make a new template for "
    "another month.",
    "Publish: radio-district -c district.yaml schedule publish FILE.xlsx",
)


def _list_column(sheet: Worksheet, col: int, title: str, values: Sequence[str]) -> str:
    """Write ``values`` under ``title`` in column ``col``; the absolute range for a dropdown."""
    sheet.cell(1, col, title).font = Font(bold=True)
    for i, value in enumerate(values):
        sheet.cell(2 + i, col, value)
    letter = get_column_letter(col)
    return f"{quote_sheetname(LISTS_SHEET)}!${letter}$2:${letter}${1 + max(1, len(values))}"


def _dropdown(main: Worksheet, key: str, source: str, *, strict: bool, prompt: str) -> None:
    col = get_column_letter(list(COLUMNS).index(key) + 1)
    dv = DataValidation(type="list", formula1=f"={source}", allow_blank=True, showDropDown=False)
    dv.showErrorMessage = strict
    dv.errorStyle = "stop" if strict else "warning"
    dv.error = "Chọn một giá trị trong danh sách / pick a value from the list"
    dv.promptTitle = COLUMNS[key][0]
    dv.prompt = prompt
    dv.showInputMessage = True
    dv.add(f"{col}{FIRST_ROW}:{col}{FIRST_ROW + TEMPLATE_ROWS - 1}")
    main.add_data_validation(dv)


def _main_sheet(main: Worksheet, config: DistrictConfig, year: int, month: int) -> None:
    main.title = MAIN_SHEET
    main.cell(1, 1, f"Danh mục phát sóng tháng {month:02d}/{year} — {config.district.name} "
                    f"(Broadcast catalogue {year}-{month:02d})").font = Font(bold=True, size=14)
    for i, (vi, _en, width) in enumerate(COLUMNS.values(), start=1):
        cell = main.cell(HEADER_ROW, i, vi)
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(vertical="center")
        main.column_dimensions[get_column_letter(i)].width = width
    example = {"title": "VÍ DỤ: Chuyển đổi số là gì? (sửa hoặc xóa dòng này)", "program": "chuyen-doi-so",
               "topic": "policy", "priority": "thường", "media": "media/vi-du-chuyen-doi-so.mp3",
               "when": "Thứ Ba, Thứ Sáu", "at": time(6, 30), "stations": "tất cả"}
    for i, key in enumerate(COLUMNS, start=1):
        cell = main.cell(FIRST_ROW, i, example[key])
        cell.fill = _EXAMPLE_FILL
    at_col = get_column_letter(list(COLUMNS).index("at") + 1)
    for row in range(FIRST_ROW, FIRST_ROW + TEMPLATE_ROWS):
        main[f"{at_col}{row}"].number_format = "hh:mm"
    main.freeze_panes = main.cell(FIRST_ROW, 1)


def write_template(path: Path, config: DistrictConfig, year: int, month: int) -> Path:
    """Write the month's template to ``path`` (replacing a file there); returns ``path``."""
    wb = Workbook()
    main = wb.active
    assert main is not None
    _main_sheet(main, config, year, month)
    helper = wb.create_sheet(HELP_SHEET)
    helper.column_dimensions["A"].width = 120
    for i, line in enumerate((*HELP_VI, "", "— English —", *HELP_EN), start=1):
        cell = helper.cell(i, 1, line)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        if line in (HELP_VI[0], HELP_EN[0], "— English —"):
            cell.font = Font(bold=True, size=12)
    lists = wb.create_sheet(LISTS_SHEET)
    stations = ["tất cả", *sorted(config.groups), *(s.id for s in config.stations)]
    sources = {
        "program": _list_column(lists, 1, "Chương trình / Programme", PROGRAMS),
        "topic": _list_column(lists, 2, "Chủ đề / Topic", TOPICS),
        "priority": _list_column(lists, 3, "Mức ưu tiên / Priority", list(PRIORITY_LABELS)),
        "when": _list_column(lists, 4, "Thứ / Weekday", WEEKDAY_LABELS),
        "stations": _list_column(lists, 5, "Trạm, nhóm trạm / Stations, groups", stations),
    }
    for col, width in zip("ABCDE", (26, 20, 22, 16, 34), strict=True):
        lists.column_dimensions[col].width = width
    lists["G1"] = "Tháng của danh mục / Month (do not change)"
    lists["G1"].font = Font(bold=True)
    lists[_MONTH_CELL] = f"{year:04d}-{month:02d}"
    lists[_MONTH_CELL].number_format = "@"
    lists["G3"] = f"Huyện / District: {config.district.name} ({config.district.id})"
    lists.column_dimensions["G"].width = 44
    wb.defined_names[MONTH_NAME] = DefinedName(
        MONTH_NAME, attr_text=f"{quote_sheetname(LISTS_SHEET)}!${_MONTH_CELL[0]}${_MONTH_CELL[1:]}")
    _dropdown(main, "program", sources["program"], strict=False,
              prompt="chuyen-doi-so: Chuyển đổi số (được tính điểm)")
    _dropdown(main, "topic", sources["topic"], strict=False, prompt="Chủ đề của bản tin (không bắt buộc)")
    _dropdown(main, "priority", sources["priority"], strict=True, prompt="Để trống = thường")
    _dropdown(main, "when", sources["when"], strict=False,
              prompt="Thứ trong tuần, hoặc gõ ngày: 05/01/2027 (nhiều ngày: cách nhau dấu phẩy)")
    _dropdown(main, "stations", sources["stations"], strict=False,
              prompt="Trống = tất cả; hoặc gõ nhiều mã trạm / nhóm, cách nhau dấu phẩy")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    wb.save(tmp)
    os.replace(tmp, path)
    return path
