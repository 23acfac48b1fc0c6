"""Criteria files and district.level are checked like the configs: every problem at once,
each naming its file and key; the shipped set is the letter's."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from district_collector.config import parse_district_config
from district_collector.scoring.criteria import default_criteria, load_criteria, parse_criteria
from radio_protocol.errors import ConfigError

BASE: dict[str, Any] = {"district": {"id": "kon-tum", "name": "Kon Tum"}, "database": "db.sqlite",
                        "signing_key": "district.key"}


def test_criteria_default_set_is_the_letters() -> None:
    rules = default_criteria()
    assert (rules.program, rules.weekly_min, rules.monthly_min) == ("chuyen-doi-so", 1, 1)
    assert [(c.id, c.level, c.rule, c.max_points) for c in rules.criteria] == [
        ("1.6", "region", "has-airing", 10), ("1.7", "region", "tier", 10), ("1.5", "commune", "tier", 20)]
    assert rules.scores("region", "monthly", 3) == {"1.6": 10, "1.7": 5}
    assert rules.scores("region", "none", 0) == {"1.6": 0, "1.7": 0}
    assert rules.scores("commune", "monthly", 40) == {"1.5": 0}
    assert parse_criteria(rules.as_json(), "criteria.json") == rules.__class__(**{**rules.__dict__,
                                                                                  "source": "criteria.json"})


def test_criteria_file_problems_are_all_named_with_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "id: bad set\nname: {vi: x}\nprogram: chuyen-doi-so\ntiers: {weekly: 0, daily: 1}\n"
        "criteria:\n"
        "  - {id: 1.5, level: commune, rule: tier, points: {weekly: 20}, text: {vi: a, en: b}}\n"
        "  - {id: \"2\", level: huyen, rule: often, points: 5, text: {vi: a, en: b}}\n"
        "  - {id: \"3\", level: region, rule: tier, points: {weekly: -1}, min_airings: 2, text: {vi: a, en: b}}\n"
        "  - {id: \"3\", level: region, rule: has-airing, points: 5, text: {vi: a, en: b}}\n",
        encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_criteria(path)
    problems = err.value.problems
    expected = [
        "id: 'bad set' does not match",
        "name.en: missing (required)",
        "tiers.daily: unknown key",
        "tiers.weekly: must be >= 1",
        "criteria[0].id: write it in quotes (id: \"1.5\")",
        "criteria[1].level: must be one of region, commune, got 'huyen'",
        "criteria[1].rule: must be one of has-airing, tier, got 'often'",
        "criteria[2].points.weekly: must be >= 0",
        "criteria[2].min_airings: only for rule has-airing",
        "criteria[3].id: '3' is also criteria[2]",
    ]
    for text in expected:
        assert any(p.startswith(f"{path}: ") and text in p for p in problems), (text, problems)


def _config(tmp_path: Path, **top: Any) -> dict[str, Any]:
    return {**BASE, **top}


def test_config_criteria_list_and_level_are_checked_with_the_config(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("id: x\n", encoding="utf-8")
    data = _config(tmp_path, district={**BASE["district"], "level": "province"},
                   criteria=[{"from": "2025-13-01", "file": "missing.yaml"}, {"from": date(2025, 7, 1),
                                                                              "file": "broken.yaml"},
                             {"form": "2025-01-01"}])
    with pytest.raises(ConfigError) as err:
        parse_district_config(data, tmp_path / "district.yaml")
    text = str(err.value)
    assert "district.yaml: district.level: must be one of thanh-pho" in text and "got 'province'" in text
    assert "district.yaml: criteria[0].from: must be a date YYYY-MM-DD, got '2025-13-01'" in text
    assert f"{tmp_path / 'missing.yaml'}: file not found (criteria file of" in text
    assert f"{tmp_path / 'broken.yaml'}: name: missing section" in text
    assert "criteria[2].form: unknown key; did you mean 'from'?" in text


def test_config_criteria_for_picks_the_latest_start_on_or_before_the_period_end(tmp_path: Path) -> None:
    for name, points in (("a.yaml", 7), ("b.yaml", 9)):
        rules = {**default_criteria().as_json(), "id": name[0]}
        rules["criteria"] = [{**rules["criteria"][0], "points": points}]
        (tmp_path / name).write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    config = parse_district_config(_config(tmp_path, district={**BASE["district"], "level": "tinh"},
                                           criteria=[{"from": "2026-01-01", "file": "b.yaml"},
                                                     {"from": "2025-07-01", "file": "a.yaml"}]),
                                   tmp_path / "district.yaml")
    assert config.district.region.title == "Tỉnh" and config.district.region.english == "province"
    assert config.criteria_for(date(2025, 6, 30)).id == "letter-2024"
    assert config.criteria_for(date(2025, 7, 1)).id == "a"
    assert config.criteria_for(date(2025, 12, 10)).scores("region", "none", 1) == {"1.6": 7}
    assert config.criteria_for(date(2026, 12, 10)).id == "b"


def test_config_without_level_reads_it_from_the_name(tmp_path: Path) -> None:
    config = parse_district_config(_config(tmp_path, district={"id": "qn", "name": "Tỉnh Quảng Ngãi"}),
                                   tmp_path / "district.yaml")
    assert (config.district.level, config.district.region.code) == (None, "tinh")
    plain = parse_district_config(_config(tmp_path), tmp_path / "district.yaml")
    assert plain.district.region.code == "huyen" and plain.criteria == ()


def test_criteria_file_example_of_the_scoring_doc_is_valid() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "scoring.md").read_text(encoding="utf-8")
    section = text.split("## Criteria files", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    rules = parse_criteria(yaml.safe_load(example), "docs/scoring.md")
    assert (rules.id, rules.weekly_min, rules.monthly_min) == ("tinh-2025", 1, 2)
    assert rules.scores("region", "monthly", 5) == {"T2.1": 8}
    assert rules.scores("commune", "weekly", 11) == {"X3.5": 0}
