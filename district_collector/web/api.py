"""The JSON API under ``/api/v1/`` (documented in :mod:`.openapi`): fleet, stations, report,
compliance, catalogue check/publish, evidence downloads. The pages fetch the same routes
for their live data. Users and the audit log are in :mod:`.api_users`.

Auth: the login session cookie (with ``X-CSRF-Token`` on POST) or ``Authorization:
Bearer TOKEN``; a commune user sees only its commune (404 for another's station).
"""

from __future__ import annotations

import json
import logging
from datetime import date
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from district_collector.accounts import service as accounts
from district_collector.scoring.period import ScoringError
from district_collector.views import catalogue, compliance, evidence, fleet, station
from district_collector.web.context import Ctx, HttpError, endpoint
from district_collector.web.period import query_communes, query_period
from radio_protocol.errors import CommuneRadioError

log = logging.getLogger(__name__)
MAX_UPLOAD = 2_000_000  # bytes of a catalogue file
PREFIX = "/api/v1"


def json_answer(data: Any, status: int = 200) -> Response:
    return JSONResponse(data, status_code=status, headers={"cache-control": "no-store"})


def actor(ctx: Ctx) -> str:
    assert ctx.user is not None
    return f"web:{ctx.user.name}"


def fleet_rows(ctx: Ctx) -> list[dict[str, Any]]:
    """The fleet rows the user may see, filtered by ``?commune=`` and ``?state=``."""
    communes = ctx.allowed_communes(_one(ctx, "commune"))
    rows = fleet.fleet(ctx.store, ctx.config, ctx.now, communes)
    state = ctx.request.query_params.get("state")
    return [r.as_json() for r in rows if not state or r.state == state]


def _one(ctx: Ctx, name: str) -> frozenset[str] | None:
    value = ctx.request.query_params.get(name)
    return frozenset({value}) if value else None


def get_stations(ctx: Ctx) -> Response:
    """The fleet rows; without ``?state=`` from :func:`fleet.fleet_json`, which keeps each
    row's JSON text while its inputs do not change (a fleet page polls this every few
    seconds: re-serialising 10,000 rows each time cost more than building them)."""
    if ctx.request.query_params.get("state"):
        return json_answer({"generated_at": ctx.now.isoformat(), "stations": fleet_rows(ctx)})
    communes = ctx.allowed_communes(_one(ctx, "commune"))
    body = (f'{{"generated_at":{json.dumps(ctx.now.isoformat())},"stations":'
            f"{fleet.fleet_json(ctx.store, ctx.config, ctx.now, communes)}}}")
    return Response(body.encode("utf-8"), media_type="application/json",
                    headers={"cache-control": "no-store"})


def station_detail(ctx: Ctx) -> station.StationDetail:
    sid = ctx.request.path_params["station"]
    ctx.require_station(sid)
    period = query_period(ctx)
    detail = station.station_detail(ctx.store, ctx.config, sid, period.start, period.end, ctx.now)
    if detail is None:
        raise HttpError(404, "no such station")
    return detail


def get_station(ctx: Ctx) -> Response:
    return json_answer(station_detail(ctx).as_json())


def get_airings(ctx: Ctx) -> Response:
    detail = station_detail(ctx)
    period = query_period(ctx)
    return json_answer({"station": detail.id, "from": period.start.isoformat(), "to": period.end.isoformat(),
                        "airings": [row.as_json() for row in detail.as_run]})


def get_report(ctx: Ctx) -> Response:
    """Exactly ``radio-district report --format json`` for the period (district users);
    a commune user gets its own commune's members only."""
    period = query_period(ctx, required=True)
    try:
        report = compliance.report_json(ctx.store, ctx.config, period.start, period.end)
    except ScoringError as exc:
        raise HttpError(400, str(exc)) from exc
    visible = ctx.communes
    if visible is not None:
        report = _only_communes(report, visible)
    return json_answer(report)


