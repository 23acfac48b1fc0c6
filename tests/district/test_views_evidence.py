"""The evidence zip: the files ``radio-district evidence`` writes, verified once unzipped
by a real ``radio-district verify`` process; a commune's zip holds only that commune."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from views_testkit import KOI, KOI_COMMUNE, RUONG, ViewsKit, make_views_kit

from district_collector.cli import main as district_main
from district_collector.store.sqlite import SqliteStore
from district_collector.views.evidence import evidence_zip, report_pdf, report_xlsx

START, END = date(2026, 11, 2), date(2026, 11, 29)
NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture
def vk(tmp_path: Path) -> ViewsKit:
    vk = make_views_kit(tmp_path)
    vk.ingest(KOI, [vk.airing(KOI, f"2026-11-{d:02d} 06:30") for d in (3, 10, 17)])
    vk.ingest(RUONG, [vk.airing(RUONG, f"2026-11-{d:02d} 17:00") for d in (4, 11)])
    return vk


def unzip(data: bytes, into: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        assert all(n.startswith("evidence-kon-ray-2026-11-02-2026-11-29/") and ".." not in n for n in names)
        zf.extractall(into)
    return into / "evidence-kon-ray-2026-11-02-2026-11-29"


def verify(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "district_collector.cli", "verify", str(folder)],
                          capture_output=True, text=True, timeout=300)


def test_zip_is_the_commands_bundle_and_verifies(vk: ViewsKit, tmp_path: Path) -> None:
    with SqliteStore.open_read_only(vk.config.database) as store:
        data = evidence_zip(store, vk.config, START, END, now=NOW)
    folder = unzip(data, tmp_path / "unzipped")
    done = verify(folder)
    assert done.returncode == 0, done.stdout + done.stderr
    cli_out = tmp_path / "cli"
    assert district_main(["-c", str(vk.kit.district_config), "evidence", "--out", str(cli_out),
                          "--from", START.isoformat(), "--to", END.isoformat()]) == 0
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in cli_out.iterdir())
    for name in ("events.jsonl", "schedules.jsonl", "keys.json", "report.json", "criteria.json"):
        assert (folder / name).read_bytes() == (cli_out / name).read_bytes(), name


def test_a_communes_zip_holds_only_its_stations(vk: ViewsKit, tmp_path: Path) -> None:
    with SqliteStore.open_read_only(vk.config.database) as store:
        data = evidence_zip(store, vk.config, START, END, communes=[KOI_COMMUNE], lang="en", now=NOW)
        pdf = report_pdf(store, vk.config, START, END, communes=[KOI_COMMUNE])
        xlsx = report_xlsx(store, vk.config, START, END)
    folder = unzip(data, tmp_path / "koi")
    assert verify(folder).returncode == 0
    events = (folder / "events.jsonl").read_bytes().splitlines()
    assert len(events) == 3
    report = json.loads((folder / "report.json").read_bytes())
    assert [c["code"] for c in report["communes"]] == [KOI_COMMUNE]
    assert {s["id"] for s in report["stations"]} == {KOI}
    keys = json.loads((folder / "keys.json").read_bytes())
    assert [s["id"] for s in keys["stations"]] == [KOI]
    assert pdf.startswith(b"%PDF") and xlsx.startswith(b"PK")
