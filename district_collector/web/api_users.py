"""Users, tokens and the audit log: the admin's API (``/api/v1/users``, ``/api/v1/audit``)
and the users page's forms. Every change goes through :mod:`district_collector.accounts.service`,
which writes it to the audit log with the acting admin (``web:NAME``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from district_collector.accounts import service as accounts
from district_collector.accounts.model import AccountError, User
from district_collector.web.api import PREFIX, actor, json_answer
from district_collector.web.context import Ctx, HttpError, endpoint
from district_collector.web.templating import render

MAX_TOKEN_DAYS = 3650


def user_json(user: User) -> dict[str, Any]:
    return {"name": user.name, "role": user.role, "commune": user.commune, "disabled": user.disabled}


def _field(ctx: Ctx, name: str, default: str = "") -> str:
    value = ctx.form.get(name) if ctx.form is not None else None
    return value.strip() if isinstance(value, str) else default


def _name(ctx: Ctx) -> str:
    return str(ctx.request.path_params.get("name") or _field(ctx, "name"))


def _change(ctx: Ctx) -> str | None:
    """Apply the change the route names (``add``, ``disable``, ``enable``, ``password``,
    ``token``); the new token's text for ``token``. AccountError when refused."""
    what = ctx.request.path_params.get("action", "add")
    name = _name(ctx)
    if what == "add":
        role = _field(ctx, "role")
        commune = _field(ctx, "commune") or None
        accounts.create_user(ctx.store, ctx.config, name, role, commune, _field(ctx, "password"), actor(ctx))
    elif what in ("disable", "enable"):
        if ctx.user is not None and name == ctx.user.name and what == "disable":
            raise AccountError("an admin cannot disable itself")
        accounts.set_disabled(ctx.store, name, what == "disable", actor(ctx))
    elif what == "password":
        accounts.set_password(ctx.store, name, _field(ctx, "password"), actor(ctx))
    elif what == "token":
        days = _field(ctx, "expires_days", "90")
        if not days.isdigit() or not 0 <= int(days) <= MAX_TOKEN_DAYS:
            raise AccountError(f"expires_days: a whole number of days 0..{MAX_TOKEN_DAYS} (0: never)")
        expires = timedelta(days=int(days)) if int(days) else None
        return accounts.issue_token(ctx.store, name, expires, actor(ctx))
    else:
        raise HttpError(404, "no such user action")
    return None


def api_list(ctx: Ctx) -> Response:
    return json_answer({"users": [user_json(u) for u in accounts.list_users(ctx.store)]})


def api_change(ctx: Ctx) -> Response:
    try:
        token = _change(ctx)
    except AccountError as exc:
        raise HttpError(400, str(exc)) from exc
    answer: dict[str, Any] = {"ok": True}
    if token is not None:
        answer["token"] = token
    return json_answer(answer)


def api_audit(ctx: Ctx) -> Response:
    entries = accounts.audit_log(ctx.store, limit=500)
    return json_answer({"entries": [{"id": e.id, "at": e.at, "actor": e.actor, "action": e.action,
                                     "detail": e.detail} for e in entries]})


def users_page(ctx: Ctx, message: str = "", error: str = "", token: str = "", status: int = 200) -> Response:
    communes = ctx.registry_communes()
    return render(ctx, "users.html", status, active="users", users=accounts.list_users(ctx.store),
                  audit=accounts.audit_log(ctx.store, limit=200), communes=communes,
                  message=message, error=error, token=token, token_user=_name(ctx) if token else "")


def page_get(ctx: Ctx) -> Response:
    return users_page(ctx)


def page_post(ctx: Ctx) -> Response:
    try:
        token = _change(ctx)
    except AccountError as exc:
        return users_page(ctx, error=str(exc), status=400)
    if token is not None:  # shown once, on this answer only
        return users_page(ctx, message=ctx.extra.get("saved", ""), token=token)
    return RedirectResponse(f"/users?saved=1&lang={ctx.lang}", status_code=303)


def routes() -> list[BaseRoute]:
    return [
        Route(PREFIX + "/users", endpoint(api_list, need="admin", api=True), methods=["GET"]),
        Route(PREFIX + "/users", endpoint(api_change, need="admin", api=True), methods=["POST"]),
        Route(PREFIX + "/users/{name}/{action}", endpoint(api_change, need="admin", api=True), methods=["POST"]),
        Route(PREFIX + "/audit", endpoint(api_audit, need="admin", api=True), methods=["GET"]),
        Route("/users", endpoint(page_get, need="admin"), methods=["GET"]),
        Route("/users", endpoint(page_post, need="admin"), methods=["POST"]),
        Route("/users/{name}/{action}", endpoint(page_post, need="admin"), methods=["POST"]),
    ]