def _only_communes(report: dict[str, Any], visible: frozenset[str]) -> dict[str, Any]:
    out = dict(report)
    for key in ("communes", "stations", "excluded", "airings"):
        value = out.get(key)
        if isinstance(value, list):
            out[key] = [item for item in value if not isinstance(item, dict)
                        or str(item.get("code", item.get("commune", ""))) in visible]
    return out


def get_compliance(ctx: Ctx) -> Response:
    period = query_period(ctx)
    grid = compliance.compliance(ctx.store, ctx.config, period.start, period.end, query_communes(ctx), ctx.now)
    return json_answer(grid.as_json())


def get_cell(ctx: Ctx) -> Response:
    """The airings behind one cell: ``?commune=CODE&from=&to=`` (a week or a month)."""
    code = ctx.request.query_params.get("commune", "")
    visible = ctx.communes
    if not any(c.code == code for c in ctx.registry_communes()) or (visible is not None and code not in visible):
        raise HttpError(404, "no such commune")
    period = query_period(ctx, required=True)
    rows = compliance.cell_airings(ctx.store, ctx.config, code, period.start, period.end)
    return json_answer({"commune": code, "from": period.start.isoformat(), "to": period.end.isoformat(),
                        "airings": [r.as_json() for r in rows]})


def upload(ctx: Ctx) -> tuple[str, bytes]:
    """The uploaded catalogue (form field ``file``): ``(name, bytes)``; 400 without one, 413
    above :data:`MAX_UPLOAD`. The name is only shown, never used as a path."""
    item = ctx.form.get("file") if ctx.form is not None else None
    if not isinstance(item, UploadFile):
        raise HttpError(400, "no catalogue file in the form field 'file'")
    item.file.seek(0)
    data = item.file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise HttpError(413, f"the catalogue is larger than {MAX_UPLOAD // 1_000_000} MB")
    name = (item.filename or "catalogue.yaml").replace("\\", "/").rsplit("/", 1)[-1][:120]
    return name, data


def check_catalogue(ctx: Ctx, name: str, data: bytes) -> catalogue.UploadCheck:
    result = catalogue.check_upload(ctx.config, name, data)
    accounts.record_audit(ctx.store, actor(ctx), "catalogue.upload",
                          {"file": name, "bytes": len(data), "ok": result.ok, "errors": len(result.errors)})
    return result


def publish_catalogue(ctx: Ctx, name: str, data: bytes) -> catalogue.PublishResult:
    try:
        result = catalogue.publish_upload(ctx.config, ctx.store, name, data, actor(ctx), now=ctx.now)
    except catalogue.UploadRefused as exc:
        raise HttpError(422, str(exc)) from exc
    except CommuneRadioError as exc:
        log.warning("publish failed user=%s: %s", actor(ctx), exc)
        raise HttpError(409, str(exc)) from exc
    accounts.record_audit(ctx.store, actor(ctx), "catalogue.publish",
                          {"file": name, "month": result.month,
                           "stations": {s.station: s.version for s in result.stations}})
    return result


def post_check(ctx: Ctx) -> Response:
    result = check_catalogue(ctx, *upload(ctx))
    return json_answer(result.as_json(), 200 if result.ok else 422)


def post_publish(ctx: Ctx) -> Response:
    return json_answer(publish_catalogue(ctx, *upload(ctx)).as_json())


def get_rollout(ctx: Ctx) -> Response:
    rows = catalogue.rollout(ctx.store, ctx.config, ctx.communes)
    return json_answer({"stations": [r.as_json() for r in rows]})


