"""Tiers and points of a scope (a commune, or the whole region), from the weeks and months
it aired (docs/scoring.md).

:class:`ScopeTally` is what :func:`~district_collector.scoring.compute.score` accumulates per
scope while it walks the events; :func:`scope_json` turns one into the report's per-scope
members (tier, required/aired/missing weeks and months, grids); :func:`district_json` and
:func:`commune_json` add the points of the criteria set's ``region`` resp. ``commune``
criteria (:class:`~district_collector.scoring.criteria.CriteriaSet`; the letter's set gives
1.6 and 1.7 to the district, 1.5 to each commune).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from district_collector.registry import Commune, Registry
from district_collector.scoring.criteria import CriteriaSet


def tier(required: list[bool], aired: set[int], required_m: list[bool], aired_m: set[int]) -> str:
    """``weekly`` when there is a required week and every required week (by index) was aired,
    else ``monthly`` when the same holds for the required months, else ``none``."""
    if any(required) and all(i in aired for i, r in enumerate(required) if r):
        return "weekly"
    if any(required_m) and all(i in aired_m for i, r in enumerate(required_m) if r):
        return "monthly"
    return "none"


class ScopeTally:
    """Weeks and months aired (indexes into the period's lists), airings, exclusions and
    schedule counts of one scope. ``week_airings``/``month_airings``: counted airings per
    week/month index, kept only when the criteria set's tier needs more than one
    (:meth:`keep_thresholds` then narrows ``weeks``/``months`` to those that reach it)."""

    def __init__(self) -> None:
        self.weeks: set[int] = set()
        self.months: set[int] = set()
        self.week_airings: dict[int, int] = {}
        self.month_airings: dict[int, int] = {}
        self.airings = 0
        self.excluded = 0
        self.conflicts = 0
        self.scheduled = 0
        self.scheduled_aired = 0

    def count(self, week: int, month: int) -> None:
        """One more counted airing in week index ``week`` and month index ``month``."""
        self.week_airings[week] = self.week_airings.get(week, 0) + 1
        self.month_airings[month] = self.month_airings.get(month, 0) + 1

    def keep_thresholds(self, criteria: CriteriaSet) -> None:
        """A week (month) is aired for the tier only with at least the set's ``tiers.weekly``
        (``tiers.monthly``) counted airings; without counts (threshold 1) nothing changes."""
        if criteria.counts_airings:
            self.weeks = {i for i in self.weeks if self.week_airings.get(i, 0) >= criteria.weekly_min}
            self.months = {i for i in self.months if self.month_airings.get(i, 0) >= criteria.monthly_min}


def scope_json(t: ScopeTally, weeks: Sequence[dict[str, Any]], months: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The report members of one scope: its tier, required/aired/missing weeks and months,
    counts and grids. ``weeks``/``months``: the period's (see ``period_weeks``/``period_months``)."""
    req_w = [bool(w["required"]) for w in weeks]
    req_m = [bool(m["required"]) for m in months]
    return {
        "tier": tier(req_w, t.weeks, req_m, t.months),
        "required_weeks": sum(req_w),
        "weeks_aired": sum(1 for i in t.weeks if req_w[i]),
        "missing_weeks": sorted(weeks[i]["week"] for i, r in enumerate(req_w) if r and i not in t.weeks),
        "required_months": sum(req_m),
        "months_aired": sum(1 for i in t.months if req_m[i]),
        "missing_months": sorted(months[i]["month"] for i, r in enumerate(req_m) if r and i not in t.months),
        "airings": t.airings,
        "excluded": t.excluded,
        "conflicts": t.conflicts,
        "schedule": {"scheduled": t.scheduled, "aired": t.scheduled_aired},
        "weeks_grid": ["aired" if i in t.weeks else ("not-aired" if r else "not-required")
                       for i, r in enumerate(req_w)],
        "months_grid": ["aired" if i in t.months else ("not-aired" if r else "not-required")
                        for i, r in enumerate(req_m)],
    }


def district_json(district: ScopeTally, registry: Registry, weeks: Sequence[dict[str, Any]],
                  months: Sequence[dict[str, Any]], n_excluded: int, criteria: CriteriaSet) -> dict[str, Any]:
    """The report's ``district`` member (the whole region): its scope, key thumbprint and the
    points of the set's ``region`` criteria. ``n_excluded``: every event of the period left
    out, whatever its station."""
    d = scope_json(district, weeks, months)
    return {
        "id": registry.district_id, "name": registry.district_name,
        "key_thumbprint": registry.district_kids[0] if registry.district_keys else None,
        "tier": d["tier"],
        "required_weeks": d["required_weeks"], "weeks_aired": d["weeks_aired"],
        "required_months": d["required_months"], "months_aired": d["months_aired"],
        "airings": d["airings"],
        "criteria": criteria.scores("region", d["tier"], district.airings),
        "missing_weeks": d["missing_weeks"], "missing_months": d["missing_months"],
        "excluded": n_excluded, "schedule": d["schedule"],
        "weeks_grid": d["weeks_grid"], "months_grid": d["months_grid"],
    }


def commune_json(commune: Commune, tally: ScopeTally, weeks: Sequence[dict[str, Any]],
                 months: Sequence[dict[str, Any]], criteria: CriteriaSet) -> dict[str, Any]:
    """One entry of the report's ``communes``: its scope and the points of the set's
    ``commune`` criteria."""
    s = scope_json(tally, weeks, months)
    return {"code": commune.code, "name": commune.name, "stations": list(commune.stations), **s,
            "criteria": criteria.scores("commune", s["tier"], tally.airings)}
