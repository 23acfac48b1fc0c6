"""The Cảnh báo page: open alerts (kind in words, commune, station, since, detail,
reminders, acknowledgement) with an acknowledge form for district and admin users, and the
history below (alerts resolved since ``?since=``, default :data:`HISTORY_DAYS` days back).

It renders :func:`district_collector.web.api_alerts.alert_view`, the same objects
``/api/v1/alerts`` answers; the page's script polls that route and redraws the lists
when the set of open alerts changes. The form posts to ``/alerts/{id}/ack`` (CSRF field),
which acknowledges through :func:`district_collector.web.api_alerts.ack_alert` and comes
back here.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from district_collector.web.api_alerts import (
    ack_alert,
    alert_view,
    path_alert_id,
    since_param,
    visible_history,
    visible_open,
)
from district_collector.web.context import Ctx, endpoint
from district_collector.web.templating import render
from radio_protocol.timefmt import zone

HISTORY_DAYS = 30


def alerts_page(ctx: Ctx) -> Response:
    opened = [alert_view(ctx, a) for a in visible_open(ctx)]
    tz = zone(ctx.config.district.timezone)
    since = since_param(ctx)
    if since is None:
        day = ctx.now.astimezone(tz).date() - timedelta(days=HISTORY_DAYS)
        since = datetime.combine(day, time(0), tzinfo=tz)
    history = [alert_view(ctx, a) for a in visible_history(ctx, since) if a.state == "resolved"]
    can_ack = ctx.user is not None and ctx.user.role in ("admin", "district")
    return render(ctx, "alerts.html", active="alerts", open_alerts=opened, history=history,
                  since_day=since.date(), can_ack=can_ack, alert_count=len(opened),
                  acked=ctx.request.query_params.get("acked", ""))


def ack_form(ctx: Ctx) -> Response:
    alert = ack_alert(ctx, path_alert_id(ctx))
    return RedirectResponse(f"/alerts?acked={alert.id}", status_code=303)


def routes() -> list[BaseRoute]:
    return [
        Route("/alerts", endpoint(alerts_page), methods=["GET"]),
        Route("/alerts/{alert_id}/ack", endpoint(ack_form), methods=["POST"]),
    ]
