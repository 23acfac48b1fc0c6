"""Login and logout.

The login form carries a CSRF token of its own (double submit: the same random value in
a SameSite=Strict cookie and in the form), since there is no session yet. A login refused
for too many failures answers 429 with the wait in Vietnamese (or English); any other
refusal says the same thing whatever was wrong. A session cookie is HttpOnly,
SameSite=Strict and Secure over TLS.
"""

from __future__ import annotations

import hmac
import math
import secrets

from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from district_collector.accounts import service as accounts
from district_collector.accounts.model import LoginRefused
from district_collector.web.context import SESSION_COOKIE, Ctx, endpoint
from district_collector.web.i18n import t
from district_collector.web.security import clear_cookie, set_cookie
from district_collector.web.templating import render

LOGIN_CSRF_COOKIE = "login_csrf"


def _next(ctx: Ctx) -> str:
    """Where to go after login: a path of this site only (never another origin)."""
    target = ""
    if ctx.form is not None:
        value = ctx.form.get("next")
        target = value if isinstance(value, str) else ""
    target = target or ctx.request.query_params.get("next", "")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _form(ctx: Ctx, error: str = "", status: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(ctx, "login.html", status, login_csrf=token, next=_next(ctx), error=error)
    set_cookie(response, ctx.request, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


def login_get(ctx: Ctx) -> Response:
    if ctx.user is not None:
        return RedirectResponse(_next(ctx), status_code=303)
    return _form(ctx)


def login_post(ctx: Ctx) -> Response:
    assert ctx.form is not None
    sent = str(ctx.form.get("csrf") or "")
    expected = ctx.request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        return _form(ctx, t("csrf_failed", ctx.lang), 403)
    name = str(ctx.form.get("name") or "").strip()
    password = str(ctx.form.get("password") or "")
    address = ctx.request.client.host if ctx.request.client else None
    try:
        user = accounts.authenticate(ctx.store, name, password, address, ctx.now)
    except LoginRefused as exc:
        if exc.retry_after_s is not None:
            wait = max(1, math.ceil(exc.retry_after_s))
            response = _form(ctx, t("login_throttled", ctx.lang, s=wait), 429)
            response.headers["retry-after"] = str(wait)
            return response
        return _form(ctx, t("login_refused", ctx.lang), 401)
    session = accounts.start_session(ctx.store, user, ctx.now)
    response = RedirectResponse(_next(ctx), status_code=303)
    max_age = int((session.expires_at - ctx.now).total_seconds())
    set_cookie(response, ctx.request, SESSION_COOKIE, session.id, max_age=max_age)
    clear_cookie(response, ctx.request, LOGIN_CSRF_COOKIE)
    return response


def logout(ctx: Ctx) -> Response:
    if ctx.session is not None:
        accounts.end_session(ctx.store, ctx.session.id)
    response = RedirectResponse("/login", status_code=303)
    clear_cookie(response, ctx.request, SESSION_COOKIE)
    return response


def routes() -> list[BaseRoute]:
    return [
        Route("/login", endpoint(login_get, anonymous=True), methods=["GET"]),
        Route("/login", endpoint(login_post, anonymous=True), methods=["POST"]),
        Route("/logout", endpoint(logout), methods=["POST"]),
    ]
