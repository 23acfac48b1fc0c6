"""Tần suất: communes x ISO weeks (and months), scored by the report's own code.

``report_json(store, config, start, end, with_airings=False, stations=None) -> dict`` is
exactly what ``radio-district report --format json`` prints for ``--from start --to end
[--stations ...]`` (the command calls it: one implementation). ``compliance(store, config, start, end, communes=None,
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

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from district_collector.config import DistrictConfig
from district_collector.scoring.period import Period, instant
from district_collector.scoring.report import (
    decode_payload,
    report_from_store,
    schedules_from_store,
)
from district_collector.store.base import Store
from district_collector.views.common import JsonData
from district_collector.views.scope import scope_ids, scoped_registry
from radio_protocol.clock import SystemClock
from radio_protocol.errors import KeyFileError
from radio_protocol.jose import load_private_key, public_jwk

_NONE: Counter[str] = Counter()  # shared, never written
_NONE_I: Counter[int] = Counter()
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

    def as_json(self) -> dict[str, Any]:
        """As :meth:`JsonData.as_json`, written out: a province's grid has tens of thousands."""
        return {"state": self.state, "airings": self.airings, "excluded": self.excluded,
                "reasons": list(self.reasons)}


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


def period_report(store: Store, config: DistrictConfig, period: Period, district_keys: list[dict[str, str]],
                  with_airings: bool = False, stations: Collection[str] | None = None) -> dict[str, Any]:
    """The report of ``period`` from ``store``: the one implementation behind
    ``radio-district report [--stations]`` and ``GET /api/v1/report`` (:func:`report_json`).
    ``stations``: station ids / group names; the report of those stations alone
    (:mod:`district_collector.views.scope`; UnknownStationError for an unknown name)."""
    registry = scoped_registry(config, district_keys, stations=stations)
    only = scope_ids(registry, None, stations)
    schedules = [payload for payload in map(decode_payload, schedules_from_store(store, period))
                 if only is None or payload.get("station") in only]
    return report_from_store(store, registry, period, schedules, with_airings, config.criteria_for(period.end),
                             only)


def district_keys(config: DistrictConfig) -> list[dict[str, str]]:
    """The district's public key (from its signing key) for the report's ``key_thumbprint``;
    [] when the key cannot be read (the report then names none), as ``report`` does."""
    try:
        return [public_jwk(load_private_key(config.signing_key).public_key())]
    except KeyFileError:
        return []


def report_json(store: Store, config: DistrictConfig, start: date, end: date,
                with_airings: bool = False, stations: Collection[str] | None = None) -> dict[str, Any]:
    """The report of ``start`` .. ``end`` (inclusive, district timezone): the JSON object
    ``radio-district report --format json [--airings] [--stations]`` prints. ScoringError
    when no station is registered or the period is empty; ``stations`` as in :func:`period_report`."""
    return period_report(store, config, _period(config, start, end), district_keys(config), with_airings,
                         stations)


def _period(config: DistrictConfig, start: date, end: date) -> Period:
    return Period.parse(start.isoformat(), end.isoformat(), config.district.timezone)


def _score(entry: Mapping[str, Any], code: str, name: str) -> ScopeScore:
    return ScopeScore(code, name, str(entry["tier"]), dict(entry["criteria"]), int(entry["weeks_aired"]),
                      int(entry["required_weeks"]), int(entry["months_aired"]), int(entry["required_months"]),
                      int(entry["airings"]), int(entry["excluded"]))


def _cell(grid: str, required: bool, running: bool, airings: int, excluded: Counter[str]) -> Cell:
    reasons = tuple(sorted(excluded))
    n_excluded = sum(excluded.values())
    state: CellState
    if grid == "aired":
        state = "aired"
    elif running and required:
        state = "at-risk"
    elif n_excluded:
        state = "excluded"
    else:
        state = "not-aired" if required else "not-required"
    return Cell(state, airings, n_excluded, reasons)


