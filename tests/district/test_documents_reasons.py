"""Why an event does not count, in the official's words: every protocol outcome and reason
code, and a missed slot (station offline, 0 s played) read back from a real bundle."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from test_evidence_support import PERIOD, District, build_district, pdf_text

from district_collector.cli import main
from district_collector.config import load_district_config
from district_collector.documents.i18n import code_text, failure_text
from district_collector.documents.report_tables import reason_text
from district_collector.intake.importer import import_files
from district_collector.store.sqlite import SqliteStore
from radio_protocol.clock import SimulatedClock
from radio_protocol.messages.event import OUTCOMES, REASONS

EXCLUSION_REASONS = ("unknown-station", "bad-signature", "program", "outcome", "clock-unsynced", "conflict")


@pytest.mark.parametrize("code", [*OUTCOMES, *REASONS, *EXCLUSION_REASONS])
def test_reasons_every_protocol_and_scoring_code_has_words(code: str) -> None:
    vi, en = code_text(code, "vi"), code_text(code, "en")
    assert vi and en and vi != code and vi != en


@pytest.mark.parametrize(("outcome", "reason", "played", "vi", "en"), [
    ("missed", "station-down", 0.0, "không phát được (lỡ khung giờ): trạm mất kết nối (không hoạt động vào giờ "
     "phát); đã phát 0 giây", "not aired (slot missed): station offline at the slot time; played 0 s"),
    ("interrupted", "amp-fault", 130.0, "phát chưa đủ: lỗi bộ khuếch đại; đã phát 2:10 / 5:00",
     "not aired in full: amplifier fault; played 2:10 / 5:00"),
    ("failed", "clock-unsynced", 0.0, "không phát được: đồng hồ của trạm chưa được đồng bộ; đã phát 0 giây",
     "could not start: station clock not synchronised; played 0 s"),
])
def test_reasons_failure_text(outcome: str, reason: str, played: float, vi: str, en: str) -> None:
    assert failure_text(outcome, reason, played, 300.0, "vi") == vi
    assert failure_text(outcome, reason, played, 300.0, "en") == en
    entry = {"reason": "outcome", "outcome": outcome, "outcome_reason": reason, "played_s": played, "media_s": 300.0}
    assert reason_text(entry, "vi") == vi
    assert reason_text({"reason": "outcome"}, "vi") == "không phát trọn vẹn"  # a report without the payload facts


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> tuple[District, int, int]:
    """The test district plus a slot missed while the station was offline and an airing that
    could not start because the clock was not synchronised."""
    d = build_district(tmp_path_factory.mktemp("district"))
    ruong = d.stations["dak-ruong-01"]
    slot = "2024-11-26T17:00:00.000+07:00"
    extra = [ruong.airing(slot, slot=slot, outcome="missed", reason="station-down", played_s=0.0)]
    missed_seq = ruong.seq
    extra.append(ruong.airing("2024-11-27T17:00:00.000+07:00", outcome="failed", reason="clock-unsynced",
                              played_s=0.0))
    failed_seq = ruong.seq
    path = d.config_path.parent / "extra-events.jsonl"
    path.write_bytes(b"".join(j + b"\n" for j in extra))
    cfg = load_district_config(d.config_path)
    with SqliteStore(cfg.database) as store:
        counts = import_files(cfg, store, [path], clock=SimulatedClock(datetime(2024, 12, 11, tzinfo=UTC)))
    assert counts["rejected"] == 0, counts
    return d, missed_seq, failed_seq


def _bundle(d: District, out: Path, lang: str) -> Path:
    assert main(["-c", str(d.config_path), "evidence", "--from", PERIOD[0], "--to", PERIOD[1],
                 "--out", str(out), "--lang", lang]) == 0
    return out


def _reason_of(xlsx: Path, sheet: str, seq: int) -> str:
    rows = list(load_workbook(xlsx)[sheet].iter_rows(values_only=True))
    return next(str(r[5]) for r in rows[1:] if r[1] == "dak-ruong-01" and r[3] == seq)


def test_reasons_missed_slot_reads_station_offline_in_vietnamese(district: tuple[District, int, int],
                                                                 tmp_path: Path) -> None:
    d, missed, failed = district
    out = _bundle(d, tmp_path / "vi", "vi")
    text = pdf_text(out / "report.pdf")
    assert "trạm mất kết nối" in text and "đã phát 0 giây" in text
    assert "không phát trọn vẹn" not in text
    assert "phát chưa đủ: nhường cho bản tin ưu tiên/khẩn cấp" in text  # the interrupted airing of March
    assert _reason_of(out / "report.xlsx", "Không tính", missed) == (
        "không phát được (lỡ khung giờ): trạm mất kết nối (không hoạt động vào giờ phát); đã phát 0 giây")
    assert _reason_of(out / "report.xlsx", "Không tính", failed) == (
        "không phát được: đồng hồ của trạm chưa được đồng bộ; đã phát 0 giây")


def test_reasons_missed_slot_in_english(district: tuple[District, int, int], tmp_path: Path) -> None:
    d, missed, _failed = district
    out = _bundle(d, tmp_path / "en", "en")
    assert "not aired (slot missed): station offline at the slot time" in pdf_text(out / "report.pdf")
    assert _reason_of(out / "report.xlsx", "Excluded", missed) == (
        "not aired (slot missed): station offline at the slot time; played 0 s")
