"""Who is asking and what they may see: one :class:`Ctx` per request, built by :func:`endpoint`.

Every route is an ``endpoint(handler, ...)``: it finds the user from the session cookie
(pages and the pages' fetches) or ``Authorization: Bearer TOKEN`` (the API's scripts),
checks the CSRF token on every state-changing request that carries a session cookie
(form field ``csrf`` or header ``X-CSRF-Token``), checks the role, then runs the
synchronous ``handler(ctx)`` in a worker thread with that thread's own store (SQLite
connections are per thread; the collector keeps writing beside us in WAL mode).

Answers when that fails: an API request gets JSON ``{"error": ...}`` with 401/403/404;
a page gets a redirect to ``/login`` (401) or a page in the user's language. A commune
user asking for another commune's station gets 404, the same as for a station that does
not exist (:meth:`Ctx.require_station`).
"""

from __future__ import annotations

import hmac
import logging
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from district_collector.accounts import service as accounts
from district_collector.accounts.model import Session, User
from district_collector.config import DistrictConfig
from district_collector.registry import Commune, RegisteredStation
from district_collector.store.base import Store
from district_collector.store.opening import open_store
from district_collector.web.i18n import pick_lang, t
from radio_protocol.clock import Clock
from radio_protocol.errors import CommuneRadioError

log = logging.getLogger(__name__)
SESSION_COOKIE = "session"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
Need = Literal["any", "publish", "admin"]
MAX_BODY = 4_000_000  # bytes of a request body (a catalogue upload is a few kB)


class HttpError(CommuneRadioError):
    """Answer the request with ``status`` and ``message`` (shown to the user as is)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class StorePool:
    """One open store per worker thread, opened on first use (read-write: sessions,
    throttling and the audit log are written); :meth:`close` closes them all."""

    def __init__(self, config: DistrictConfig) -> None:
        self.config = config
        self._local = threading.local()
        self._all: list[Store] = []
        self._lock = threading.Lock()

    def get(self) -> Store:
        store: Store | None = getattr(self._local, "store", None)
        if store is None:
            store = open_store(self.config)
            self._local.store = store
            with self._lock:
                self._all.append(store)
        return store

    def close(self) -> None:
        """Close every store opened so far. A SQLite connection may only be closed by the
        thread that opened it (sqlite3 refuses otherwise), and at shutdown this runs on
        another one: those are left to the process's exit, which closes them anyway."""
        with self._lock:
            stores, self._all = self._all, []
        for store in stores:
            try:
                store.close()
            except sqlite3.ProgrammingError:
                log.debug("store left to close at exit (opened by another thread)")


@dataclass
class Ctx:
    """One request as a handler sees it. ``form``: the parsed form of a POST (None else)."""

    request: Request
    config: DistrictConfig
    store: Store
    user: User | None
    session: Session | None
    lang: str
    now: datetime
    is_api: bool
    form: FormData | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def communes(self) -> frozenset[str] | None:
        """The communes this user may see; None: all of them."""
        return None if self.user is None else accounts.visible_communes(self.user)

    def require_station(self, station_id: str) -> RegisteredStation:
        """The registered station, or 404 (also when it is another commune's)."""
        station = self.config.station(station_id)
        visible = self.communes
        if station is None or (visible is not None and station.commune_code not in visible):
            raise HttpError(404, t("not_found", self.lang))
        return station

    def allowed_communes(self, asked: Collection[str] | None) -> frozenset[str] | None:
        """``asked`` narrowed to what the user may see (None: every commune)."""
        visible = self.communes
        if asked is None:
            return visible
        wanted = frozenset(asked)
        return wanted if visible is None else wanted & visible

    def registry_communes(self) -> list[Commune]:
        """The registry's communes this user may see, in registry order."""
        visible = self.communes
        return [c for c in self.request.app.state.communes if visible is None or c.code in visible]

    @property
    def csrf(self) -> str:
        return self.session.csrf if self.session is not None else ""


Handler = Callable[[Ctx], Response]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def _read_capped(request: Request) -> None:
    """Read the body, at most :data:`MAX_BODY` bytes (413 beyond), before it is parsed."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise HttpError(413, f"the upload is larger than {MAX_BODY // 1_000_000} MB")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise HttpError(413, f"the upload is larger than {MAX_BODY // 1_000_000} MB")
        chunks.append(chunk)
    request._body = b"".join(chunks)  # Starlette's own cache: form() parses these bytes


def _error(ctx_lang: str, is_api: bool, status: int, message: str, request: Request) -> Response:
    if is_api:
        return JSONResponse({"error": message}, status_code=status)
    if status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    state = request.app.state

    def tr(key: str, **fmt: object) -> str:
        return t(key, ctx_lang, **fmt)

    frame = {"message": message, "status": status, "lang": ctx_lang, "t": tr, "user": None, "csrf": "",
             "active": "", "district": state.config.district, "has_alerts": state.has_alerts,
             "path": request.url.path}
    return state.templates.TemplateResponse(request, "error.html", frame, status_code=status)


def endpoint(handler: Handler, need: Need = "any", api: bool = False,
             anonymous: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint running ``handler`` for a user with the right ``need``
    (``publish``: district and admin users; ``admin``: admins). ``anonymous``: no login
    required (the login page itself)."""

    async def run(request: Request) -> Response:
        lang = pick_lang(request)
        form = None
        if request.method not in SAFE_METHODS:
            try:
                await _read_capped(request)
                form = await request.form(max_files=1, max_fields=200)
            except HttpError as exc:
                return _error(lang, api, exc.status, exc.message, request)
            except Exception as exc:  # a malformed or over-large body; Starlette raises several kinds
                return _error(lang, api, 400, f"{t('bad_request', lang)}: {exc}", request)
        return await run_in_threadpool(_sync, request, form, lang)

    def _sync(request: Request, form: FormData | None, lang: str) -> Response:
        state = request.app.state
        clock: Clock = state.clock
        store: Store = state.stores.get()
        now = clock.now()
        ctx = Ctx(request, state.config, store, None, None, lang, now, api, form)
        try:
            _authenticate(ctx, need, anonymous)
            return handler(ctx)
        except HttpError as exc:
            return _error(lang, api, exc.status, exc.message, request)

    run.__name__ = handler.__name__
    return run


def _authenticate(ctx: Ctx, need: Need, anonymous: bool) -> None:
    request = ctx.request
    token = _bearer(request)
    if token is not None:
        ctx.user = accounts.token_user(ctx.store, token, ctx.now)
    else:
        sid = request.cookies.get(SESSION_COOKIE)
        ctx.session = accounts.session_for(ctx.store, sid, ctx.now) if sid else None
        ctx.user = ctx.session.user if ctx.session is not None else None
        if ctx.session is not None and request.method not in SAFE_METHODS:
            sent = request.headers.get("x-csrf-token") or (
                str(ctx.form.get("csrf") or "") if ctx.form is not None else "")
            if not hmac.compare_digest(sent.encode(), ctx.session.csrf.encode()):
                log.warning("csrf refused path=%s user=%s", request.url.path, ctx.user.name if ctx.user else "-")
                raise HttpError(403, t("csrf_failed", ctx.lang))
    if anonymous:
        return
    if ctx.user is None:
        raise HttpError(401, t("login_required", ctx.lang))
    if need == "admin" and ctx.user.role != "admin":
        raise HttpError(403, t("forbidden", ctx.lang))
    if need == "publish" and ctx.user.role not in ("admin", "district"):
        raise HttpError(403, t("forbidden", ctx.lang))