def _download(ctx: Ctx, kind: str) -> Response:
    period = query_period(ctx, required=True)
    communes = query_communes(ctx)
    lang = ctx.request.query_params.get("lang", ctx.lang)
    lang = lang if lang in ("vi", "en") else "vi"
    makers = {"zip": (evidence.evidence_zip, "application/zip"),
              "pdf": (evidence.report_pdf, "application/pdf"),
              "xlsx": (evidence.report_xlsx,
                       "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")}
    make, media_type = makers[kind]
    try:
        data = make(ctx.store, ctx.config, period.start, period.end, communes, lang, ctx.now)
    except ScoringError as exc:
        raise HttpError(400, str(exc)) from exc
    stem = "evidence" if kind == "zip" else "report"
    name = f"{stem}-{ctx.config.district.id}-{period.start}-{period.end}.{kind}"
    return Response(data, media_type=media_type,
                    headers={"content-disposition": f'attachment; filename="{name}"',
                             "cache-control": "no-store"})


def get_zip(ctx: Ctx) -> Response:
    return _download(ctx, "zip")


def get_pdf(ctx: Ctx) -> Response:
    return _download(ctx, "pdf")


def get_xlsx(ctx: Ctx) -> Response:
    return _download(ctx, "xlsx")


def _catalogue_document(ctx: Ctx, kind: str) -> Response:
    """The month's catalogue document as published (``?month=YYYY-MM``), built by the code
    of ``radio-district catalogue --month`` (written to a private temporary folder under
    fixed names, read back, removed)."""
    import tempfile
    from pathlib import Path

    from district_collector.commands.catalogue import schedules_from_store
    from district_collector.documents.catalogue_doc import (
        build_catalogue_doc,
        write_catalogue_pdf,
        write_catalogue_xlsx,
    )

    month = ctx.request.query_params.get("month", "")
    try:
        if len(month) != 7:
            raise ValueError(month)
        date.fromisoformat(f"{month}-01")
    except ValueError:
        raise HttpError(400, "month: give YYYY-MM, e.g. 2026-12") from None
    config = ctx.config
    payloads, unscheduled = schedules_from_store(config, month)
    district = {"id": config.district.id, "name": config.district.name, "timezone": config.district.timezone,
                "level": config.district.level}
    doc = build_catalogue_doc(district, payloads, month, {s.id: s.commune_name for s in config.stations},
                              unscheduled)
    lang = ctx.lang
    with tempfile.TemporaryDirectory(prefix="radio-console-") as folder:
        if kind == "pdf":
            data = write_catalogue_pdf(doc, Path(folder) / "catalogue.pdf", lang).read_bytes()
            media_type = "application/pdf"
        else:
            data = write_catalogue_xlsx(doc, Path(folder) / "catalogue.xlsx", lang).read_bytes()
            media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    name = f"catalogue-{config.district.id}-{month}.{kind}"
    return Response(data, media_type=media_type,
                    headers={"content-disposition": f'attachment; filename="{name}"', "cache-control": "no-store"})


def get_catalogue_pdf(ctx: Ctx) -> Response:
    return _catalogue_document(ctx, "pdf")


def get_catalogue_xlsx(ctx: Ctx) -> Response:
    return _catalogue_document(ctx, "xlsx")


async def not_found(request: Request) -> Response:
    return JSONResponse({"error": "no such API route"}, status_code=404)


def routes() -> list[BaseRoute]:
    """The API routes (every one documented in :mod:`.openapi`; a test checks both ways)."""
    def api(path: str, handler: Any, methods: tuple[str, ...] = ("GET",), need: Any = "any") -> Route:
        return Route(PREFIX + path, endpoint(handler, need=need, api=True), methods=list(methods))

    return [
        api("/stations", get_stations),
        api("/stations/{station}", get_station),
        api("/stations/{station}/airings", get_airings),
        api("/report", get_report),
        api("/compliance", get_compliance),
        api("/compliance/cell", get_cell),
        api("/catalogue/check", post_check, ("POST",), "publish"),
        api("/catalogue/publish", post_publish, ("POST",), "publish"),
        api("/catalogue/rollout", get_rollout),
        api("/catalogue.pdf", get_catalogue_pdf, need="publish"),
        api("/catalogue.xlsx", get_catalogue_xlsx, need="publish"),
        api("/evidence.zip", get_zip),
        api("/report.pdf", get_pdf),
        api("/report.xlsx", get_xlsx),
    ]
