"""docs/scoring.md definitions, one by one: weeks and months, timezone, tiers and points."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from test_scoring_support import StationSigner, facts_of, registry_of

from district_collector.scoring.compute import (
    Period,
    ScoringError,
    period_months,
    period_weeks,
    score,
)
from district_collector.scoring.report import build_report


def _period(start: str, end: str) -> Period:
    return Period.parse(start, end, "Asia/Ho_Chi_Minh")


def test_period_worked_example_has_49_weeks_and_11_months() -> None:
    period = _period("2024-01-01", "2024-12-10")
    weeks = period_weeks(period)
    required = [w["week"] for w in weeks if w["required"]]
    assert required == [f"2024-W{n:02d}" for n in range(1, 50)]
    assert weeks[-1] == {"week": "2024-W50", "start": "2024-12-09", "end": "2024-12-15", "required": False}
    months = period_months(period)
    assert [m["month"] for m in months if m["required"]] == [f"2024-{n:02d}" for n in range(1, 12)]
    assert months[-1] == {"month": "2024-12", "required": False}
    report = score([], registry_of(StationSigner("a-01")), period)
    assert report["district"]["required_weeks"] == 49
    assert report["district"]["required_months"] == 11
    assert report["communes"][0]["missing_weeks"][0] == "2024-W01"
    assert len(report["communes"][0]["weeks_grid"]) == 50
    assert report["communes"][0]["weeks_grid"][-1] == "not-required"


@pytest.mark.parametrize(
    ("start", "end", "weeks", "months"),
    [
        ("2024-01-01", "2024-01-07", ["2024-W01"], []),        # exactly one Monday..Sunday
        ("2024-01-02", "2024-01-07", [], []),                  # Tuesday start: week not whole
        ("2024-01-01", "2024-01-06", [], []),                  # Saturday end: week not whole
        ("2024-01-02", "2024-01-14", ["2024-W02"], []),
        ("2024-02-01", "2024-02-29", ["2024-W06", "2024-W07", "2024-W08"], ["2024-02"]),  # leap Feb
        ("2024-02-01", "2024-02-28", ["2024-W06", "2024-W07", "2024-W08"], []),
        ("2023-12-25", "2024-01-31", ["2023-W52", "2024-W01", "2024-W02", "2024-W03", "2024-W04"],
         ["2024-01"]),
        ("2024-03-10", "2024-03-10", [], []),                  # a single day
    ],
)
def test_period_required_weeks_and_months_at_edges(start: str, end: str, weeks: list[str],
                                                    months: list[str]) -> None:
    period = _period(start, end)
    assert [w["week"] for w in period_weeks(period) if w["required"]] == weeks
    assert [m["month"] for m in period_months(period) if m["required"]] == months


def test_period_iso_week_53_in_2020() -> None:
    weeks = period_weeks(_period("2020-01-01", "2020-12-31"))
    assert weeks[0] == {"week": "2020-W01", "start": "2019-12-30", "end": "2020-01-05", "required": False}
    assert weeks[-1] == {"week": "2020-W53", "start": "2020-12-28", "end": "2021-01-03", "required": False}
    assert sum(w["required"] for w in weeks) == 51
    across = period_weeks(_period("2020-12-28", "2021-01-03"))
    assert [w["week"] for w in across if w["required"]] == ["2020-W53"]


def test_scoring_airing_in_week_53_of_2026_counts_for_that_week() -> None:
    st = StationSigner("a-01")
    jws = st.airing("2027-01-02T07:00:00.000+07:00")  # a Saturday, in 2026-W53
    report = score([facts_of(jws)], registry_of(st), _period("2026-12-28", "2027-01-03"))
    commune = report["communes"][0]
    assert [w["week"] for w in report["weeks"]] == ["2026-W53"]
    assert commune["weeks_aired"] == 1 and commune["tier"] == "weekly"
    assert commune["criteria"] == {"1.5": 20}
    assert report["airings"][0]["local_date"] == "2027-01-02"


@pytest.mark.parametrize(
    "started_at",
    ["2024-03-04T06:00:00.000+07:00", "2024-03-03T23:00:00.000+00:00", "2024-03-03T23:00:00Z"],
)
def test_scoring_local_date_uses_district_timezone(started_at: str) -> None:
    """06:00 Monday in Vietnam is 23:00 Sunday in UTC: it counts for Monday's week."""
    st = StationSigner("a-01")
    facts = [facts_of(st.airing(started_at))]
    monday_week = score(facts, registry_of(st), _period("2024-03-04", "2024-03-10"))
    assert monday_week["communes"][0]["weeks_aired"] == 1
    assert monday_week["airings"][0]["local_date"] == "2024-03-04"
    assert monday_week["airings"][0]["local_time"] == "06:00"
    sunday_week = score(facts, registry_of(st), _period("2024-02-26", "2024-03-03"))
    assert sunday_week["communes"][0]["weeks_aired"] == 0
    assert sunday_week["airings"] == [] and sunday_week["excluded"] == []


def _weekly_airings(st: StationSigner, first: date, count: int, step_days: int = 7) -> list[bytes]:
    return [st.airing(f"{first + timedelta(days=step_days * i)}T07:00:00.000+07:00") for i in range(count)]


