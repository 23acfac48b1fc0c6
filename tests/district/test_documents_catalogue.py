"""The month's broadcast catalogue: RRULEs expanded, weekly totals, PDF and XLSX read back."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from test_evidence_support import pdf_text

from district_collector.documents.catalogue_doc import (
    build_catalogue_doc,
    write_catalogue_pdf,
    write_catalogue_xlsx,
)
from district_collector.documents.i18n import DocumentError

DISTRICT = {"id": "kon-ray", "name": "Huyện Kon Rẫy", "timezone": "Asia/Ho_Chi_Minh"}
STATIONS = [
    ("dak-rve-01", "Thị trấn Đăk Rve"), ("dak-koi-01", "Xã Đăk Kôi"), ("dak-pne-01", "Xã Đăk Pne"),
    ("dak-ruong-01", "Xã Đăk Ruồng"), ("dak-to-lung-01", "Xã Đăk Tơ Lung"), ("dak-to-re-01", "Xã Đăk Tờ Re"),
    ("tan-lap-01", "Xã Tân Lập"),
]
COMMUNES = dict(STATIONS)


def segment(seg_id: str, title: str, topic: str, program: str = "chuyen-doi-so", priority: str = "normal",
            duration_s: float = 301.2) -> dict[str, Any]:
    return {"id": seg_id, "title": title, "program": program, "topic": topic, "priority": priority,
            "media": {"sha256": "ab" * 32, "url": f"https://district.example/media/{seg_id}.mp3",
                      "bytes": 4812345, "duration_s": duration_s}}


SEGMENTS = [
    segment("cds-2024-03-a", "Chuyển đổi số là gì?", "policy"),
    segment("cds-2024-03-b", "Thương mại điện tử cho bà con", "ecommerce", duration_s=420.0),
    segment("tin-tuc-03", "Bản tin thời sự của xã", "news", program="tin-tuc", duration_s=600.0),
]


def schedule(station: str, slots: list[dict[str, Any]], valid_from: str = "2024-03-01",
             valid_until: str = "2024-03-31", version: int = 8) -> dict[str, Any]:
    return {"v": 1, "type": "schedule", "district": "kon-ray", "station": station, "version": version,
            "issued_at": "2024-02-25T08:00:00.000+07:00", "valid_from": valid_from, "valid_until": valid_until,
            "timezone": "Asia/Ho_Chi_Minh", "segments": SEGMENTS, "slots": slots}


TWICE_WEEKLY = [{"segment": "cds-2024-03-a", "rrule": "FREQ=WEEKLY;BYDAY=TU", "dtstart": "2024-03-01T06:30:00+07:00"},
                {"segment": "cds-2024-03-b", "rrule": "FREQ=WEEKLY;BYDAY=FR", "dtstart": "2024-03-01T10:00:00Z"},
                {"segment": "tin-tuc-03", "rrule": "FREQ=WEEKLY;BYDAY=SA", "dtstart": "2024-03-01T18:00:00+07:00"}]


def march_schedules() -> list[dict[str, Any]]:
    out = [schedule(sid, TWICE_WEEKLY) for sid, _ in STATIONS[:5]]
    # Đăk Tờ Re: every other week only, plus one fixed extra airing.
    out.append(schedule("dak-to-re-01", [
        {"segment": "cds-2024-03-a", "rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", "dtstart": "2024-03-05T06:30:00+07:00"},
        {"segment": "cds-2024-03-b", "at": "2024-03-09T07:00:00+07:00"}]))
    # Tân Lập: the catalogue only starts on 20 March; the rule's UNTIL is a floating local time.
    out.append(schedule("tan-lap-01", [
        {"segment": "cds-2024-03-a", "rrule": "FREQ=DAILY;UNTIL=20240331T235959", "dtstart": "2024-03-01T19:00:00+07:00"}],
        valid_from="2024-03-20"))
    return out


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return build_catalogue_doc(DISTRICT, march_schedules(), "2024-03", COMMUNES)


def test_catalogue_doc_expands_rules_in_the_schedule_timezone(doc: dict[str, Any]) -> None:
    assert [w["week"] for w in doc["weeks"]] == ["2024-W09", "2024-W10", "2024-W11", "2024-W12", "2024-W13"]
    assert [w["full"] for w in doc["weeks"]] == [False, True, True, True, True]
    rve = doc["stations"][0]
    assert rve["commune"] == "Thị trấn Đăk Rve" and rve["version"] == 8
    dx = [(a["date"], a["time"]) for a in rve["airings"] if a["program"] == "chuyen-doi-so"]
    assert dx == [("2024-03-01", "17:00"), ("2024-03-05", "06:30"), ("2024-03-08", "17:00"),
                  ("2024-03-12", "06:30"), ("2024-03-15", "17:00"), ("2024-03-19", "06:30"),
                  ("2024-03-22", "17:00"), ("2024-03-26", "06:30"), ("2024-03-29", "17:00")]
    assert rve["per_week"] == {"2024-W09": 1, "2024-W10": 2, "2024-W11": 2, "2024-W12": 2, "2024-W13": 2}
    assert rve["total"] == 9 and rve["meets_weekly"] is True  # news on Saturdays is not counted
    assert len(rve["airings"]) == 9 + 5


def test_catalogue_doc_flags_stations_below_once_a_week(doc: dict[str, Any]) -> None:
    by_id = {s["id"]: s for s in doc["stations"]}
    to_re = by_id["dak-to-re-01"]
    assert to_re["per_week"] == {"2024-W09": 0, "2024-W10": 2, "2024-W11": 0, "2024-W12": 1, "2024-W13": 0}
    assert to_re["meets_weekly"] is False and to_re["short_weeks"] == ["2024-W11", "2024-W13"]
    tan_lap = by_id["tan-lap-01"]
    assert tan_lap["airings"][0]["date"] == "2024-03-20" and tan_lap["total"] == 12
    assert tan_lap["short_weeks"] == ["2024-W10", "2024-W11"]


def test_catalogue_doc_segments_union_with_durations(doc: dict[str, Any]) -> None:
    segs = {s["id"]: s for s in doc["segments"]}
    assert list(segs) == ["cds-2024-03-a", "cds-2024-03-b", "tin-tuc-03"]
    assert segs["cds-2024-03-b"]["duration_s"] == 420.0 and len(segs["cds-2024-03-a"]["stations"]) == 7


def test_catalogue_pdf_vietnamese(tmp_path: Path, doc: dict[str, Any]) -> None:
    path = write_catalogue_pdf(doc, tmp_path / "catalogue.pdf", "vi")
    text = pdf_text(path)
    for expected in ("ỦY BAN NHÂN DÂN", "HUYỆN KON RẪY", "Độc lập - Tự do - Hạnh phúc", "DANH MỤC PHÁT SÓNG",
                     "chuyên mục Chuyển đổi số - Tháng 03/2024", "tối thiểu 01 lần/tuần", "Chuyển đổi số là gì?",
                     "Thương mại điện tử cho bà con", "thương mại điện tử", "7:00", "Thứ Ba", "Thứ Sáu",
                     "05/03/2024", "17:00", "Xã Đăk Kôi", "Xã Đăk Tờ Re", "Không (2024-W11, 2024-W13)",
                     "W09*", "Đạt tối thiểu 01 lần/tuần", "Trang 1"):
        assert expected in text, expected
    reader = PdfReader(str(path))
    assert reader.metadata is not None and reader.metadata.title == "Danh mục phát sóng - Chuyển đổi số - 03/2024"


def test_catalogue_pdf_english(tmp_path: Path, doc: dict[str, Any]) -> None:
    text = pdf_text(write_catalogue_pdf(doc, tmp_path / "catalogue-en.pdf", "en"))
    for expected in ("BROADCAST CATALOGUE", "Digital Transformation programme - 03/2024", "Tuesday",
                     "III. AIRINGS PER WEEK", "At least once a week", "No (2024-W11, 2024-W13)", "Page 1"):
        assert expected in text, expected
    assert "DANH MỤC PHÁT SÓNG" not in text


def test_catalogue_xlsx_reads_back(tmp_path: Path, doc: dict[str, Any]) -> None:
    wb = load_workbook(write_catalogue_xlsx(doc, tmp_path / "catalogue.xlsx", "vi"))
    assert wb.sheetnames == ["Tiết mục", "Lịch phát", "Số lần theo tuần"]
    seg_rows = list(wb["Tiết mục"].iter_rows(values_only=True))
    assert seg_rows[0][0] == "DANH MỤC PHÁT SÓNG"
    assert (1, "Chuyển đổi số là gì?", "chủ trương, chính sách", "5:01", "thường", "cds-2024-03-a") in seg_rows
    slots = list(wb["Lịch phát"].iter_rows(values_only=True))
    # dates and times are Excel dates and times (sortable, filterable), not text
    assert slots[1] == ("dak-rve-01", "Thị trấn Đăk Rve", "Thứ Sáu", datetime(2024, 3, 1), time(17, 0),
                        "Thương mại điện tử cho bà con", "cds-2024-03-b", "2024-W09")
    cells = next(wb["Lịch phát"].iter_rows(min_row=2, max_row=2))
    assert (cells[3].number_format, cells[4].number_format) == ("dd/mm/yyyy", "hh:mm:ss")
    assert len(slots) - 1 == sum(len(s["airings"]) for s in doc["stations"])
    # every table is an Excel table with a filter on its header row
    for sheet, header_row in (("Tiết mục", 5), ("Lịch phát", 1), ("Số lần theo tuần", 1)):
        tables = list(wb[sheet].tables.values())
        assert len(tables) == 1 and tables[0].autoFilter is not None, sheet
        assert tables[0].ref.split(":")[0].endswith(str(header_row)), (sheet, tables[0].ref)
    weekly = list(wb["Số lần theo tuần"].iter_rows(values_only=True))
    assert weekly[0] == ("Trạm", "Xã, thị trấn", "W09*", "W10", "W11", "W12", "W13", "Tổng",
                         "Đạt tối thiểu 01 lần/tuần")
    assert weekly[1] == ("dak-rve-01", "Thị trấn Đăk Rve", 1, 2, 2, 2, 2, 9, "Có")


def test_catalogue_empty_month_says_so(tmp_path: Path) -> None:
    empty = build_catalogue_doc(DISTRICT, [], "2024-04")
    assert empty["stations"] == [] and len(empty["weeks"]) == 5
    text = pdf_text(write_catalogue_pdf(empty, tmp_path / "c.pdf"))
    assert "Chưa có lịch phát của trạm nào trong tháng." in text and "Tháng 04/2024" in text
    wb = load_workbook(write_catalogue_xlsx(empty, tmp_path / "c.xlsx", "en"))
    first_cells = [row[0] for row in wb["Segments"].iter_rows(values_only=True)]
    assert "No station has a schedule for this month." in first_cells


@pytest.mark.parametrize(("schedules", "month", "message"), [
    ([], None, "no month given"),
    ([schedule("dak-koi-01", TWICE_WEEKLY)], "2024-13", "month '2024-13' is not of the form YYYY-MM"),
    ([schedule("dak-koi-01", [{"segment": "nope", "at": "2024-03-05T06:30:00+07:00"}])], "2024-03",
     r"schedule of station dak-koi-01: slots\[0\]\.segment: unknown segment 'nope'"),
    ([schedule("dak-koi-01", [{"segment": "cds-2024-03-a", "rrule": "FREQ=SOMETIMES",
                               "dtstart": "2024-03-01T06:30:00+07:00"}])], "2024-03", r"slots\[0\]\.rrule"),
    ([schedule("dak-koi-01", [{"segment": "cds-2024-03-a", "at": "2024-03-05 06:30"}])], "2024-03",
     r"slots\[0\]\.at"),
])
def test_catalogue_doc_bad_input_is_a_clear_error(schedules: list[dict[str, Any]], month: str | None,
                                                  message: str) -> None:
    with pytest.raises(DocumentError, match=message):
        build_catalogue_doc(DISTRICT, schedules, month)


def test_catalogue_default_month_is_the_earliest_valid_from() -> None:
    doc = build_catalogue_doc(DISTRICT, march_schedules()[:1])
    assert doc["month"] == "2024-03" and doc["first"] == "2024-03-01" and doc["last"] == "2024-03-31"
