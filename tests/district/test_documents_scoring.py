"""The documents render what the real scoring produces (the report contract, end to end)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from test_evidence_support import pdf_text

from district_collector.documents.pdf_report import write_report_pdf
from district_collector.documents.xlsx_report import write_report_xlsx
from district_collector.registry import Registry
from district_collector.scoring.compute import EventFacts, Period, facts_from_payload
from district_collector.scoring.report import build_report
from radio_protocol.messages.event import AiringEvent, Amp, Segment, build_event
from radio_protocol.timefmt import zone

HANOI = zone("Asia/Ho_Chi_Minh")
COMMUNES = {"dak-koi-01": "23320", "tan-lap-01": "23335"}  # as in the registry below


def facts(station: str, seq: int, day: date, *, outcome: str = "completed", program: str = "chuyen-doi-so",
          synced: bool = True, sha: str | None = None) -> EventFacts:
    """The facts of an airing payload, through the same constructor the collector uses."""
    started = datetime.combine(day, time(6, 30), HANOI)
    payload = build_event(AiringEvent(
        district="kon-ray", station=station, commune=COMMUNES[station], seq=seq, prev="x",
        segment=Segment("cds-a", "Chuyển đổi số là gì?", program), priority="normal", schedule_version=None,
        slot_at=started, started_at=started, ended_at=started, played_s=300.0, media_s=None,
        outcome=outcome, reason=None if outcome == "completed" else "preempted", amp=Amp(), level=None,
        clock_synced=synced, boot_id="b"))
    return facts_from_payload(payload, sha or f"{station}-{seq}", True)


@pytest.fixture(scope="module")
def scored() -> dict[str, object]:
    registry = Registry.build("kon-ray", "Huyện Kon Rẫy", "Asia/Ho_Chi_Minh", [], [
        ("dak-koi-01", "23320", "Xã Đăk Kôi", "commune", []),
        ("tan-lap-01", "23335", "Xã Tân Lập", "commune", []),
    ])
    period = Period.parse("2024-01-01", "2024-03-31", "Asia/Ho_Chi_Minh")
    events = []
    day, seq = date(2024, 1, 2), 0
    while day <= date(2024, 3, 31):
        seq += 1
        if seq != 5:  # seq 5 never reached the district: a gap
            events.append(facts("dak-koi-01", seq, day))
        day += timedelta(days=7)
    events.append(facts("dak-koi-01", seq + 1, date(2024, 3, 28), outcome="interrupted"))
    events.append(facts("dak-koi-01", seq + 2, date(2024, 3, 29), synced=False))
    events.append(facts("tan-lap-01", 1, date(2024, 2, 6), program="tin-tuc"))
    events.append(facts("tan-lap-01", 2, date(2024, 2, 7), sha="a"))
    events.append(facts("tan-lap-01", 2, date(2024, 2, 7), sha="b"))
    return build_report(events, registry, period)


def test_documents_render_a_real_report_in_vietnamese(tmp_path: Path, scored: dict[str, object]) -> None:
    text = pdf_text(write_report_pdf(scored, tmp_path / "report.pdf"))
    for expected in ("Xã Đăk Kôi", "Xã Tân Lập", "không phát trọn vẹn", "đồng hồ của trạm chưa được đồng bộ",
                     "không thuộc chuyên mục Chuyển đổi số", "xung đột: cùng số thứ tự nhưng nội dung khác",
                     "Trạm dak-koi-01: thiếu số thứ tự 5 (1 sự kiện không nhận được).",
                     "Trạm tan-lap-01: số thứ tự 2 nhận được 2 nội dung khác nhau (xung đột)", "Toàn huyện"):
        assert expected in text, expected
    assert "Station dak-koi-01" not in text  # findings are translated, not left in English


def test_documents_xlsx_of_a_real_report(tmp_path: Path, scored: dict[str, object]) -> None:
    wb = load_workbook(write_report_xlsx(scored, tmp_path / "report.xlsx"))
    grid = list(wb["Lưới tuần"].iter_rows(values_only=True))
    koi = next(r for r in grid if r[0] == "Xã Đăk Kôi")
    assert koi[1] == "12/13" and koi[4] == "■" and koi[4 + 4] == "□"  # W05 held only the lost seq 5
    stations = {r[0]: r for r in wb["Trạm"].iter_rows(values_only=True)}
    assert stations["dak-koi-01"][4] == "5" and stations["tan-lap-01"][6] == "2"
