"""The console's read-only pages: Tổng quan (fleet), Tần suất (compliance), Trạm (stations
and one station), Báo cáo (downloads). Each renders the same view data as the API route
its JavaScript polls (``/api/v1/stations`` for the fleet), so the first paint needs no
script and the live updates show the same numbers."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date, timedelta
from urllib.parse import urlencode

from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from district_collector.views import compliance, fleet
from district_collector.web.api import station_detail
from district_collector.web.api_alerts import visible_open
from district_collector.web.context import Ctx, HttpError, endpoint
from district_collector.web.period import month_of, query_communes, query_period
from district_collector.web.svg import (
    CHART_BASE,
    CHART_H,
    CHART_W,
    HEIGHT,
    WIDTH,
    station_map,
    week_bars,
)
from district_collector.web.templating import render

STATES = ("ok", "warning", "offline", "never-seen")
FIRST_ROWS = 200  # rows rendered on the server; the page's script adds the rest from the API at once
PAGE_COMMUNES = 100  # communes per page of the compliance grid (a province has 1,000 and more)


def home(ctx: Ctx) -> Response:
    return RedirectResponse("/fleet", status_code=303)


def fleet_page(ctx: Ctx) -> Response:
    """The rows as the view's objects (no JSON round trip): the first :data:`FIRST_ROWS`
    rendered, the counts and the map over all of them."""
    commune = ctx.request.query_params.get("commune", "")
    state = ctx.request.query_params.get("state", "")
    rows = fleet.fleet(ctx.store, ctx.config, ctx.now, ctx.allowed_communes({commune} if commune else None))
    if state:
        rows = [r for r in rows if r.state == state]
    counts = Counter(r.state for r in rows)
    return render(ctx, "fleet.html", active="fleet", rows=rows[:FIRST_ROWS], total=len(rows), states=STATES,
                  counts=counts, communes=ctx.registry_communes(), commune=commune, state=state,
                  points=station_map(rows), map_w=WIDTH, map_h=HEIGHT,
                  alert_count=len(visible_open(ctx)) if ctx.request.app.state.has_alerts else None)


def stations_page(ctx: Ctx) -> Response:
    rows = fleet.fleet(ctx.store, ctx.config, ctx.now, ctx.communes)
    return render(ctx, "stations.html", active="stations", rows=rows)


def station_page(ctx: Ctx) -> Response:
    detail = station_detail(ctx)
    period = query_period(ctx)
    return render(ctx, "station.html", active="stations", d=detail.as_json(), period=period)


def compliance_page(ctx: Ctx) -> Response:
    """The grid of every shown commune is scored (the district's tier needs all of them),
    the rows of one page of :data:`PAGE_COMMUNES` communes rendered (``?page=N``); the
    chart and the district line cover all."""
    period = query_period(ctx)
    communes = query_communes(ctx)
    page = _page_number(ctx)
    grid = compliance.compliance(ctx.store, ctx.config, period.start, period.end, communes, ctx.now)
    pages = max(1, -(-len(grid.rows) // PAGE_COMMUNES))
    if page > pages:
        raise HttpError(404, f"page {page}: there are {pages}")
    total = len(grid.rows)
    grid = replace(grid, rows=grid.rows[(page - 1) * PAGE_COMMUNES:page * PAGE_COMMUNES])
    data = grid.as_json()
    labels = [w["week"] for w in data["weeks"]]
    bars, top = week_bars(labels, [int(v) for v in data["airings_per_week"]])
    month_days = [_month_days(str(m["month"]), period.start, period.end) for m in data["months"]]
    keep = [("from", period.start.isoformat()), ("to", period.end.isoformat())]
    keep += [("communes", value) for value in ctx.request.query_params.getlist("communes")]
    return render(ctx, "compliance.html", active="compliance", grid=data, period=period, bars=bars,
                  month_days=month_days,
                  top=top, chart_w=CHART_W, chart_h=CHART_H, chart_base=CHART_BASE,
                  communes=ctx.registry_communes(), page=page, pages=pages, total=total,
                  first=(page - 1) * PAGE_COMMUNES + 1, page_query=urlencode(keep))


def _page_number(ctx: Ctx) -> int:
    text = ctx.request.query_params.get("page") or "1"
    if not text.isdigit() or not 1 <= int(text) <= 100_000:
        raise HttpError(400, "page: a whole number from 1")
    return int(text)


def _month_days(month: str, first: date, last: date) -> tuple[date, date]:
    """The days of ``month`` (``YYYY-MM``) inside the period: a month cell's airings."""
    days = month_of(date.fromisoformat(f"{month}-01"))
    return max(days.start, first), min(days.end, last)


def reports_page(ctx: Ctx) -> Response:
    period = query_period(ctx)
    return render(ctx, "reports.html", active="reports", period=period, communes=ctx.registry_communes(),
                  last_day=period.end - timedelta(days=0))


def routes() -> list[BaseRoute]:
    return [
        Route("/", endpoint(home), methods=["GET"]),
        Route("/fleet", endpoint(fleet_page), methods=["GET"]),
        Route("/stations", endpoint(stations_page), methods=["GET"]),
        Route("/stations/{station}", endpoint(station_page), methods=["GET"]),
        Route("/compliance", endpoint(compliance_page), methods=["GET"]),
        Route("/reports", endpoint(reports_page), methods=["GET"]),
    ]
