"""Tần suất: communes x ISO weeks (and months), scored by the report's own code.

``report_json(store, config, start, end, with_airings=False) -> dict`` is exactly what
``radio-district report --format json`` prints for ``--from start --to end`` (the command
calls it: one implementation). ``compliance(store, config, start, end, communes=None,
now=None) -> ComplianceGrid`` reads that same report (tiers, points, weeks and months
aired) and adds what the page needs; ``cell_airings(store, config, commune, start, end)
-> list[AiringRow]`` lists the airings (counted and excluded) behind one cell.

Dataclasses (each with ``as_json()``):

- ``ComplianceGrid(start: date, end: date, timezone: str, weeks: tuple[WeekColumn, ...],
  months: tuple[MonthColumn, ...], district: ScopeScore, rows: tuple[ComplianceRow, ...],
  airings_per_week: tuple[int, ...], findings: tuple[str, ...])``: ``district`` is None-free
  (the whole region's scope, criteria 1.6/1.7 with the letter's set); ``airings_per_week``
  counts the counted airings of the shown communes per week column (the chart).
- ``WeekColumn(week: str, start: date, end: date, required: bool, running: bool)``
  (``week`` like ``2026-W49``; ``running``: ``now`` lies in it)
- ``MonthColumn(month: str, required: bool, running: bool)`` (``month`` like ``2026-12``)
- ``ScopeScore(code: str, name: str, tier: str, criteria: dict[str, float], weeks_aired: int,
  required_weeks: int, months_aired: int, required_months: int, airings: int, excluded: int)``
- ``ComplianceRow(score: ScopeScore, stations: tuple[str, ...], weeks: tuple[Cell, ...],
  months: tuple[Cell, ...])``: one commune (criterion 1.5 in ``score.criteria``)
- ``Cell(state: CellState, airings: int, excluded: int, reasons: tuple[str, ...])``
- ``CellState = Literal["aired", "not-aired", "at-risk", "excluded", "not-required"]``:
  ``aired`` as the report counts it; ``at-risk`` the week/month is running and nothing
  counted has aired yet; ``excluded`` nothing counted but events were left out (``reasons``:
  the report's exclusion reasons, e.g. ``outcome``, ``clock-unsynced``); ``not-aired`` a
  required column without airing; ``not-required`` a partial week/month at the period's edge.
- ``AiringRow(station: str, commune: str, seq: int, started_at: str, local_date: str | None,
  local_time: str | None, counted: bool, reason: str | None, segment_id: str | None,
  title: str | None, played_s: float | None, slot: str | None)``
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from district_collector.config import DistrictConfig
from district_collector.store.base import Store
from district_collector.views.common import JsonData

CellState = Literal["aired", "not-aired", "at-risk", "excluded", "not-required"]


@dataclass(frozen=True)
class WeekColumn(JsonData):
    week: str
    start: date
    end: date
    required: bool
    running: bool


@dataclass(frozen=True)
class MonthColumn(JsonData):
    month: str
    required: bool
    running: bool


@dataclass(frozen=True)
class ScopeScore(JsonData):
    code: str
    name: str
    tier: str
    criteria: dict[str, float]
    weeks_aired: int
    required_weeks: int
    months_aired: int
    required_months: int
    airings: int
    excluded: int


@dataclass(frozen=True)
class Cell(JsonData):
    state: CellState
    airings: int
    excluded: int
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class ComplianceRow(JsonData):
    score: ScopeScore
    stations: tuple[str, ...]
    weeks: tuple[Cell, ...]
    months: tuple[Cell, ...]


@dataclass(frozen=True)
class ComplianceGrid(JsonData):
    start: date
    end: date
    timezone: str
    weeks: tuple[WeekColumn, ...]
    months: tuple[MonthColumn, ...]
    district: ScopeScore
    rows: tuple[ComplianceRow, ...]
    airings_per_week: tuple[int, ...]
    findings: tuple[str, ...]


@dataclass(frozen=True)
class AiringRow(JsonData):
    station: str
    commune: str
    seq: int
    started_at: str
    local_date: str | None
    local_time: str | None
    counted: bool
    reason: str | None
    segment_id: str | None
    title: str | None
    played_s: float | None
    slot: str | None


def report_json(store: Store, config: DistrictConfig, start: date, end: date,
                with_airings: bool = False) -> dict[str, Any]:
    """The report of ``start`` .. ``end`` (inclusive, district timezone): the JSON object
    ``radio-district report --format json [--airings]`` prints. ScoringError when no
    station is registered."""
    raise NotImplementedError


def compliance(store: Store, config: DistrictConfig, start: date, end: date,
               communes: Collection[str] | None = None, now: datetime | None = None) -> ComplianceGrid:
    """The grid of ``communes`` (None: all) for the period; ``now`` (default: the system
    clock) decides which week and month are running."""
    raise NotImplementedError


def cell_airings(store: Store, config: DistrictConfig, commune: str, start: date,
                 end: date) -> list[AiringRow]:
    """The commune's airings started in ``start`` .. ``end``: counted ones and the
    excluded ones with their reason, by start time."""
    raise NotImplementedError
