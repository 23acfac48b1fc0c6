"""The API's OpenAPI 3.1 document, written out by hand (served at ``/api/v1/openapi.json``).

A test checks that every ``/api/v1/`` route is documented here and every documented path
is a route, so the two cannot drift apart."""

from __future__ import annotations

from typing import Any

_PERIOD = [
    {"name": "from", "in": "query", "required": False, "schema": {"type": "string", "format": "date"},
     "description": "first day, YYYY-MM-DD (district timezone); default: this month, or the latest "
                    "month with events"},
    {"name": "to", "in": "query", "required": False, "schema": {"type": "string", "format": "date"},
     "description": "last day, inclusive"},
]
_REQUIRED_PERIOD = [dict(p, required=True) for p in _PERIOD]
_COMMUNES = [{"name": "communes", "in": "query", "required": False, "schema": {"type": "string"},
              "description": "commune codes, comma separated (default: every commune the user sees)"}]
_STATION = [{"name": "station", "in": "path", "required": True, "schema": {"type": "string"}}]
_USER = [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
         {"name": "action", "in": "path", "required": True,
          "schema": {"enum": ["disable", "enable", "password", "token"]}}]
_UPLOAD = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "properties": {"file": {"type": "string", "format": "binary"}}, "required": ["file"]}}}}
_OBJECT = {"type": "object"}


def _op(summary: str, params: list[dict[str, Any]] | None = None, *, media: str = "application/json",
        body: dict[str, Any] | None = None, errors: tuple[int, ...] = (401, 404)) -> dict[str, Any]:
    answer: dict[str, Any] = {"summary": summary, "parameters": params or [], "responses": {
        "200": {"description": "OK", "content": {media: {"schema": _OBJECT if media.endswith("json")
                                                          else {"type": "string", "format": "binary"}}}}}}
    for code in errors:
        answer["responses"][str(code)] = {"description": _ERRORS[code]}
    if body is not None:
        answer["requestBody"] = body
    return answer


_ERRORS = {400: "bad parameters (the message names them)", 401: "not logged in / bad token",
           403: "the user's role may not do this, or a bad CSRF token", 404: "not found (or another commune's)",
           409: "could not be published", 413: "upload too large", 422: "the catalogue has errors"}

PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/stations": {"get": _op("Fleet rows: one object per station (id, commune, online, last_seen_at, "
                                     "last_airing, schedule versions, media missing, problems, state)",
                                     [{"name": "commune", "in": "query", "schema": {"type": "string"}},
                                      {"name": "state", "in": "query",
                                       "schema": {"enum": ["ok", "warning", "offline", "never-seen"]}}])},
    "/api/v1/stations/{station}": {"get": _op("One station: its row, as-run log, slots to come, status "
                                              "history, keys", _STATION + _PERIOD)},
    "/api/v1/stations/{station}/airings": {"get": _op("The station's as-run log of the period",
                                                      _STATION + _PERIOD)},
    "/api/v1/report": {"get": _op("Exactly the JSON of `radio-district report --format json` for the "
                                  "period", _REQUIRED_PERIOD, errors=(400, 401))},
    "/api/v1/compliance": {"get": _op("Communes x ISO weeks and months: aired / not-aired / at-risk / "
                                      "excluded, tiers and points", _PERIOD + _COMMUNES, errors=(400, 401))},
    "/api/v1/compliance/cell": {"get": _op("The airings behind one cell", [
        {"name": "commune", "in": "query", "required": True, "schema": {"type": "string"}}] + _REQUIRED_PERIOD)},
    "/api/v1/catalogue/check": {"post": _op("Check an uploaded catalogue: errors with line and key, or a "
                                            "per-station month preview", body=_UPLOAD,
                                            errors=(400, 401, 403, 413, 422))},
    "/api/v1/catalogue/publish": {"post": _op("Check and publish an uploaded catalogue (as `schedule "
                                              "publish`)", body=_UPLOAD, errors=(400, 401, 403, 409, 413, 422))},
    "/api/v1/catalogue/rollout": {"get": _op("Per station: published vs applied version, media missing")},
    "/api/v1/catalogue.pdf": {"get": _op("The month's catalogue document as published (PDF)", [
        {"name": "month", "in": "query", "required": True, "schema": {"type": "string"}}],
        media="application/pdf", errors=(400, 401, 403))},
    "/api/v1/catalogue.xlsx": {"get": _op("The month's catalogue document as published (XLSX)", [
        {"name": "month", "in": "query", "required": True, "schema": {"type": "string"}}],
        media="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", errors=(400, 401, 403))},
    "/api/v1/evidence.zip": {"get": _op("The evidence bundle (the files `radio-district evidence` writes)",
                                        _REQUIRED_PERIOD + _COMMUNES, media="application/zip",
                                        errors=(400, 401))},
    "/api/v1/report.pdf": {"get": _op("The report as PDF", _REQUIRED_PERIOD + _COMMUNES,
                                      media="application/pdf", errors=(400, 401))},
    "/api/v1/report.xlsx": {"get": _op("The report as XLSX", _REQUIRED_PERIOD + _COMMUNES,
                                       media="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                                       errors=(400, 401))},
    "/api/v1/users": {
        "get": _op("Every user (admins only)", errors=(401, 403)),
        "post": _op("Add a user: form fields name, role, commune, password (admins only)",
                    body={"required": True, "content": {"application/x-www-form-urlencoded": {"schema": _OBJECT}}},
                    errors=(400, 401, 403)),
    },
    "/api/v1/users/{name}/{action}": {"post": _op("Disable, enable, set a password (field password) or "
                                                  "issue an API token (field expires_days; the token is "
                                                  "answered once)", _USER, errors=(400, 401, 403, 404))},
    "/api/v1/audit": {"get": _op("The audit log, newest first (admins only)", errors=(401, 403))},
    "/api/v1/alerts": {"get": _op("Open alerts, newest first (state=open), or the history: alerts opened or "
                                  "resolved since a day (state=all); each the webhook's members plus title, "
                                  "commune_name, since_local and lines (the detail in the user's language)",
                                  [{"name": "state", "in": "query", "schema": {"enum": ["open", "all"]}},
                                   {"name": "summary", "in": "query", "schema": {"enum": ["1", "true"]},
                                    "description": "each alert as id, kind, state, station, commune, acked_at"},
                                   {"name": "since", "in": "query", "schema": {"type": "string", "format": "date"},
                                    "description": "with state=all: first day, YYYY-MM-DD (district timezone)"}],
                                  errors=(400, 401))},
    "/api/v1/alerts/{alert_id}/ack": {"post": _op(
        "Acknowledge an alert (no more reminders): optional form field note (<= 500 characters); district and "
        "admin users; written to the audit log", [{"name": "alert_id", "in": "path", "required": True,
                                                   "schema": {"type": "integer"}}],
        body={"required": False, "content": {"application/x-www-form-urlencoded": {"schema": {
            "type": "object", "properties": {"note": {"type": "string", "maxLength": 500}}}}}},
        errors=(400, 401, 403, 404))},
    "/api/v1/openapi.json": {"get": _op("This document", errors=())},
}


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Commune Radio district console API", "version": "1"},
        "components": {"securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer",
                       "description": "a token from `radio-district user token NAME`"},
            "session": {"type": "apiKey", "in": "cookie", "name": "session",
                        "description": "the login session; POST needs the X-CSRF-Token header"}}},
        "security": [{"bearer": []}, {"session": []}],
        "paths": PATHS,
    }
