"""docs/scoring.md's worked example, run through the real scoring code.

The airings are read from the doc's own table (each row signed as the station would sign
it), scored by :func:`~district_collector.scoring.compute.score`, and every number of the
doc's weeks, months and result tables is compared with the report: the doc cannot drift
from the program.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from test_scoring_support import StationSigner, facts_of, registry_of

from district_collector.scoring.compute import Period, score
from district_collector.scoring.facts import EventFacts

DOC = Path(__file__).resolve().parents[2] / "docs" / "scoring.md"
NONE = "–"  # the doc's "no value"
STATION = "dak-koi-01"
COMMUNE = "23335"


def doc_table(name: str) -> list[dict[str, str]]:
    """The rows (header -> cell) of the table after ``<!-- example:NAME -->`` in the doc."""
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"<!-- example:{name} -->\n((?:\|.*\|\n)+)", text)
    assert match, f"docs/scoring.md has no table marked example:{name}"
    lines = [[cell.strip() for cell in line.strip().strip("|").split("|")]
             for line in match.group(1).splitlines()]
    header, rule, *rows = lines
    assert all(set(cell) <= set("-:") for cell in rule)
    return [dict(zip(header, row, strict=True)) for row in rows]


def doc_period() -> Period:
    match = re.search(r"The period is\s+\*\*(\d{4}-\d\d-\d\d)\s+to\s+(\d{4}-\d\d-\d\d)\*\*\s+in\s+`([\w/]+)`",
                      DOC.read_text(encoding="utf-8"))
    assert match, "docs/scoring.md: the example's period sentence changed"
    return Period.parse(*match.groups())


def seqs(cell: str) -> list[int]:
    return [] if cell == NONE else [int(s) for s in cell.split(",")]


def example_facts() -> tuple[StationSigner, list[EventFacts]]:
    """The doc's airings, each row one payload signed in seq order, each copy received once
    per the *received* column."""
    station = StationSigner(STATION, commune=COMMUNE)
    facts: list[EventFacts] = []
    prev_of: dict[int, str | None] = {}
    for i, row in enumerate(doc_table("airings")):
        seq = int(row["seq"])
        prev = prev_of.setdefault(seq, station.prev)  # a second payload of a seq chains as the first
        jws = station.airing(row["started_at (as signed)"], seq=seq, prev=prev,
                             program=row["programme"], outcome=row["outcome"],
                             clock_synced={"yes": True, "no": False}[row["clock synced"]],
                             title=f"Chuyển đổi số, row {i + 1}")
        facts += [facts_of(jws)] * int(row["received"])
    return station, facts


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    station, facts = example_facts()
    return score(facts, registry_of(station, names={COMMUNE: "Xã Đăk Kôi"}), doc_period())


def test_scoring_doc_airings_table_results(report: dict[str, Any]) -> None:
    counted = {a["seq"]: a for a in report["airings"]}
    excluded = [(e["seq"], e["reason"]) for e in report["excluded"]]
    expected_counted: list[int] = []
    expected_excluded: list[tuple[int, str]] = []
    for row in doc_table("airings"):
        seq, result = int(row["seq"]), row["result"]
        if result == "counted":
            expected_counted.append(seq)
            local_date, local_time = row["local date and time"].split()[:2]
            assert (counted[seq]["local_date"], counted[seq]["local_time"]) == (local_date, local_time)
        elif result.startswith("excluded: "):
            expected_excluded.append((seq, result.removeprefix("excluded: ")))
        else:
            assert result == "not in the period", result
            assert seq not in counted and seq not in dict(excluded)
    assert sorted(counted) == expected_counted and len(report["airings"]) == len(expected_counted)
    assert sorted(excluded) == sorted(expected_excluded)


def test_scoring_doc_weeks_table(report: dict[str, Any]) -> None:
    rows = doc_table("weeks")
    commune = report["communes"][0]
    assert [(w["week"], w["start"], w["end"], w["required"]) for w in report["weeks"]] == [
        (r["ISO week"], r["Monday"], r["Sunday"], r["required"] == "yes") for r in rows]
    assert commune["weeks_grid"] == [r["grid"] for r in rows]
    assert report["district"]["weeks_grid"] == [r["grid"] for r in rows]
    by_week: dict[str, list[int]] = {}
    for airing in report["airings"]:
        iso = date.fromisoformat(airing["local_date"]).isocalendar()
        by_week.setdefault(f"{iso.year}-W{iso.week:02d}", []).append(airing["seq"])
    assert {r["ISO week"]: seqs(r["counted airings (seq)"]) for r in rows} == \
        {w["week"]: sorted(by_week.get(w["week"], [])) for w in report["weeks"]}


def test_scoring_doc_months_table(report: dict[str, Any]) -> None:
    rows = doc_table("months")
    assert [(m["month"], m["required"]) for m in report["months"]] == \
        [(r["month"], r["required"] == "yes") for r in rows]
    assert report["communes"][0]["months_grid"] == [r["grid"] for r in rows]
    by_month: dict[str, list[int]] = {}
    for airing in report["airings"]:
        by_month.setdefault(airing["local_date"][:7], []).append(airing["seq"])
    assert {r["month"]: seqs(r["counted airings (seq)"]) for r in rows} == \
        {m["month"]: sorted(by_month.get(m["month"], [])) for m in report["months"]}


def _expected(cell: str) -> object:
    if cell == NONE:
        return []
    if re.fullmatch(r"\d+", cell):
        return int(cell)
    if re.fullmatch(r"\d{4}-(W\d\d|\d\d)(, \d{4}-(W\d\d|\d\d))*", cell):
        return cell.split(", ")
    return cell


@pytest.mark.parametrize("column", ["commune 23335", "district"])
def test_scoring_doc_result_table(report: dict[str, Any], column: str) -> None:
    scope = report["communes"][0] if column.startswith("commune") else report["district"]
    assert column.startswith("district") or scope["code"] == column.split()[1]
    checked = 0
    for row in doc_table("result"):
        member, cell = row["member"], row[column]
        if member.startswith("criterion "):
            key = member.removeprefix("criterion ")
            assert scope["criteria"].get(key) == (None if cell == NONE else int(cell)), member
        elif cell == NONE and member not in scope:
            pass  # the doc says the report has no such member here
        else:
            assert scope[member] == _expected(cell), member
        checked += 1
    assert checked == 13


def test_scoring_doc_missing_weeks_aired_would_make_it_weekly() -> None:
    """The doc's closing sentence: one counted airing in each missing week gives weekly,
    20 points for 1.5 and 10 for 1.7."""
    station, facts = example_facts()
    period = doc_period()
    missing = [w for w in doc_table("weeks") if w["grid"] == "not-aired"]
    last_seq = max(int(r["seq"]) for r in doc_table("airings"))
    for n, week in enumerate(missing, start=1):
        wednesday = date.fromisoformat(week["Monday"]) + timedelta(days=2)
        facts.append(facts_of(station.airing(f"{wednesday}T07:00:00.000+07:00", seq=last_seq + n)))
    report = score(facts, registry_of(station), period)
    assert report["communes"][0]["tier"] == "weekly" and report["communes"][0]["criteria"] == {"1.5": 20}
    assert report["district"]["criteria"] == {"1.6": 10, "1.7": 10}
