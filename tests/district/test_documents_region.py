"""The documents name the configured region as it is (after the 2025 reorganisation it may
be a province or a ward), show commune names rather than codes, and total the catalogue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from test_documents_catalogue import COMMUNES, DISTRICT, march_schedules
from test_documents_report import kon_ray_report
from test_evidence_support import pdf_text

from district_collector.documents.catalogue_doc import (
    build_catalogue_doc,
    write_catalogue_pdf,
    write_catalogue_xlsx,
)
from district_collector.documents.i18n import region_place, region_unit
from district_collector.documents.pdf import committee_name
from district_collector.documents.pdf_report import write_report_pdf
from district_collector.documents.xlsx_report import write_report_xlsx


@pytest.mark.parametrize(("name", "place", "vi", "en", "header_en"), [
    ("Huyện Kon Rẫy", "Kon Rẫy", "huyện", "district", "KON RẪY DISTRICT"),
    ("Tỉnh Quảng Ngãi", "Quảng Ngãi", "tỉnh", "province", "QUẢNG NGÃI PROVINCE"),
    ("Phường Kon Tum", "Kon Tum", "phường", "ward", "KON TUM WARD"),
    ("Xã Đăk Kôi", "Đăk Kôi", "xã", "commune", "ĐĂK KÔI COMMUNE"),
    ("Thành phố Kon Tum", "Kon Tum", "thành phố", "city", "KON TUM CITY"),
    ("Đặc khu Lý Sơn", "Lý Sơn", "đặc khu", "special zone", "LÝ SƠN SPECIAL ZONE"),
    ("Kon Rẫy", "Kon Rẫy", "huyện", "district", "KON RẪY"),
])
def test_region_words_follow_the_configured_name(name: str, place: str, vi: str, en: str, header_en: str) -> None:
    assert region_place(name) == place
    assert (region_unit(name, "vi"), region_unit(name, "en")) == (vi, en)
    assert committee_name(name, "vi") == name.upper()
    assert committee_name(name, "en") == header_en


def _province_report() -> dict[str, Any]:
    report = kon_ray_report()
    report["district"] = {**report["district"], "name": "Tỉnh Quảng Ngãi"}
    return report


def test_report_pdf_of_a_province_never_says_huyen_in_its_own_words(tmp_path: Path) -> None:
    text = pdf_text(write_report_pdf(_province_report(), tmp_path / "r.pdf"))
    assert "ỦY BAN NHÂN DÂN TỈNH QUẢNG NGÃI" in text
    assert "Quảng Ngãi, ngày ..... tháng ..... năm 2024" in text and "Tỉnh Quảng Ngãi, ngày" not in text
    assert "Toàn tỉnh" in text and "Toàn huyện" not in text and "HUYỆN" not in text
    assert "Dấu vân tay khóa của tỉnh (RFC 7638)" in text and "do UBND tỉnh công bố" in text
    # The criteria keep the letter's own words ("cấp huyện" is the index's level name).
    assert "Tiêu chí" in text or "1.6" in text
    english = pdf_text(write_report_pdf(_province_report(), tmp_path / "r-en.pdf", "en"))
    assert "QUẢNG NGÃI PROVINCE" in english and "Whole province" in english


def test_report_documents_name_the_commune_of_a_district_level_station(tmp_path: Path) -> None:
    report = kon_ray_report()
    station = report["airings"][0]["station"]
    report["airings"][0] = {**report["airings"][0], "commune": "23399"}
    report["commune_names"] = {"23399": "Thị trấn Trung Tâm"}
    text = pdf_text(write_report_pdf(report, tmp_path / "r.pdf"))
    assert f"{station} Thị trấn Trung Tâm" in text
    write_report_xlsx(report, tmp_path / "r.xlsx")
    sheet = load_workbook(tmp_path / "r.xlsx")["Lượt phát"]
    assert [c.value for c in sheet[2]][3:5] == [station, "Thị trấn Trung Tâm"]


def test_catalogue_totals_every_station_per_week(tmp_path: Path) -> None:
    doc = build_catalogue_doc(DISTRICT, march_schedules(), "2024-03", COMMUNES)
    text = pdf_text(write_catalogue_pdf(doc, tmp_path / "c.pdf"))
    per_week = [sum(s["per_week"][w["week"]] for s in doc["stations"]) for w in doc["weeks"]]
    total = sum(s["total"] for s in doc["stations"])
    assert "Tổng cộng 7 trạm " + " ".join(str(n) for n in per_week) + f" {total}" in text
    write_catalogue_xlsx(doc, tmp_path / "c.xlsx")
    rows = list(load_workbook(tmp_path / "c.xlsx")["Số lần theo tuần"].values)
    last = [v for v in next(r for r in rows if r and r[0] == "Tổng cộng") if v not in (None, "")]
    assert last == ["Tổng cộng", "7 trạm", *per_week, total]
