"""The period a page or API call covers: ``?from=YYYY-MM-DD&to=YYYY-MM-DD`` (both inclusive,
the district's timezone), or by default the current month, or the latest month with events
when the current one has none (a demo that simulated next month)."""

from __future__ import annotations

import calendar
from datetime import date

from district_collector.commands.report_period import events_in, latest_event_day
from district_collector.scoring.period import Period, ScoringError
from district_collector.web.context import Ctx, HttpError
from radio_protocol.timefmt import zone

MAX_DAYS = 400


def month_of(day: date) -> Period:
    return Period(day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1]), "")


def query_period(ctx: Ctx, required: bool = False) -> Period:
    """The period of ``?from``/``?to``; 400 naming the parameter when one is not a date, the
    period is empty or longer than :data:`MAX_DAYS`; 400 when ``required`` and one is missing."""
    tz = ctx.config.district.timezone
    text_from = ctx.request.query_params.get("from") or ""
    text_to = ctx.request.query_params.get("to") or ""
    if required and not (text_from and text_to):
        raise HttpError(400, "from and to are required (YYYY-MM-DD)")
    if text_from or text_to:
        if not (text_from and text_to):
            raise HttpError(400, "give both from and to (YYYY-MM-DD)")
        try:
            period = Period.parse(text_from, text_to, tz)
        except ScoringError as exc:
            raise HttpError(400, f"from/to: {exc}") from exc
        if (period.end - period.start).days + 1 > MAX_DAYS:
            raise HttpError(400, f"from/to: at most {MAX_DAYS} days at once")
        return period
    today = ctx.now.astimezone(zone(tz)).date()
    month = month_of(today)
    current = Period(month.start, month.end, tz)
    latest = latest_event_day(ctx.store, tz)
    if latest is not None and not events_in(ctx.store, current):
        month = month_of(latest)
        current = Period(month.start, month.end, tz)
    return current


def query_communes(ctx: Ctx) -> frozenset[str] | None:
    """``?communes=A,B`` (or repeated ``communes=``) narrowed to what the user may see; None: all."""
    values = [v for item in ctx.request.query_params.getlist("communes") for v in item.split(",") if v.strip()]
    asked = frozenset(v.strip() for v in values) if values else None
    return ctx.allowed_communes(asked)
