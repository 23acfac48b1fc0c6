"""The report spreadsheet as Excel reads it: real dates, headers in the document's language,
a filter on every table, and the chart of airings per week and commune."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.chart import BarChart
from test_documents_report import kon_ray_report

from district_collector.documents.xlsx_report import write_report_xlsx


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return kon_ray_report()


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory, report: dict[str, Any]) -> Workbook:
    return load_workbook(write_report_xlsx(report, tmp_path_factory.mktemp("xlsx") / "r.xlsx"))


def test_xlsx_dates_and_times_are_excel_values(book: Workbook, report: dict[str, Any]) -> None:
    wb = book
    airing = list(wb["Lượt phát"].iter_rows(min_row=2, max_row=2))[0]
    assert airing[1].is_date and airing[1].value == datetime(2024, 1, 2) and airing[1].number_format == "dd/mm/yyyy"
    assert airing[2].value == time(6, 30) and airing[2].number_format == "hh:mm:ss"
    assert airing[7].value == datetime(2024, 1, 2, 6, 30)
    assert airing[11].value == datetime(2024, 1, 2, 6, 30, 0, 12000)
    assert airing[11].number_format == "dd/mm/yyyy hh:mm:ss" and isinstance(airing[10].value, float)
    excluded = list(wb["Không tính"].iter_rows(min_row=2, max_row=2))[0]
    assert excluded[4].is_date and isinstance(excluded[4].value, datetime)


@pytest.mark.parametrize(("lang", "sheet", "tail"), [
    ("vi", "Lượt phát", ("Số thứ tự", "Mã tiết mục", "Thời lượng đã phát (giây)", "Thời điểm bắt đầu (giờ địa phương)")),
    ("en", "Airings", ("Seq", "Segment ID", "Seconds played", "Started at (local time)")),
])
def test_xlsx_headers_in_the_document_language(tmp_path: Path, report: dict[str, Any], lang: str, sheet: str,
                                               tail: tuple[str, ...]) -> None:
    small = {**report, "airings": report["airings"][:50]}
    wb = load_workbook(write_report_xlsx(small, tmp_path / "r.xlsx", lang=lang))
    header = next(wb[sheet].iter_rows(max_row=1, values_only=True))
    assert header[-4:] == tail
    for ws in wb.worksheets:
        for row in ws.iter_rows(values_only=True):
            assert not {"segment_id", "played_s", "started_at"} & set(row), (ws.title, row)


def test_xlsx_every_table_has_an_autofilter(book: Workbook, report: dict[str, Any]) -> None:
    wb = book
    counts = {ws.title: len(ws.tables) for ws in wb.worksheets}
    assert counts == {"Tổng hợp": 2, "Lưới tuần": 2, "Lượt phát": 1, "Không tính": 1, "Trạm": 1}
    for ws in wb.worksheets:
        for table in ws.tables.values():
            assert table.autoFilter is not None and table.autoFilter.ref == table.ref
            first = ws[table.ref.split(":")[0]]
            assert first.value == table.tableColumns[0].name  # the header row is the table's first row
    airings = wb["Lượt phát"].tables
    (only,) = airings.values()
    assert only.ref == f"A1:L{len(report['airings']) + 1}"


def test_xlsx_chart_of_airings_per_week_and_commune(book: Workbook, report: dict[str, Any]) -> None:
    wb = book
    grid = wb["Lưới tuần"]
    charts = grid._charts
    assert len(charts) == 1 and isinstance(charts[0], BarChart)
    assert len(charts[0].series) == len(report["communes"])
    rows = list(grid.iter_rows(values_only=True))
    head = next(i for i, r in enumerate(rows) if r[0] == "Tuần")
    assert rows[head][1:8] == tuple(c["name"] for c in report["communes"])
    week7 = next(r for r in rows[head:] if r[0] == "2024-W07")
    assert week7[1:8] == (2, 0, 2, 2, 2, 2, 2)  # Đăk Kôi silent in week 7
    total = sum(sum(v for v in r[1:8]) for r in rows[head + 1:head + 1 + len(report["weeks"])])
    assert total == len(report["airings"])
