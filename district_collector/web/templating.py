"""Jinja2 pages: :func:`render` gives every template the same frame (language, user, CSRF
token, navigation, words) so templates only add their own data. Autoescaping is on."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.responses import Response
from starlette.templating import Jinja2Templates

from district_collector.web import i18n
from district_collector.web.context import Ctx

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    env = templates.env
    env.globals.update(tier=i18n.tier, code=i18n.code)
    env.filters["num"] = _num
    env.filters["hm"] = _local_time
    return templates


def _num(value: object, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _local_time(value: object) -> str:
    """An RFC 3339 text or an aware datetime as ``YYYY-MM-DD HH:MM:SS`` (its own local
    time, offset dropped)."""
    if not value:
        return "–"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)[:19].replace("T", " ")


def render(ctx: Ctx, template: str, status_code: int = 200, active: str = "", **data: Any) -> Response:
    """The page ``template`` with the frame and ``data``."""
    templates: Jinja2Templates = ctx.request.app.state.templates
    lang = ctx.lang

    def tr(key: str, **fmt: object) -> str:
        return i18n.t(key, lang, **fmt)

    frame = {"lang": lang, "t": tr, "user": ctx.user, "csrf": ctx.csrf, "active": active,
             "district": ctx.config.district, "has_alerts": ctx.request.app.state.has_alerts,
             "path": ctx.request.url.path}
    return templates.TemplateResponse(ctx.request, template, {**frame, **data}, status_code=status_code)
