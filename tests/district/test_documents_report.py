"""The evidence report as PDF and XLSX: real files, read back with pdftotext/pypdf/openpyxl."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from test_evidence_support import pdf_text

from district_collector.documents import pdf as pdf_pages
from district_collector.documents.i18n import DocumentError
from district_collector.documents.pdf_report import grid_chunks, write_report_pdf
from district_collector.documents.xlsx_report import write_report_xlsx

COMMUNES = [
    ("23317", "Thị trấn Đăk Rve", "dak-rve-01"),
    ("23320", "Xã Đăk Kôi", "dak-koi-01"),
    ("23323", "Xã Đăk Pne", "dak-pne-01"),
    ("23326", "Xã Đăk Ruồng", "dak-ruong-01"),
    ("23329", "Xã Đăk Tơ Lung", "dak-to-lung-01"),
    ("23332", "Xã Đăk Tờ Re", "dak-to-re-01"),
    ("23335", "Xã Tân Lập", "tan-lap-01"),
]
# Weeks (ISO week numbers of 2024) in which a commune did not air, and exclusions.
SILENT_WEEKS = {"23320": {7, 31, 32, 33}, "23335": set(range(9, 15)) | {40}}


def kon_ray_report(period_to: date = date(2024, 12, 10)) -> dict[str, Any]:
    """A realistic Kon Rẫy year, scored as docs/scoring.md says (Tuesday 06:30 and Friday 17:00 slots)."""
    start, end = date(2024, 1, 1), period_to
    weeks: list[dict[str, Any]] = []
    monday = start - timedelta(days=start.weekday())
    while monday <= end:
        iso = monday.isocalendar()
        weeks.append({"week": f"{iso.year}-W{iso.week:02d}", "start": monday.isoformat(),
                      "end": (monday + timedelta(days=6)).isoformat(),
                      "required": monday >= start and monday + timedelta(days=6) <= end})
        monday += timedelta(days=7)
    month_ends = [(date(2024, m + 1, 1) if m < 12 else date(2025, 1, 1)) - timedelta(days=1) for m in range(1, 13)]
    months = [{"month": f"2024-{m:02d}", "required": month_ends[m - 1] <= end} for m in range(1, end.month + 1)]
    airings: list[dict[str, Any]] = []
    excluded: list[dict[str, Any]] = []
    communes: list[dict[str, Any]] = []
    stations: list[dict[str, Any]] = []
    district_weeks: set[str] = set()
    district_months: set[str] = set()
    for code, name, station in COMMUNES:
        seq = 0
        aired_weeks: set[str] = set()
        aired_months: set[str] = set()
        count = 0
        for w in weeks:
            week_no = int(w["week"][-2:])
            for offset, hhmm in ((1, "06:30"), (4, "17:00")):
                day = date.fromisoformat(w["start"]) + timedelta(days=offset)
                if not start <= day <= end:
                    continue
                seq += 1
                started = f"{day.isoformat()}T{hhmm}:00.012+07:00"
                if week_no in SILENT_WEEKS.get(code, set()):
                    if offset == 1:
                        excluded.append({"station": station, "commune": code, "seq": seq,
                                         "started_at": started, "reason": "outcome"})
                    continue
                count += 1
                aired_weeks.add(w["week"])
                aired_months.add(day.isoformat()[:7])
                airings.append({"station": station, "commune": code, "seq": seq, "started_at": started,
                                "local_date": day.isoformat(), "local_time": f"{hhmm}:00",
                                "segment_id": f"cds-2024-{day.month:02d}-a",
                                "title": "Chuyển đổi số là gì?" if offset == 1 else "Thương mại điện tử cho bà con",
                                "played_s": 301.2, "slot": f"{day.isoformat()}T{hhmm}:00.000+07:00"})
        district_weeks |= aired_weeks
        district_months |= aired_months
        req_weeks: list[str] = [str(w["week"]) for w in weeks if w["required"]]
        req_months: list[str] = [str(m["month"]) for m in months if m["required"]]
        missing_w = sorted(set(req_weeks) - aired_weeks)
        missing_m = sorted(set(req_months) - aired_months)
        tier = "weekly" if not missing_w else "monthly" if not missing_m else "none"
        n_excl = sum(1 for x in excluded if x["station"] == station)
        communes.append({
            "code": code, "name": name, "stations": [station], "tier": tier,
            "required_weeks": len(req_weeks), "weeks_aired": len(req_weeks) - len(missing_w), "missing_weeks": missing_w,
            "required_months": len(req_months), "months_aired": len(req_months) - len(missing_m),
            "missing_months": missing_m, "airings": count, "excluded": n_excl, "conflicts": 0,
            "schedule": {"scheduled": seq, "aired": count}, "criteria": {"1.5": 20 if tier == "weekly" else 0},
            "weeks_grid": [("aired" if w["week"] in aired_weeks else "not-aired") if w["required"]
                           else "not-required" for w in weeks],
        })
        stations.append({"id": station, "commune": code, "first_seq": 1, "last_seq": seq, "events": seq,
                         "gaps": [], "chain_breaks": [], "conflicts": []})
    stations[2]["gaps"] = [[40, 42]]
    stations[5]["chain_breaks"] = [57]
    stations[6]["bad_signatures"] = [12, 13]
    stations[2]["events"] -= 3
    excluded.append({"station": "dak-pne-01", "commune": "23323", "seq": 90,
                     "started_at": "2024-11-12T06:30:00.000+07:00", "reason": "clock-unsynced"})
    excluded.append({"station": "dak-rve-01", "commune": "23317", "seq": 12,
                     "started_at": "2024-02-13T23:30:00.000Z", "reason": "program"})
    d_tier = ("weekly" if set(req_weeks) <= district_weeks else
              "monthly" if set(req_months) <= district_months else "none")
    return {
        "period": {"from": start.isoformat(), "to": end.isoformat(), "timezone": "Asia/Ho_Chi_Minh"},
        "district": {"id": "kon-ray", "name": "Huyện Kon Rẫy", "tier": d_tier,
                     "required_weeks": len(req_weeks), "weeks_aired": len(set(req_weeks) & district_weeks),
                     "required_months": len(req_months), "months_aired": len(set(req_months) & district_months),
                     "airings": len(airings),
                     "criteria": {"1.6": 10 if airings else 0, "1.7": {"weekly": 10, "monthly": 5}.get(d_tier, 0)},
                     "key_thumbprint": "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
                     "weeks_grid": [("aired" if w["week"] in district_weeks else "not-aired") if w["required"]
                                    else "not-required" for w in weeks]},
        "communes": communes, "weeks": weeks, "months": months, "airings": airings, "excluded": excluded,
        "stations": stations,
        "findings": ["Station dak-pne-01: seqs 40-42 missing (3 event(s) not received).",
                     "Station dak-to-re-01: seq 57 does not chain to seq 56 (prev differs)."],
    }


def empty_report() -> dict[str, Any]:
    return {"period": {"from": "2024-01-01", "to": "2024-12-10", "timezone": "Asia/Ho_Chi_Minh"},
            "district": {"id": "kon-ray", "name": "Huyện Kon Rẫy", "tier": "none", "required_weeks": 49,
                         "weeks_aired": 0, "required_months": 11, "months_aired": 0, "airings": 0,
                         "criteria": {"1.6": 0, "1.7": 0}},
            "communes": [], "weeks": [], "months": [], "airings": [], "excluded": [], "stations": [], "findings": []}


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return kon_ray_report()


@pytest.fixture(scope="module")
def vi_pdf(tmp_path_factory: pytest.TempPathFactory, report: dict[str, Any]) -> Path:
    return write_report_pdf(report, tmp_path_factory.mktemp("pdf") / "report.pdf", lang="vi")


def test_report_fixture_scores_as_scoring_md(report: dict[str, Any]) -> None:
    by_name = {c["name"]: c for c in report["communes"]}
    assert report["district"]["required_weeks"] == 49 and report["district"]["required_months"] == 11
    assert by_name["Xã Đăk Kôi"]["tier"] == "monthly" and by_name["Xã Tân Lập"]["tier"] == "none"
    assert by_name["Xã Đăk Pne"]["tier"] == "weekly" and report["district"]["criteria"] == {"1.6": 10, "1.7": 10}
    assert all(len(c["weeks_grid"]) == len(report["weeks"]) == 50 for c in report["communes"])


def test_report_pdf_vietnamese_text_has_exact_diacritics(vi_pdf: Path) -> None:
    text = pdf_text(vi_pdf)
    for expected in ("ỦY BAN NHÂN DÂN", "HUYỆN KON RẪY", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
                     "Độc lập - Tự do - Hạnh phúc", "TÀI LIỆU KIỂM CHỨNG", "Chuyển đổi số",
                     "hệ thống truyền thanh cơ sở", "Tiêu chí", "Đài truyền thanh cấp xã", "Xã Đăk Kôi",
                     "Thị trấn Đăk Rve", "Xã Đăk Tờ Re", "Xã Đăk Ruồng", "Hằng tuần (≥ 1 lần/tuần)",
                     "Hằng tháng (≥ 1 lần/tháng)", "Dưới 1 lần/tháng", "Chuyển đổi số là gì?",
                     "không phát trọn vẹn", "đồng hồ của trạm chưa được đồng bộ",
                     "không thuộc chuyên mục Chuyển đổi số", "radio-district verify THƯ-MỤC --district-key=NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
                     "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", "01/01/2024", "10/12/2024", "Trang 1",
                     "Trạm dak-pne-01: thiếu số thứ tự 40..42 (3 sự kiện không nhận được).", "Toàn huyện",
                     "Trạm dak-to-re-01: sự kiện số 57 không nối chuỗi với sự kiện số 56", "TM. ỦY BAN NHÂN DÂN"):
        assert expected in text, expected
    assert "VERIFICATION DOCUMENT" not in text


def test_report_pdf_grid_marks_each_week(vi_pdf: Path, report: dict[str, Any]) -> None:
    text = pdf_text(vi_pdf)
    scopes = [report["district"], *report["communes"]]
    aired = sum(c["weeks_grid"].count("aired") for c in scopes)
    not_aired = sum(c["weeks_grid"].count("not-aired") for c in scopes)
    assert text.count("■") == aired + 1  # one more in the legend
    assert text.count("□") == not_aired + 1
    assert not_aired == 4 + 7


def test_report_pdf_pages_metadata_and_landscape_grid(vi_pdf: Path) -> None:
    reader = PdfReader(str(vi_pdf))
    assert reader.metadata is not None and reader.metadata.title == "Tài liệu kiểm chứng - Chuyển đổi số"
    sizes = [(float(p.mediabox.width), float(p.mediabox.height)) for p in reader.pages]
    assert sizes[0][0] < sizes[0][1]  # the official header page is portrait
    grid_pages = [i for i, p in enumerate(reader.pages) if "PHÁT SÓNG THEO TUẦN" in (p.extract_text() or "")]
    assert grid_pages and sizes[grid_pages[0]][0] > sizes[grid_pages[0]][1]
    assert "Trang" in (reader.pages[-1].extract_text() or "")
    assert b"DejaVuSans" in vi_pdf.read_bytes()  # the font is embedded (subset), not referenced


def test_report_pdf_english_has_english_headings(tmp_path: Path, report: dict[str, Any]) -> None:
    text = pdf_text(write_report_pdf(report, tmp_path / "report-en.pdf", lang="en"))
    for expected in ("PEOPLE'S COMMITTEE", "KON RẪY DISTRICT", "SOCIALIST REPUBLIC OF VIET NAM",
                     "VERIFICATION DOCUMENT", "I. POINTS BY CRITERION", "III. COUNTED AIRINGS",
                     "VI. HOW TO VERIFY", "Weekly (≥ once a week)", "Xã Đăk Kôi", "Page 1",
                     "station clock not synchronised", "Station dak-pne-01: seqs 40-42 missing"):
        assert expected in text, expected
    assert "TÀI LIỆU KIỂM CHỨNG" not in text


def test_report_pdf_empty_report_says_there_is_no_data(tmp_path: Path) -> None:
    text = pdf_text(write_report_pdf(empty_report(), tmp_path / "empty.pdf"))
    assert "Không có dữ liệu" in text and "Không có lượt phát nào được tính trong kỳ." in text
    assert "II. PHÁT SÓNG THEO TUẦN" in text and "Chưa có trạm cấp xã nào được đăng ký" in text
    assert "radio-district verify" in text


def test_report_pdf_district_stations_only_says_no_commune(tmp_path: Path, report: dict[str, Any]) -> None:
    only_district = {**report, "communes": [], "airings": report["airings"][:3]}
    text = pdf_text(write_report_pdf(only_district, tmp_path / "district-only.pdf"))
    assert "Chưa có trạm cấp xã nào được đăng ký" in text and "Chuyển đổi số là gì?" in text
    assert text.count("Chưa có trạm cấp xã nào được đăng ký") == 2  # at the top and instead of the grid
    pages = PdfReader(str(tmp_path / "district-only.pdf")).pages
    assert all(float(p.mediabox.width) < float(p.mediabox.height) for p in pages)  # no empty landscape grid page


def test_report_pdf_two_years_with_iso_week_53(tmp_path: Path) -> None:
    """2020 has a week 53; 2020-01-01..2021-12-31 needs two grid tables, and must not break."""
    weeks: list[dict[str, Any]] = []
    monday = date(2019, 12, 30)
    while monday <= date(2021, 12, 31):
        iso = monday.isocalendar()
        weeks.append({"week": f"{iso.year}-W{iso.week:02d}", "start": monday.isoformat(),
                      "end": (monday + timedelta(days=6)).isoformat(), "required": monday >= date(2020, 1, 1)})
        monday += timedelta(days=7)
    report = empty_report()
    report["weeks"] = weeks
    report["communes"] = [{"code": "23320", "name": "Xã Đăk Kôi", "stations": ["dak-koi-01"], "tier": "none",
                           "required_weeks": len(weeks) - 1, "weeks_aired": 1, "criteria": {"1.5": 0},
                           "weeks_grid": ["not-required", "aired", *["not-aired"] * (len(weeks) - 2)]}]
    path = write_report_pdf(report, tmp_path / "two-years.pdf")
    text = pdf_text(path)
    assert weeks[52]["week"] == "2020-W53" and text.count("■") == 2 and text.count("□") == len(weeks) - 2 + 1
    assert "2020 T12" in text and "2021 T1" in text  # one table per ISO year, labelled with it
    assert grid_chunks(weeks) == [(0, 53), (53, 105)] and grid_chunks(weeks[:60][-50:]) == [(0, 50)]


def test_report_pdf_tolerates_missing_members(tmp_path: Path) -> None:
    text = pdf_text(write_report_pdf({"district": {"id": "kon-ray"}}, tmp_path / "bare.pdf"))
    assert "Không có dữ liệu" in text


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"lang": "fr"}, "unknown document language 'fr'"),
    ({"path_in_file": True}, "cannot write"),
])
def test_report_pdf_bad_requests_raise_document_error(tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    path = blocker / "report.pdf" if kwargs.pop("path_in_file", False) else tmp_path / "r.pdf"
    with pytest.raises(DocumentError, match=message):
        write_report_pdf(empty_report(), path, **kwargs)


def test_report_pdf_without_vietnamese_font_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdf_pages, "_fonts", None)
    monkeypatch.setattr(pdf_pages, "FONT_DIRS", (str(tmp_path),))
    monkeypatch.delenv("COMMUNE_RADIO_FONT", raising=False)
    with pytest.raises(DocumentError, match="no TrueType font covering Vietnamese.*fonts-dejavu-core"):
        write_report_pdf(empty_report(), tmp_path / "r.pdf")
    assert not (tmp_path / "r.pdf").exists()


def test_report_xlsx_sheets_and_cells_read_back(tmp_path: Path, report: dict[str, Any]) -> None:
    path = write_report_xlsx(report, tmp_path / "report.xlsx", lang="vi")
    wb = load_workbook(path)
    assert wb.sheetnames == ["Tổng hợp", "Lưới tuần", "Lượt phát", "Không tính", "Trạm"]
    summary = wb["Tổng hợp"]
    values = [c for row in summary.iter_rows(values_only=True) for c in row if c is not None]
    assert "TÀI LIỆU KIỂM CHỨNG" in values and "Huyện Kon Rẫy" in values
    assert "Hằng tuần (≥ 1 lần/tuần)" in values and "Xã Đăk Kôi" in values
    summary_rows = list(summary.iter_rows(values_only=True))
    assert ("Xã Đăk Kôi", "1.5", "Tuyên truyền về chuyển đổi số trên Đài truyền thanh cấp xã (theo hướng dẫn "
            "của UBND cấp huyện), thực hiện đầy đủ", "Hằng tháng (≥ 1 lần/tháng); 45/49 tuần", 20, 0) in [
        r[:6] for r in summary_rows]
    assert ("Huyện Kon Rẫy", "1.7") == next(r[:2] for r in summary_rows if r[1] == "1.7")
    assert next(r for r in summary_rows if r[1] == "1.6 + 1.7")[4:6] == (20, 20)
    grid = wb["Lưới tuần"]
    rows = list(grid.iter_rows(values_only=True))
    assert rows[1][:5] == ("Xã, thị trấn", "Tuần đạt / yêu cầu", "Tần suất", "Điểm đạt", "2024-W01")
    assert rows[2][:4] == ("Toàn huyện", "49/49", "Hằng tuần (≥ 1 lần/tuần)", "10 (1.7)")
    koi = next(r for r in rows if r[0] == "Xã Đăk Kôi")
    assert koi[1] == "45/49" and koi[3] == "0 (1.5)" and koi[4 + 6] == "□" and koi[4] == "■" and koi[4 + 49] == "·"
    koi_row = next(i for i, r in enumerate(rows, start=1) if r[0] == "Xã Đăk Kôi")
    assert grid.cell(row=koi_row, column=11).fill.fgColor.rgb.endswith("FFCDD2")
    airings = list(wb["Lượt phát"].iter_rows(values_only=True))
    assert len(airings) - 1 == len(report["airings"])
    assert airings[1][:8] == (1, datetime(2024, 1, 2), time(6, 30), "dak-rve-01", "Thị trấn Đăk Rve",
                              "Chuyển đổi số là gì?", "5:01", datetime(2024, 1, 2, 6, 30))
    excluded = list(wb["Không tính"].iter_rows(values_only=True))
    reasons = {r[5] for r in excluded[1:]}
    assert {"không phát trọn vẹn", "đồng hồ của trạm chưa được đồng bộ",
            "không thuộc chuyên mục Chuyển đổi số"} <= reasons
    assert any(r[4] == datetime(2024, 2, 14, 6, 30) for r in excluded[1:])  # UTC shown in local time
    stations = list(wb["Trạm"].iter_rows(values_only=True))
    pne = next(r for r in stations if r[0] == "dak-pne-01")
    assert pne[2] == "1..99" and pne[4] == "40..42" and pne[5] == "-"
    assert next(r for r in stations if r[0] == "dak-to-re-01")[5] == "57"
    assert next(r for r in stations if r[0] == "tan-lap-01")[7] == "12, 13" and pne[7] == "-"
    assert "Trạm dak-pne-01: thiếu số thứ tự 40..42 (3 sự kiện không nhận được)." in [r[0] for r in stations]


def test_report_xlsx_english_and_empty(tmp_path: Path) -> None:
    wb = load_workbook(write_report_xlsx(empty_report(), tmp_path / "e.xlsx", lang="en"))
    assert wb.sheetnames == ["Summary", "Weeks grid", "Airings", "Excluded", "Stations"]
    values = [c for row in wb["Summary"].iter_rows(values_only=True) for c in row if c is not None]
    assert any(str(v).startswith("No data") for v in values)
    assert list(wb["Airings"].iter_rows(values_only=True))[0][0] == "No."
