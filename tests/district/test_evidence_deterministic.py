"""The same store and clock give the same bytes: two ``evidence`` runs write byte-identical
bundles (report.pdf/.xlsx included: they are dated by the bundle's ``generated_at``, not by
the time of writing), and the console's zip is byte-identical too."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from test_evidence_support import PERIOD, District, build_district

from district_collector.cli import main
from district_collector.commands import report as commands_report
from district_collector.config import load_district_config
from district_collector.store.sqlite import SqliteStore
from district_collector.views.evidence import evidence_zip, report_pdf, report_xlsx
from radio_protocol.clock import SimulatedClock

ARGS = ["--from", PERIOD[0], "--to", PERIOD[1]]
AT = datetime(2024, 12, 11, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> District:
    return build_district(tmp_path_factory.mktemp("district"))


def _bundle(d: District, out: Path, at: datetime, monkeypatch: pytest.MonkeyPatch, *extra: str) -> dict[str, bytes]:
    monkeypatch.setattr(commands_report, "default_clock", lambda: SimulatedClock(at))
    assert main(["-c", str(d.config_path), "evidence", *ARGS, "--out", str(out), *extra]) == 0
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_two_evidence_runs_give_byte_identical_bundles(district: District, tmp_path: Path, lang: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    first = _bundle(district, tmp_path / "one", AT, monkeypatch, "--lang", lang)
    second = _bundle(district, tmp_path / "two", AT, monkeypatch, "--lang", lang)
    assert {"report.pdf", "report.xlsx", "manifest.json", "manifest.jws", "events.jsonl"} <= set(first)
    assert sorted(second) == sorted(first)
    assert [name for name, data in first.items() if second[name] != data] == []
    # the documents carry the bundle's generated_at, not the wall clock
    assert b"/CreationDate (D:20241211030405+00'00')" in first["report.pdf"]
    assert b"/ModDate (D:20241211030405+00'00')" in first["report.pdf"]
    props = load_workbook(io.BytesIO(first["report.xlsx"]), read_only=True).properties
    assert props.created == props.modified == AT.replace(tzinfo=None)
    with zipfile.ZipFile(io.BytesIO(first["report.xlsx"])) as zf:
        assert {info.date_time for info in zf.infolist()} == {(2024, 12, 11, 3, 4, 4)}  # zip: 2 s steps
    # another generation time changes the dates, and nothing in the scored content
    later = _bundle(district, tmp_path / "later", datetime(2025, 1, 2, tzinfo=UTC), monkeypatch, "--lang", lang)
    assert later["report.json"] == first["report.json"] and later["events.jsonl"] == first["events.jsonl"]
    assert later["report.pdf"] != first["report.pdf"]
    assert b"/CreationDate (D:20250102000000+00'00')" in later["report.pdf"]


def test_the_consoles_downloads_are_byte_identical_for_the_same_now(district: District) -> None:
    cfg = load_district_config(district.config_path)
    start, end = date.fromisoformat(PERIOD[0]), date.fromisoformat(PERIOD[1])
    with SqliteStore.open_read_only(cfg.database) as store:
        for make in (evidence_zip, report_pdf, report_xlsx):
            one = make(store, cfg, start, end, None, "vi", AT)
            two = make(store, cfg, start, end, None, "vi", AT)
            assert one == two, make.__name__
    with zipfile.ZipFile(io.BytesIO(one)) as zf:
        assert zf.testzip() is None
