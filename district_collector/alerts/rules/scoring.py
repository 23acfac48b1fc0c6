"""Scoring: ``week-at-risk`` and ``month-at-risk``, from the SAME scoring code as the report.

At ``week_at_risk.weekday`` ``week_at_risk.at`` (district time) and until the ISO week
ends, a commune whose current week is required and not yet aired (the report's
``weeks_grid``, :func:`~district_collector.scoring.report.report_from_store` over the
week) has an open ``week-at-risk`` (occurrence: the ISO week, ``2026-W49``). Likewise
``month_at_risk.days_before_end`` days before the month's last day at
``month_at_risk.at`` for the month (occurrence ``2026-12``). The detail names the slots
of the counted programme still scheduled before the period ends (from the latest
published schedule of each of the commune's stations), or an empty list when none is.

An alert clears when the period gets aired (``aired``) or when the period is over
(``period-ended``). The report is computed at most every :data:`EVERY_S` seconds.
"""

from __future__ import annotations

import bisect
from datetime import date, datetime, time, timedelta
from typing import Any

from district_collector.alerts.model import Finding
from district_collector.alerts.rules.airings import station_slots
from district_collector.alerts.rules.context import RuleContext, RuleResult
from district_collector.registry import Registry
from district_collector.scoring.period import Period
from district_collector.scoring.report import (
    decode_payload,
    report_from_store,
)
from district_collector.store.base_alerts import utc_text
from radio_protocol.errors import CommuneRadioError

KINDS = ("week-at-risk", "month-at-risk")
EVERY_S = 300.0


def _month_bounds(day: date) -> tuple[date, date]:
    first = day.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return first, last


def _remaining(ctx: RuleContext, stations: list[str], end_at: datetime, program: str) -> list[dict[str, str]]:
    """Slots of ``program`` from now to ``end_at`` in the latest published schedule of each station."""
    out: list[dict[str, str]] = []
    published = ctx.published()
    for station in stations:
        if station not in published:
            continue
        times, slots = station_slots(ctx, station, published[station][0])
        for slot in slots[bisect.bisect_left(times, ctx.now.timestamp()):bisect.bisect_left(times, end_at.timestamp())]:
            if slot.segment.program == program:
                out.append({"station": station, "at": slot.at.astimezone(ctx.tz).isoformat(timespec="minutes"),
                            "segment": slot.segment.id, "title": slot.segment.title})
    return sorted(out, key=lambda s: (s["at"], s["station"]))[:20]


def _schedules(ctx: RuleContext, period: Period) -> list[dict[str, Any]]:
    """The published schedules valid in ``period``, decoded once per JWS (kept between passes)."""
    decoded: dict[bytes, dict[str, Any] | None] = ctx.cache.setdefault("schedule_payloads", {})
    out = []
    first, last = period.start.isoformat(), period.end.isoformat()
    for jws in ctx.store.published_schedules():
        if jws not in decoded:
            try:
                decoded[jws] = decode_payload(jws)
            except CommuneRadioError:
                decoded[jws] = None
        p = decoded[jws]
        if p is not None and str(p.get("valid_from")) <= last and str(p.get("valid_until")) >= first:
            out.append(p)
    return out


def _period_findings(ctx: RuleContext, kind: str, occurrence: str, period: Period, moment: datetime,
                     grid: str, out: RuleResult) -> None:
    registry = ctx.cache.get("registry")
    if not isinstance(registry, Registry):
        registry = ctx.cache["registry"] = Registry.from_config(ctx.config)
    criteria = ctx.config.criteria_for(period.end)
    schedules = _schedules(ctx, period)
    report = report_from_store(ctx.store, registry, period, schedules, with_airings=False, criteria=criteria)
    end_at = datetime.combine(period.end + timedelta(days=1), time(0), ctx.tz)
    for commune in report.get("communes", []):
        cells = commune.get(grid) or []
        if not cells or cells[-1] != "not-aired":
            continue
        code = str(commune["code"])
        out.findings.append(Finding(
            kind, code, occurrence, utc_text(moment), None, code,
            {"commune": code, "commune_name": commune.get("name"), "period": occurrence,
             "period_start": period.start.isoformat(), "period_end": period.end.isoformat(),
             "stations": list(commune.get("stations", [])), "program": criteria.program,
             "remaining": _remaining(ctx, list(commune.get("stations", [])), end_at, criteria.program)}))


def scoring(ctx: RuleContext) -> RuleResult:
    """At-risk findings; owns its kinds only on passes where it computed the report."""
    last = ctx.cache.get("scoring_at")
    if isinstance(last, datetime) and timedelta(0) <= ctx.now - last < timedelta(seconds=EVERY_S):
        return RuleResult()
    ctx.cache["scoring_at"] = ctx.now
    a, tz = ctx.alerts, ctx.tz
    local = ctx.now.astimezone(tz)
    today = local.date()
    out = RuleResult(owned=KINDS)
    monday = today - timedelta(days=today.weekday())
    week_moment = datetime.combine(monday + timedelta(days=a.week_at_risk_weekday), a.week_at_risk_at, tz)
    iso = monday.isocalendar()
    week = f"{iso[0]}-W{iso[1]:02d}"
    if local >= week_moment:
        period = Period(monday, monday + timedelta(days=6), ctx.config.district.timezone)
        _period_findings(ctx, "week-at-risk", week, period, week_moment, "weeks_grid", out)
    first, last_day = _month_bounds(today)
    month_moment = datetime.combine(last_day - timedelta(days=a.month_at_risk_days_before_end),
                                    a.month_at_risk_at, tz)
    if local >= month_moment:
        period = Period(first, last_day, ctx.config.district.timezone)
        _period_findings(ctx, "month-at-risk", first.strftime("%Y-%m"), period, month_moment, "months_grid", out)
    current = {("week-at-risk", week), ("month-at-risk", first.strftime("%Y-%m"))}
    for alert in ctx.open_alerts(KINDS):
        if (alert.kind, alert.occurrence) not in current:
            out.resolve[(alert.kind, alert.subject, alert.occurrence)] = "period-ended"
    return out


def describe(detail: dict[str, Any]) -> str:
    """The remaining slots as one line (for logs)."""
    return ", ".join(f"{s['station']} {s['at']}" for s in detail.get("remaining", [])) or "none"
