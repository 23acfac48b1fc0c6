"""The printed report as an official signs it: the number and date lines, no heading alone at
the foot of a page, no English words in Vietnamese sentences, the weekly chart."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from test_documents_report import empty_report, kon_ray_report
from test_evidence_support import pdf_text

from district_collector.documents import i18n, i18n_codes
from district_collector.documents.pdf_report import write_report_pdf

HEADINGS = ("I. KẾT QUẢ", "II. PHÁT SÓNG", "III. DANH SÁCH", "IV. CÁC SỰ KIỆN", "V. DỮ LIỆU", "VI. CÁCH KIỂM TRA",
            "Các phát hiện:")
ENGLISH = {"verified", "verify", "manifest", "prev", "seq", "station", "stations", "event", "events", "signature",
           "report", "airing", "airings", "segment", "slot", "outcome", "commune", "district", "key", "hash", "chain",
           "gap", "gaps", "conflict", "schedule", "played", "started", "week", "weeks", "month", "finding",
           "findings", "missing", "completed", "interrupted", "failed", "missed", "not", "the", "and", "of", "by",
           "with", "bundle", "keys", "file", "files", "none", "yes", "no", "page"}


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return kon_ray_report()


def _english_words(text: str) -> set[str]:
    """Words of ``text`` that are English, leaving out identifiers (file names, commands, ids)."""
    words = (w.strip("()[]\"',.:;") for w in text.replace("radio-district verify", " ").split())
    return {w for w in words if w.lower() in ENGLISH and not re.search(r"[._/=-]", w)}


def test_layout_number_and_place_date_lines(tmp_path: Path, report: dict[str, Any]) -> None:
    small = {**report, "airings": report["airings"][:10]}
    vi = pdf_text(write_report_pdf(small, tmp_path / "vi.pdf"))
    assert "Số: ......../BC-UBND" in vi and "Kon Rẫy, ngày ..... tháng ..... năm 2024" in vi
    assert vi.index("HUYỆN KON RẪY") < vi.index("Số: ......../BC-UBND") < vi.index("TÀI LIỆU KIỂM CHỨNG")
    en = pdf_text(write_report_pdf(small, tmp_path / "en.pdf", lang="en"))
    assert "No.: ......../BC-UBND" in en and "Kon Rẫy, ..... / ..... / 2024" in en


def test_layout_no_english_word_in_vietnamese(tmp_path: Path, report: dict[str, Any]) -> None:
    strings = [vi for vi, _en in i18n._T.values()] + [vi for vi, _en in i18n_codes._CODES.values()]
    strings += [template for _pattern, template in i18n_codes._FINDINGS]
    for text in strings:
        assert not _english_words(text), text
    findings = [*report["findings"], "Station tan-lap-01: seq 57 does not chain to seq 56 (prev differs)."]
    text = pdf_text(write_report_pdf({**report, "findings": findings}, tmp_path / "vi.pdf"))
    assert "ĐÃ XÁC MINH" in text
    assert not _english_words(text)


def _page_ends(path: Path) -> list[str]:
    """The last line of text of each page above the footer."""
    pages = subprocess.run(["pdftotext", "-enc", "UTF-8", "-layout", str(path), "-"], check=True,
                           capture_output=True, text=True).stdout.split("\f")
    ends = []
    for page in pages:
        lines = [line.strip() for line in page.splitlines() if line.strip()]
        if len(lines) >= 2:
            ends.append(lines[-2])  # the last line is the footer (title, page number)
    return ends


@pytest.mark.parametrize("stations", range(0, 60))
def test_layout_no_heading_ends_a_page(tmp_path: Path, stations: int) -> None:
    """Shift the sections down a row at a time: no heading is ever the last line of a page."""
    report = empty_report()
    report["stations"] = [{"id": f"st-{i:02d}", "commune": "23320", "first_seq": 1, "last_seq": 9, "events": 9,
                           "gaps": [], "chain_breaks": [], "conflicts": []} for i in range(stations + 40)]
    report["findings"] = [f"Station st-{i:02d}: seq 4 missing (1 event(s) not received)." for i in range(3)]
    path = write_report_pdf(report, tmp_path / "r.pdf")
    for end in _page_ends(path):
        assert not end.startswith(HEADINGS), end


@pytest.mark.parametrize(("lang", "title"), [("vi", "Số lượt phát được tính theo tuần, từng xã, thị trấn"),
                                             ("en", "Counted airings per week, by commune")])
def test_layout_weekly_chart_in_the_pdf(tmp_path: Path, report: dict[str, Any], lang: str, title: str) -> None:
    text = pdf_text(write_report_pdf(report, tmp_path / "r.pdf", lang=lang))
    chart = text[text.index(title):]
    assert all(c["name"] in chart for c in report["communes"])  # the legend names every commune
