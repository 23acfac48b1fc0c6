"""The console's composition root: :func:`create_app` builds the Starlette app from the
district config (routes of pages and API, templates, static files, headers, language
cookie, one store per worker thread), and nothing else builds its parts.

Run it with ``radio-district -c district.yaml web`` (:mod:`district_collector.commands.web`).
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from district_collector.config import DistrictConfig, load_district_config
from district_collector.registry import Registry
from district_collector.web import (
    alerts_pages,
    api,
    api_alerts,
    api_users,
    auth_pages,
    catalogue_pages,
    pages,
)
from district_collector.web.context import StorePool
from district_collector.web.i18n import LangCookie
from district_collector.web.openapi import openapi_document
from district_collector.web.security import SecurityHeaders
from district_collector.web.templating import STATIC_DIR, make_templates
from radio_protocol.clock import Clock, SystemClock


async def openapi_json(request: Request) -> Response:
    return JSONResponse(openapi_document())


async def health(request: Request) -> Response:
    return JSONResponse({"ok": True})


def all_routes() -> list[BaseRoute]:
    return [
        *auth_pages.routes(),
        *pages.routes(),
        *catalogue_pages.routes(),
        *api.routes(),
        *api_users.routes(),
        *alerts_pages.routes(),
        *api_alerts.routes(),
        Route(api.PREFIX + "/openapi.json", openapi_json, methods=["GET"]),
        Route("/healthz", health, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=str(STATIC_DIR)), name="static"),
        Route(api.PREFIX + "/{rest:path}", api.not_found),
    ]


def create_app(config_path: Path | str | DistrictConfig, clock: Clock | None = None) -> Starlette:
    """The console for the district config at ``config_path`` (or an already loaded one).
    ConfigError when the config is wrong; the store is opened per worker thread on first
    use. ``clock``: the wall clock (tests pass a fixed one)."""
    config = config_path if isinstance(config_path, DistrictConfig) else load_district_config(config_path)
    stores = StorePool(config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            stores.close()

    app = Starlette(routes=all_routes(), lifespan=lifespan,
                    middleware=[Middleware(SecurityHeaders), Middleware(LangCookie)])
    app.state.config = config
    app.state.communes = tuple(Registry.from_config(config).communes())  # the config is frozen
    app.state.stores = stores
    app.state.clock = clock or SystemClock()
    app.state.templates = make_templates()
    app.state.has_alerts = importlib.util.find_spec("district_collector.alerts") is not None
    return app
