"""``report --stations`` and ``evidence --stations``: the report of some stations alone,
from a real store filled by the real importer (test_evidence_support's district: dak-koi-01
airs every Tuesday and has two published schedules, dak-koi-02 never sends, dak-ruong-01
has excluded events, a gap and a conflict, kon-ray-tt is the district's own station)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_evidence_support import PERIOD, District, build_district

from district_collector.cli import main
from district_collector.commands import report as commands_report
from district_collector.config import load_district_config
from district_collector.scoring.report import decode_payload
from district_collector.store.sqlite import SqliteStore
from district_collector.views.compliance import report_json
from district_collector.views.evidence import evidence_zip
from radio_protocol.clock import SimulatedClock

ARGS = ["--from", PERIOD[0], "--to", PERIOD[1]]
KOI_COMMUNE = "23335"
OTHERS = ("dak-ruong-01", "kon-ray-tt", "23338")


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commands_report, "default_clock", lambda: SimulatedClock(datetime(2024, 12, 11, tzinfo=UTC)))


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> District:
    d = build_district(tmp_path_factory.mktemp("district"))
    config = yaml.safe_load(d.config_path.read_text(encoding="utf-8"))
    config["groups"] = {"koi": ["dak-koi-01", "dak-koi-02"], "nam": ["dak-ruong-01"]}
    d.config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return d


def _report(d: District, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["-c", str(d.config_path), "report", *ARGS, "--format", "json", *extra]) == 0
    return dict(json.loads(capsys.readouterr().out))


def _by(items: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {item[key]: item for item in items}


@pytest.mark.parametrize("airings", [False, True], ids=["summaries", "rows"])
def test_a_groups_report_has_the_full_reports_figures_of_its_stations(
        district: District, capsys: pytest.CaptureFixture[str], airings: bool) -> None:
    extra = ["--airings"] if airings else []
    full = _report(district, capsys, *extra)
    koi = _report(district, capsys, "--stations", "koi", *extra)
    # the whole commune 23335 is in the group: its figures are the full report's
    assert [c["code"] for c in koi["communes"]] == [KOI_COMMUNE]
    assert koi["communes"][0] == _by(full["communes"], "code")[KOI_COMMUNE]
    assert [s["id"] for s in koi["stations"]] == ["dak-koi-01", "dak-koi-02"]
    for sid in ("dak-koi-01", "dak-koi-02"):
        assert _by(koi["stations"], "id")[sid] == _by(full["stations"], "id")[sid]
    # the other stations' events are counted nowhere: not aired, not excluded, not named
    assert full["district"]["airings"] > koi["district"]["airings"] == koi["communes"][0]["airings"] > 40
    assert koi["district"]["excluded"] == len(koi["excluded"]) == 0 < len(full["excluded"])
    text = json.dumps(koi)
    assert not [name for name in OTHERS if name in text]
    if airings:
        assert koi["airings"] == [a for a in full["airings"] if a["station"].startswith("dak-koi")]
    # ids and groups mix, repeats collapse; the console's report_json is the same object
    assert _report(district, capsys, "--stations", "dak-koi-02, koi,dak-koi-01", *extra) == koi
    cfg = load_district_config(district.config_path)
    with SqliteStore.open_read_only(cfg.database) as store:
        assert report_json(store, cfg, date.fromisoformat(PERIOD[0]), date.fromisoformat(PERIOD[1]),
                           airings, ["koi"]) == koi


def test_a_station_without_its_commune_neighbours_scores_its_commune_alone(
        district: District, capsys: pytest.CaptureFixture[str]) -> None:
    one = _report(district, capsys, "--stations", "dak-koi-02,nam")
    assert [s["id"] for s in one["stations"]] == ["dak-koi-02", "dak-ruong-01"]
    koi = _by(one["communes"], "code")[KOI_COMMUNE]
    assert koi["stations"] == ["dak-koi-02"] and koi["airings"] == 0 and koi["weeks_aired"] == 0
    full = _report(district, capsys)
    assert _by(one["communes"], "code")["23338"] == _by(full["communes"], "code")["23338"]
    capsys.readouterr()
    assert main(["-c", str(district.config_path), "report", *ARGS, "--stations", "nam"]) == 0
    table = capsys.readouterr().out
    assert "23338" in table and KOI_COMMUNE not in table


def test_a_groups_bundle_holds_only_its_stations_and_verifies(district: District, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "koi"
    capsys.readouterr()
    assert main(["-c", str(district.config_path), "evidence", *ARGS, "--stations", "koi", "--out", str(out)]) == 0
    capsys.readouterr()
    done = subprocess.run([sys.executable, "-m", "district_collector.cli", "verify", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    keys = json.loads((out / "keys.json").read_bytes())
    assert [s["id"] for s in keys["stations"]] == ["dak-koi-01", "dak-koi-02"]
    events = [line for line in (out / "events.jsonl").read_bytes().splitlines() if line]
    assert len(events) > 40 and all(j in district.imported for j in events)
    assert {decode_payload(j)["station"] for j in events} == {"dak-koi-01"}
    schedules = (out / "schedules.jsonl").read_bytes().splitlines()
    assert len(schedules) == 2
    report = json.loads((out / "report.json").read_bytes())
    assert report == _report(district, capsys, "--stations", "koi", "--airings")
    text = (out / "report.json").read_text(encoding="utf-8") + (out / "events.jsonl").read_text(encoding="utf-8")
    assert not [name for name in OTHERS if name in text]
    cfg = load_district_config(district.config_path)
    with SqliteStore.open_read_only(cfg.database) as store:  # the console's zip shares the filter
        data = evidence_zip(store, cfg, date.fromisoformat(PERIOD[0]), date.fromisoformat(PERIOD[1]),
                            now=datetime(2024, 12, 11, tzinfo=UTC), stations=["koi"])
    assert len(data) > 1000


@pytest.mark.parametrize("command", ["report", "evidence"])
def test_unknown_station_names_are_refused_and_nothing_is_written(
        district: District, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str) -> None:
    out = tmp_path / "bundle"
    extra = ["--out", str(out)] if command == "evidence" else []
    capsys.readouterr()
    assert main(["-c", str(district.config_path), command, *ARGS, "--stations", "koi,nope,bac", *extra]) == 1
    got = capsys.readouterr()
    assert got.out == "" and not out.exists()
    lines = got.err.strip().splitlines()
    assert len(lines) == 1 and "nope, bac" in lines[0] and "not registered" in lines[0], got.err
    assert main(["-c", str(district.config_path), command, *ARGS, "--stations", " , ", *extra]) == 1
    assert "at least one station" in capsys.readouterr().err and not out.exists()
