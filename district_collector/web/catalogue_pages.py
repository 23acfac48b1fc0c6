"""Danh mục: upload a catalogue, see every error with its line and key or a month calendar
per station, then publish it; and the rollout (published vs applied, media missing).

The checked file travels back to the browser in the preview's publish form (base64, a few
kB) rather than being kept on the server: nothing from a request is written to a path,
and publish checks it again with the same code as ``radio-district schedule publish``."""

from __future__ import annotations

import base64
import binascii
import calendar
from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from district_collector.views import catalogue
from district_collector.web.api import MAX_UPLOAD, check_catalogue, publish_catalogue, upload
from district_collector.web.context import Ctx, HttpError, endpoint
from district_collector.web.templating import render


def _page(ctx: Ctx, status: int = 200, **data: object) -> Response:
    rows = catalogue.rollout(ctx.store, ctx.config, ctx.communes)
    return render(ctx, "catalogue.html", status, active="catalogue", rollout=[r.as_json() for r in rows],
                  can_publish=ctx.user is not None and ctx.user.role in ("admin", "district"), **data)


def month_calendar(month: str | None, days: list[dict[str, Any]]) -> list[list[dict[str, Any] | None]]:
    """A station's preview as calendar weeks (Monday first): each day of ``month``
    (``YYYY-MM``) with its items, None outside the month."""
    if not month:
        return []
    year, number = (int(part) for part in month.split("-"))
    items = {str(d["day"]): d["items"] for d in days}
    weeks: list[list[dict[str, Any] | None]] = []
    for week in calendar.Calendar(firstweekday=0).monthdatescalendar(year, number):
        weeks.append([{"day": d.day, "items": items.get(d.isoformat(), [])} if d.month == number else None
                      for d in week])
    return weeks


def _with_calendars(check: dict[str, Any]) -> dict[str, Any]:
    for preview in check.get("stations", []):
        preview["calendar"] = month_calendar(check.get("month"), preview.get("days", []))
    return check


def catalogue_page(ctx: Ctx) -> Response:
    return _page(ctx)


def check_page(ctx: Ctx) -> Response:
    name, data = upload(ctx)
    result = check_catalogue(ctx, name, data)
    return _page(ctx, 200 if result.ok else 422, check=_with_calendars(result.as_json()),
                 payload=base64.b64encode(data).decode() if result.ok else "")


def publish_page(ctx: Ctx) -> Response:
    assert ctx.form is not None
    name = str(ctx.form.get("filename") or "catalogue.yaml")[:120]
    try:
        data = base64.b64decode(str(ctx.form.get("payload") or ""), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise HttpError(400, "the publish form is damaged: upload the catalogue again") from exc
    if not data or len(data) > MAX_UPLOAD:
        raise HttpError(400, "the publish form is damaged: upload the catalogue again")
    result = publish_catalogue(ctx, name, data)
    return _page(ctx, published=result.as_json())


def routes() -> list[BaseRoute]:
    return [
        Route("/catalogue", endpoint(catalogue_page), methods=["GET"]),
        Route("/catalogue/check", endpoint(check_page, need="publish"), methods=["POST"]),
        Route("/catalogue/publish", endpoint(publish_page, need="publish"), methods=["POST"]),
    ]
