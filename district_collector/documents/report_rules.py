"""The criteria set and the region level a report document is printed with.

The evidence bundle gives the documents its view of the report
(:func:`~district_collector.evidence.bundle.document_view`), which carries the set the
report was scored with (``criteria_set``: wording, levels and maximum points of each
criterion) and the region's level (``region_level``: ``huyen``, ``tinh``...). A report
without them (an older caller, a test) is printed with the letter's set and the level its
region's name says, exactly as before criteria were data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from district_collector.region import REGION_LEVELS, RegionLevel, region_level
from district_collector.scoring.criteria import (
    CriteriaSet,
    Criterion,
    default_criteria,
    parse_criteria,
)
from radio_protocol.errors import ConfigError


def report_criteria(report: Mapping[str, Any]) -> CriteriaSet:
    """The report's ``criteria_set`` as a set (the letter's set when absent or unreadable)."""
    raw = report.get("criteria_set")
    if raw is None:
        return default_criteria()
    try:
        return parse_criteria(raw, "criteria_set")
    except ConfigError:
        return default_criteria()


def report_region(report: Mapping[str, Any]) -> RegionLevel:
    """The report's region level: ``region_level`` when it names one, else from the name."""
    code = report.get("region_level")
    name = str((report.get("district") or {}).get("name") or "")
    return region_level(name, code if isinstance(code, str) and code in REGION_LEVELS else None)


def report_unit(report: Mapping[str, Any], lang: str) -> str:
    """The region's level word in ``lang`` (``huyện``/``district``, ``tỉnh``/``province``)."""
    return report_region(report).unit(lang)


def scope_points(scope: Mapping[str, Any], criterion: Criterion) -> int:
    """The points a scope (the report's ``district`` or a commune) got for ``criterion``."""
    return int((scope.get("criteria") or {}).get(criterion.id) or 0)


def tier_points_text(scope: Mapping[str, Any], criteria: tuple[Criterion, ...]) -> str:
    """The tier criteria's points of a scope as the grid prints them: ``10 (1.7)``."""
    return ", ".join(f"{scope_points(scope, c)} ({c.id})" for c in criteria if c.rule == "tier")
