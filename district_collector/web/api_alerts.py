"""The alerts in the console: ``GET /api/v1/alerts`` and ``POST /api/v1/alerts/{id}/ack``
(documented in :mod:`.openapi`), and the view data the Cảnh báo page renders from the same
functions (:func:`alert_view`), so the page's first paint and its polling agree.

``GET /api/v1/alerts``: open alerts, newest first; ``?state=all`` the history (opened or
resolved since ``?since=YYYY-MM-DD``, a day in the district's timezone; everything without
it); ``count``: how many. ``?summary=1``: each alert only as id, kind, state, station,
commune, acked_at (what the pages poll). Else each object is :meth:`Alert.as_json` plus ``title`` (the kind in the user's language,
from the alerts' own catalogue), ``commune_name``, ``since_local`` and ``lines`` (the
detail as the alert e-mail words it).

``POST /api/v1/alerts/{id}/ack`` (form field ``note``, optional): district and admin users
(403 for a commune user); a commune user sees only its commune's alerts, and any alert
outside them is 404 (checked first), as is an unknown id. Each acknowledgement goes to the audit log (``alert.ack``).
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from district_collector.accounts import service as accounts
from district_collector.alerts.api import acknowledge, alert_history, open_alerts
from district_collector.alerts.messages import KIND_TEXT, text
from district_collector.alerts.model import Alert, AlertError
from district_collector.alerts.render import alert_lines, local_time
from district_collector.web.api import PREFIX, actor, json_answer
from district_collector.web.context import Ctx, HttpError, endpoint
from district_collector.web.i18n import t

MAX_NOTE = 500  # characters of an acknowledgement note
HEAD_LINES = 4  # alert_lines' problem, commune, station, since: the page shows them in columns


def kind_title(kind: str, lang: str) -> str:
    """The kind in words (Vietnamese or English), from the alerts' message catalogue."""
    titles = KIND_TEXT.get(kind)
    if titles is None:
        return kind
    return titles[0][1 if lang == "en" else 0]


def _zone(ctx: Ctx) -> ZoneInfo:
    return ZoneInfo(ctx.config.district.timezone)


def alert_view(ctx: Ctx, alert: Alert) -> dict[str, Any]:
    """One alert as the API answers and the page renders it."""
    data = alert.as_json()
    tz = _zone(ctx)
    names = {c.code: c.name for c in ctx.request.app.state.communes}
    detail_name = alert.detail.get("commune_name") if isinstance(alert.detail, dict) else None
    data.update(
        title=kind_title(alert.kind, ctx.lang),
        commune_name=detail_name or names.get(alert.commune or "", ""),
        since_local=local_time(alert.since or alert.opened_at, tz),
        opened_local=local_time(alert.opened_at, tz),
        resolved_local=local_time(alert.resolved_at, tz) if alert.resolved_at else None,
        acked_local=local_time(alert.acked_at, tz) if alert.acked_at else None,
        reminded_local=local_time(alert.reminded_at, tz) if alert.reminded_at else None,
        lines=detail_lines(data, ctx.lang, tz),
    )
    return data


def detail_lines(alert: dict[str, Any], lang: str, tz: ZoneInfo) -> list[str]:
    """What the alert e-mail says after its head (what to do, the details, the slots left),
    one item a line, without the e-mail's "Details:" heading and indentation."""
    heading = f"{text('details', lang)}:"
    lines = (line.strip() for line in alert_lines(alert, lang, tz)[HEAD_LINES:])
    return [line.removeprefix("- ") for line in lines if line and line != heading]


def since_param(ctx: Ctx) -> datetime | None:
    """``?since=YYYY-MM-DD`` as the start of that day in the district's timezone; 400 when
    it is not a date."""
    text = ctx.request.query_params.get("since") or ""
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise HttpError(400, f"since: {text!r} is not a date; give YYYY-MM-DD") from None
    return datetime.combine(day, time(0), tzinfo=_zone(ctx))


def visible_open(ctx: Ctx) -> list[Alert]:
    """The open alerts this user may see, newest first."""
    return open_alerts(ctx.store, ctx.communes)


def visible_history(ctx: Ctx, since: datetime | None) -> list[Alert]:
    """Alerts opened or resolved since ``since`` that this user may see, newest first."""
    return alert_history(ctx.store, since, ctx.communes)


def get_alerts(ctx: Ctx) -> Response:
    state = ctx.request.query_params.get("state") or "open"
    if state not in ("open", "all"):
        raise HttpError(400, f"state: {state!r}; give open or all")
    since = since_param(ctx)
    rows = visible_open(ctx) if state == "open" else visible_history(ctx, since)
    summary = ctx.request.query_params.get("summary") in ("1", "true")
    items = [_summary(a) if summary else alert_view(ctx, a) for a in rows]
    return json_answer({"generated_at": ctx.now.isoformat(), "state": state,
                        "since": since.isoformat() if since else None, "count": len(rows), "alerts": items})


def _summary(alert: Alert) -> dict[str, Any]:
    """An alert in a few members (the pages' polling: the count and whether the list changed)."""
    return {"id": alert.id, "kind": alert.kind, "state": alert.state, "station": alert.station,
            "commune": alert.commune, "acked_at": alert.acked_at}


def ack_alert(ctx: Ctx, alert_id: int) -> Alert:
    """Acknowledge alert ``alert_id`` as this user with the form's ``note``; 404 when there
    is no such alert or it is outside the user's communes, 400 for an over-long note.
    Written to the audit log."""
    known = ctx.store.alert_row(alert_id)
    visible = ctx.communes
    if known is None or (visible is not None and known.commune not in visible):
        raise HttpError(404, t("not_found", ctx.lang))
    assert ctx.user is not None
    if ctx.user.role not in ("admin", "district"):
        raise HttpError(403, t("forbidden", ctx.lang))
    note = str(ctx.form.get("note") or "").strip() if ctx.form is not None else ""
    if len(note) > MAX_NOTE:
        raise HttpError(400, f"note: at most {MAX_NOTE} characters")
    try:
        alert = acknowledge(ctx.store, alert_id, actor(ctx), note or None, now=ctx.now)
    except AlertError as exc:
        raise HttpError(404, str(exc)) from exc
    accounts.record_audit(ctx.store, actor(ctx), "alert.ack",
                          {"alert": alert_id, "kind": alert.kind, "station": alert.station,
                           "commune": alert.commune, "note": note or None}, now=ctx.now)
    return alert


def path_alert_id(ctx: Ctx) -> int:
    """The ``{alert_id}`` of the path; 404 when it is not a number."""
    text = str(ctx.request.path_params["alert_id"])
    if not text.isdigit():
        raise HttpError(404, t("not_found", ctx.lang))
    return int(text)


def post_ack(ctx: Ctx) -> Response:
    alert = ack_alert(ctx, path_alert_id(ctx))
    return json_answer(alert_view(ctx, alert))


def routes() -> list[BaseRoute]:
    """The alerts' API routes (documented in :mod:`.openapi`)."""
    return [
        Route(PREFIX + "/alerts", endpoint(get_alerts, api=True), methods=["GET"]),
        Route(PREFIX + "/alerts/{alert_id}/ack", endpoint(post_ack, api=True), methods=["POST"]),
    ]