def test_scoring_tiers_and_points() -> None:
    weekly = StationSigner("weekly-01", commune="1")
    monthly = StationSigner("monthly-01", commune="2")
    silent = StationSigner("silent-01", commune="3")
    period = _period("2024-01-01", "2024-03-31")  # W01..W13 required, months 01..03
    jws = _weekly_airings(weekly, date(2024, 1, 1), 13)
    jws += [monthly.airing(f"2024-{m:02d}-15T07:00:00.000+07:00") for m in (1, 2, 3)]
    report = score([facts_of(j) for j in jws], registry_of(weekly, monthly, silent), period)
    by_code = {c["code"]: c for c in report["communes"]}
    assert (by_code["1"]["tier"], by_code["1"]["criteria"]) == ("weekly", {"1.5": 20})
    assert (by_code["2"]["tier"], by_code["2"]["criteria"]) == ("monthly", {"1.5": 0})
    assert (by_code["3"]["tier"], by_code["3"]["criteria"]) == ("none", {"1.5": 0})
    assert by_code["2"]["weeks_aired"] == 3 and by_code["2"]["months_aired"] == 3
    assert by_code["3"]["missing_months"] == ["2024-01", "2024-02", "2024-03"]
    assert report["district"]["tier"] == "weekly"
    assert report["district"]["criteria"] == {"1.6": 10, "1.7": 10}
    assert report["district"]["airings"] == 16


@pytest.mark.parametrize(
    ("month_days", "tier", "points_1_7"),
    [([15], "none", 0), ([10, 20], "monthly", 5)],
)
def test_scoring_district_monthly_and_none(month_days: list[int], tier: str, points_1_7: int) -> None:
    st = StationSigner("a-01")
    jws = [st.airing(f"2024-{m:02d}-{d:02d}T07:00:00.000+07:00") for m, d in zip((1, 2), month_days * 2,
                                                                                   strict=False)]
    report = score([facts_of(j) for j in jws[: len(month_days)]], registry_of(st),
                   _period("2024-01-01", "2024-02-29"))
    assert report["district"]["tier"] == tier
    assert report["district"]["criteria"] == {"1.6": 10, "1.7": points_1_7}


def test_scoring_no_airing_gives_zero_points_and_a_finding() -> None:
    st = StationSigner("a-01")
    report = score([], registry_of(st), _period("2024-01-01", "2024-12-10"))
    assert report["district"]["criteria"] == {"1.6": 0, "1.7": 0}
    assert report["district"]["tier"] == "none"
    assert any("No events in the period" in f for f in report["findings"])
    assert any("Station a-01" in f and "no events" in f for f in report["findings"])


def test_scoring_week_aired_by_any_station_of_the_commune() -> None:
    a, b = StationSigner("a-01", commune="7"), StationSigner("a-02", commune="7")
    jws = [a.airing("2024-01-02T07:00:00.000+07:00"), b.airing("2024-01-09T07:00:00.000+07:00")]
    report = score([facts_of(j) for j in jws], registry_of(a, b), _period("2024-01-01", "2024-01-14"))
    (commune,) = report["communes"]
    assert commune["stations"] == ["a-01", "a-02"]
    assert commune["weeks_grid"] == ["aired", "aired"] and commune["tier"] == "weekly"


def test_scoring_district_station_counts_for_district_not_commune() -> None:
    town = StationSigner("district-01", commune="9")
    comm = StationSigner("c-01", commune="9")
    jws = _weekly_airings(town, date(2024, 1, 1), 2)
    registry = registry_of(town, comm, levels={"district-01": "district"})
    report = score([facts_of(j) for j in jws], registry, _period("2024-01-01", "2024-01-14"))
    assert report["district"]["tier"] == "weekly" and report["district"]["airings"] == 2
    assert report["communes"][0]["stations"] == ["c-01"]
    assert report["communes"][0]["airings"] == 0 and report["communes"][0]["tier"] == "none"


def test_scoring_edge_weeks_marked_aired_but_not_required() -> None:
    st = StationSigner("a-01")
    jws = st.airing("2024-12-10T07:00:00.000+07:00")  # Tuesday of the partial 2024-W50
    report = score([facts_of(jws)], registry_of(st), _period("2024-01-01", "2024-12-10"))
    commune = report["communes"][0]
    assert commune["weeks_grid"][-1] == "aired"
    assert commune["weeks_aired"] == 0 and commune["airings"] == 1
    assert "2024-W50" not in commune["missing_weeks"]


@pytest.mark.parametrize(("start", "end"), [("2024-12-10", "2024-01-01"), ("2024-13-01", "2024-12-31"),
                                            ("yesterday", "2024-12-31")])
def test_period_bad_input_is_a_clear_error(start: str, end: str) -> None:
    with pytest.raises(ScoringError, match="period"):
        _period(start, end)


def test_report_registry_without_stations_is_a_clear_error() -> None:
    from district_collector.registry import Registry

    empty = Registry.build("kon-ray", "Huyện Kon Rẫy", "Asia/Ho_Chi_Minh", [], [])
    with pytest.raises(ScoringError, match="no stations"):
        build_report([], empty, _period("2024-01-01", "2024-12-10"))


def test_report_registry_without_communes_gives_empty_valid_report() -> None:
    town = StationSigner("district-01")
    registry = registry_of(town, levels={"district-01": "district"})
    report = build_report([facts_of(town.airing("2024-01-02T07:00:00.000+07:00"))], registry,
                          _period("2024-01-01", "2024-12-10"))
    assert report["communes"] == []
    assert report["district"]["airings"] == 1
    assert report["findings"][0].startswith("The registry has no commune-level stations")
