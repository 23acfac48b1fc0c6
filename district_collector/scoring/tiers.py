"""Tiers and points of a scope (a commune, or the whole district), from the weeks and months
it aired (docs/scoring.md).

:class:`ScopeTally` is what :func:`~district_collector.scoring.compute.score` accumulates per
scope while it walks the events; :func:`scope_json` turns one into the report's per-scope
members (tier, required/aired/missing weeks and months, grids); :func:`district_json` and
:func:`commune_json` add the criteria points:

- 1.5 (a commune): :data:`POINTS_1_5` when its tier is ``weekly``, else 0;
- 1.6 (the district): :data:`POINTS_1_6` when at least one airing counted anywhere;
- 1.7 (the district): :data:`POINTS_1_7` of the district's tier.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from district_collector.registry import Commune, Registry

POINTS_1_5 = 20
POINTS_1_6 = 10
POINTS_1_7 = {"weekly": 10, "monthly": 5, "none": 0}


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
    schedule counts of one scope."""

    def __init__(self) -> None:
        self.weeks: set[int] = set()
        self.months: set[int] = set()
        self.airings = 0
        self.excluded = 0
        self.conflicts = 0
        self.scheduled = 0
        self.scheduled_aired = 0


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
                  months: Sequence[dict[str, Any]], n_excluded: int) -> dict[str, Any]:
    """The report's ``district`` member: its scope, key thumbprint and criteria 1.6 and 1.7.
    ``n_excluded``: every event of the period left out, whatever its station."""
    d = scope_json(district, weeks, months)
    return {
        "id": registry.district_id, "name": registry.district_name,
        "key_thumbprint": registry.district_kids[0] if registry.district_keys else None,
        "tier": d["tier"],
        "required_weeks": d["required_weeks"], "weeks_aired": d["weeks_aired"],
        "required_months": d["required_months"], "months_aired": d["months_aired"],
        "airings": d["airings"],
        "criteria": {"1.6": POINTS_1_6 if district.airings > 0 else 0, "1.7": POINTS_1_7[d["tier"]]},
        "missing_weeks": d["missing_weeks"], "missing_months": d["missing_months"],
        "excluded": n_excluded, "schedule": d["schedule"],
        "weeks_grid": d["weeks_grid"], "months_grid": d["months_grid"],
    }


def commune_json(commune: Commune, tally: ScopeTally, weeks: Sequence[dict[str, Any]],
                 months: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One entry of the report's ``communes``: its scope and criterion 1.5."""
    s = scope_json(tally, weeks, months)
    return {"code": commune.code, "name": commune.name, "stations": list(commune.stations), **s,
            "criteria": {"1.5": POINTS_1_5 if s["tier"] == "weekly" else 0}}