def compliance(store: Store, config: DistrictConfig, start: date, end: date,
               communes: Collection[str] | None = None, now: datetime | None = None) -> ComplianceGrid:
    """The grid of ``communes`` (None: all) for the period; ``now`` (default: the system
    clock) decides which week and month are running."""
    period = _period(config, start, end)
    report = period_report(store, config, period, district_keys(config), with_airings=True)
    today = (now or SystemClock().now()).astimezone(period.tz).date()
    weeks = tuple(WeekColumn(w["week"], date.fromisoformat(w["start"]), date.fromisoformat(w["end"]),
                             bool(w["required"]),
                             date.fromisoformat(w["start"]) <= today <= date.fromisoformat(w["end"]))
                  for w in report["weeks"])
    months = tuple(MonthColumn(m["month"], bool(m["required"]), m["month"] == f"{today:%Y-%m}")
                   for m in report["months"])
    week_of = {w.start + timedelta(days=i): n for n, w in enumerate(weeks) for i in range(7)}
    month_of = {m.month: n for n, m in enumerate(months)}
    wanted = None if communes is None else frozenset(communes)
    # Counted per (commune, column) by the ISO day text each airing carries: no date is
    # parsed per airing (a month of 1,000 communes is 31,000 of them).
    week_of_text = {day.isoformat(): n for day, n in week_of.items()}
    airings = report["airings"]
    by_week = Counter((a["commune"], week_of_text[a["local_date"]]) for a in airings)
    by_month = Counter((a["commune"], month_of[a["local_date"][:7]]) for a in airings)
    aired_w: dict[str, Counter[int]] = {}
    aired_m: dict[str, Counter[int]] = {}
    for (code, i), n in by_week.items():
        aired_w.setdefault(code, Counter())[i] = n
    for (code, i), n in by_month.items():
        aired_m.setdefault(code, Counter())[i] = n
    excl_w: dict[tuple[str, int], Counter[str]] = {}
    excl_m: dict[tuple[str, int], Counter[str]] = {}
    for ex in report["excluded"]:
        ex_day = _local_day(ex["started_at"], period)
        if ex_day is None or ex_day not in week_of:
            continue
        excl_w.setdefault((str(ex["commune"]), week_of[ex_day]), Counter())[ex["reason"]] += 1
        excl_m.setdefault((str(ex["commune"]), month_of[f"{ex_day:%Y-%m}"]), Counter())[ex["reason"]] += 1
    rows = []
    per_week = [0] * len(weeks)
    for c in report["communes"]:
        code = c["code"]
        if wanted is not None and code not in wanted:
            continue
        counts_w, counts_m = aired_w.get(code, _NONE_I), aired_m.get(code, _NONE_I)
        for i, n in counts_w.items():
            per_week[i] += n
        rows.append(ComplianceRow(
            _score(c, code, c["name"]), tuple(c["stations"]),
            tuple(_cell(c["weeks_grid"][i], w.required, w.running, counts_w[i], excl_w.get((code, i), _NONE))
                  for i, w in enumerate(weeks)),
            tuple(_cell(c["months_grid"][i], m.required, m.running, counts_m[i], excl_m.get((code, i), _NONE))
                  for i, m in enumerate(months))))
    d = report["district"]
    return ComplianceGrid(period.start, period.end, period.timezone, weeks, months, _score(d, d["id"], d["name"]),
                          tuple(rows), tuple(per_week), tuple(report["findings"]))


def _local_day(text: str | None, period: Period) -> date | None:
    at = instant(text)
    return None if at is None else at.astimezone(period.tz).date()


def cell_airings(store: Store, config: DistrictConfig, commune: str, start: date,
                 end: date) -> list[AiringRow]:
    """The commune's airings started in ``start`` .. ``end``: counted ones and the
    excluded ones with their reason, by start time."""
    period = _period(config, start, end)
    report = period_report(store, config, period, district_keys(config), with_airings=True)
    rows = [AiringRow(a["station"], a["commune"], int(a["seq"]), a["started_at"], a["local_date"],
                      a["local_time"], True, None, a["segment_id"], a["title"], a["played_s"], a["slot"])
            for a in report["airings"] if a["commune"] == commune]
    for ex in report["excluded"]:
        if ex["commune"] != commune:
            continue
        at = instant(ex["started_at"])
        local = None if at is None else at.astimezone(period.tz)
        rows.append(AiringRow(ex["station"], ex["commune"], int(ex["seq"]), ex["started_at"],
                              None if local is None else local.date().isoformat(),
                              None if local is None else f"{local:%H:%M}", False, ex["reason"],
                              None, None, None, None))
    rows.sort(key=lambda r: (instant(r.started_at) or period.start_at, r.station, r.seq))
    return rows
