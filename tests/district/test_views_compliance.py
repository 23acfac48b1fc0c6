"""The compliance grid on a store filled by real ingest: every figure the report's own
(``radio-district report --format json`` is byte-for-byte ``report_json``), cells aired /
not aired / excluded with the reason, at risk only in the running week, commune filter."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from views_testkit import KOI, KOI_COMMUNE, RUONG, RUONG_COMMUNE, ViewsKit, make_views_kit

from district_collector.cli import main as district_main
from district_collector.store.sqlite import SqliteStore
from district_collector.views.compliance import cell_airings, compliance, report_json

START, END = date(2026, 11, 2), date(2026, 11, 29)  # ISO weeks 45..48, Monday to Sunday
RUNNING = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # Wednesday of week 48


@pytest.fixture
def vk(tmp_path: Path) -> ViewsKit:
    vk = make_views_kit(tmp_path)
    vk.ingest(KOI, [vk.airing(KOI, "2026-11-03 06:30"),
                    vk.airing(KOI, "2026-11-10 06:30", outcome="interrupted", reason="shutdown")])
    vk.ingest(RUONG, [vk.airing(RUONG, f"2026-11-{day:02d} 17:00") for day in (4, 5, 11, 18, 24)])
    return vk


def test_report_json_is_what_the_report_command_prints(vk: ViewsKit, capsys: pytest.CaptureFixture[str]) -> None:
    assert district_main(["-c", str(vk.kit.district_config), "report", "--format", "json",
                          "--from", START.isoformat(), "--to", END.isoformat()]) == 0
    printed = json.loads(capsys.readouterr().out)
    with SqliteStore.open_read_only(vk.config.database) as store:
        assert report_json(store, vk.config, START, END) == printed
        grid = compliance(store, vk.config, START, END, now=RUNNING)
    by_code = {c["code"]: c for c in printed["communes"]}
    assert [r.score.code for r in grid.rows] == [KOI_COMMUNE, RUONG_COMMUNE]
    for row in grid.rows:
        c = by_code[row.score.code]
        assert (row.score.tier, row.score.criteria, row.score.weeks_aired, row.score.required_weeks,
                row.score.airings, row.score.excluded) == (c["tier"], c["criteria"], c["weeks_aired"],
                                                          c["required_weeks"], c["airings"], c["excluded"])
        assert [cell.state == "aired" for cell in row.weeks] == [g == "aired" for g in c["weeks_grid"]]
    d = printed["district"]
    assert (grid.district.tier, grid.district.criteria) == (d["tier"], d["criteria"])
    assert grid.rows[1].score.criteria == {"1.5": by_code[RUONG_COMMUNE]["criteria"]["1.5"]}


def test_cells_aired_excluded_not_aired_and_at_risk_only_while_running(vk: ViewsKit) -> None:
    with SqliteStore.open_read_only(vk.config.database) as store:
        grid = compliance(store, vk.config, START, END, now=RUNNING)
        later = compliance(store, vk.config, START, END, now=datetime(2026, 12, 3, tzinfo=UTC))
    assert [w.week for w in grid.weeks] == ["2026-W45", "2026-W46", "2026-W47", "2026-W48"]
    assert [w.running for w in grid.weeks] == [False, False, False, True]
    koi, ruong = grid.rows
    assert [c.state for c in koi.weeks] == ["aired", "excluded", "not-aired", "at-risk"]
    assert koi.weeks[1].reasons == ("outcome",) and koi.weeks[1].excluded == 1
    assert [c.airings for c in ruong.weeks] == [2, 1, 1, 1]
    assert [c.state for c in ruong.weeks] == ["aired"] * 4
    assert grid.airings_per_week == (3, 1, 1, 1)
    assert [c.state for c in later.rows[0].weeks] == ["aired", "excluded", "not-aired", "not-aired"]
    assert [m.month for m in grid.months] == ["2026-11"] and koi.months[0].state == "aired"
    as_json = grid.as_json()
    assert as_json["rows"][0]["weeks"][1] == {"state": "excluded", "airings": 0, "excluded": 1,
                                              "reasons": ["outcome"]}


def test_cell_airings_and_the_commune_filter(vk: ViewsKit) -> None:
    with SqliteStore.open_read_only(vk.config.database) as store:
        koi_week = cell_airings(store, vk.config, KOI_COMMUNE, date(2026, 11, 9), date(2026, 11, 15))
        ruong_all = cell_airings(store, vk.config, RUONG_COMMUNE, START, END)
        only_koi = compliance(store, vk.config, START, END, communes=[KOI_COMMUNE], now=RUNNING)
    assert [(a.station, a.local_date, a.local_time, a.counted, a.reason) for a in koi_week] == [
        (KOI, "2026-11-10", "06:30", False, "outcome")]
    assert {a.station for a in ruong_all} == {RUONG} and len(ruong_all) == 5
    assert all(a.counted and a.commune == RUONG_COMMUNE for a in ruong_all)
    assert [a.local_date for a in ruong_all][:2] == ["2026-11-04", "2026-11-05"]
    assert [r.score.code for r in only_koi.rows] == [KOI_COMMUNE]
    assert only_koi.airings_per_week == (1, 0, 0, 0)
