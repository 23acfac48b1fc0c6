"""The console's pages and API on a real store: the OpenAPI document matches the routes,
the fleet page and API show the ingested station, the compliance page carries the
report's numbers, the map draws registry locations, static assets are served locally."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest
from starlette.routing import Route
from web_kit import KOI, RUONG, Console, make_console

from district_collector.store.opening import open_store
from district_collector.views.compliance import report_json
from district_collector.web.app import all_routes, create_app
from district_collector.web.openapi import openapi_document
from district_collector.web.svg import station_map, week_bars


@pytest.fixture
def console(tmp_path: Path) -> Console:
    return make_console(tmp_path)


def _api_routes() -> set[tuple[str, str]]:
    found = set()
    for route in all_routes():
        if isinstance(route, Route) and route.path.startswith("/api/v1/") and "{rest:path}" not in route.path:
            for method in route.methods or ():
                if method != "HEAD":
                    found.add((route.path, method.lower()))
    return found


def test_web_openapi_documents_every_route_and_nothing_else() -> None:
    documented = {(path, method) for path, ops in openapi_document()["paths"].items() for method in ops}
    assert documented == _api_routes()


def test_web_openapi_served(console: Console) -> None:
    answer = console.client(None).get("/api/v1/openapi.json")
    assert answer.status_code == 200 and answer.json()["openapi"].startswith("3.")


def test_web_fleet_api_and_page_show_the_ingested_station(console: Console) -> None:
    client = console.client("dist")
    rows = {r["id"]: r for r in client.get("/api/v1/stations").json()["stations"]}
    assert set(rows) == {KOI, RUONG}
    assert rows[KOI]["online"] is True and rows[KOI]["commune"] == "23335"
    assert rows[KOI]["last_airing"]["started_at"].startswith("2024-03-05T06:33")
    assert rows[RUONG]["state"] == "never-seen"
    page = client.get("/fleet").text
    assert f'data-station="{KOI}"' in page and "Hoạt động" in page and "Chưa liên lạc" in page
    only = client.get("/api/v1/stations?state=never-seen").json()["stations"]
    assert [r["id"] for r in only] == [RUONG]


def test_web_report_api_is_the_report_commands_json(console: Console) -> None:
    client = console.client("dist")
    answer = client.get("/api/v1/report?from=2024-03-01&to=2024-03-31")
    with open_store(console.kit.config) as store:
        expected = report_json(store, console.kit.config, date(2024, 3, 1), date(2024, 3, 31))
    assert answer.status_code == 200 and answer.json() == expected
    bad = client.get("/api/v1/report?from=2024-13-01&to=2024-03-31")
    assert bad.status_code == 400 and "from/to" in bad.json()["error"]
    assert client.get("/api/v1/report").status_code == 400


def test_web_compliance_page_shows_the_grid_and_chart(console: Console) -> None:
    client = console.client("dist")
    grid = client.get("/api/v1/compliance?from=2024-03-01&to=2024-03-31").json()
    page = client.get("/compliance?from=2024-03-01&to=2024-03-31").text
    koi = [row for row in grid["rows"] if row["score"]["code"] == "23335"][0]
    week10 = [c for c, w in zip(koi["weeks"], grid["weeks"], strict=True) if w["week"] == "2024-W10"][0]
    assert week10["state"] == "aired" and week10["airings"] == 3
    assert re.search(r'data-state="aired" data-week="2024-W10"', page)
    assert 'id="chart"' in page and "Số buổi phát mỗi tuần" in page
    cell = client.get("/api/v1/compliance/cell?commune=23335&from=2024-03-04&to=2024-03-10").json()
    assert len(cell["airings"]) == 3


def test_web_static_assets_are_served_by_the_app(console: Console) -> None:
    client = console.client(None)
    for path in ("/static/console.css", "/static/console.js", "/static/favicon.svg"):
        assert client.get(path).status_code == 200, path
    page = client.get("/login").text
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_web_map_and_chart_geometry() -> None:
    rows = [SimpleNamespace(id="a", commune_name="A", state="ok", location=SimpleNamespace(lat=14.6, lon=108.0)),
            SimpleNamespace(id="b", commune_name="B", state="offline", location=SimpleNamespace(lat=14.4, lon=108.2)),
            SimpleNamespace(id="c", commune_name="C", state="ok", location=None)]
    points = station_map(rows)
    assert [p.id for p in points] == ["a", "b"]
    assert points[0].y < points[1].y and points[0].x < points[1].x  # north up, east right
    bars, top = week_bars(["2024-W10", "2024-W11"], [3, 0])
    assert top == 3 and bars[0].height > 0 and bars[1].height == 0


def test_web_create_app_from_a_loaded_config(console: Console) -> None:
    assert create_app(console.kit.config).state.config is console.kit.config


def test_web_alerts_link_only_with_the_alerts_package(console: Console) -> None:
    client = console.client("dist")
    client.app.state.has_alerts = False  # type: ignore[attr-defined]
    assert 'href="/alerts"' not in client.get("/fleet").text
    client.app.state.has_alerts = True  # type: ignore[attr-defined]
    assert 'href="/alerts"' in client.get("/fleet").text
    assert "Trang cảnh báo" in client.get("/alerts").text


def test_web_compliance_month_cells_list_their_airings(console: Console) -> None:
    client = console.client("dist")
    page = client.get("/compliance?from=2024-02-20&to=2024-03-31").text
    months = page.split('id="grid-months"', 1)[1]
    assert 'data-month="2024-02" data-from="2024-02-20" data-to="2024-02-29"' in months  # clipped to the period
    assert 'data-month="2024-03" data-from="2024-03-01" data-to="2024-03-31"' in months
    cell = client.get("/api/v1/compliance/cell?commune=23335&from=2024-03-01&to=2024-03-31").json()
    assert len(cell["airings"]) == 3


def test_web_compliance_page_pages_the_communes(console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    """A province's grid is scored whole and shown one page of communes at a time; the
    district line is the same on every page and the pager keeps the period."""
    from district_collector.web import pages

    monkeypatch.setattr(pages, "PAGE_COMMUNES", 1)
    client = console.client("dist")
    grid = client.get("/api/v1/compliance?from=2024-03-01&to=2024-03-31").json()
    codes = [row["score"]["code"] for row in grid["rows"]]
    assert len(codes) == 2
    shown = []
    for n in (1, 2):
        page = client.get(f"/compliance?from=2024-03-01&to=2024-03-31&page={n}").text
        body = page.split('id="grid-weeks"', 1)[1].split("</tbody>", 1)[0]
        shown += re.findall(r'<tr data-commune="([^"]+)"', body)
        assert f"Trang {n}/2" in page
        assert 'data-field="district-tier"' in page
    assert shown == codes
    assert 'href="/compliance?from=2024-03-01&amp;to=2024-03-31&amp;page=2"' in client.get(
        "/compliance?from=2024-03-01&to=2024-03-31").text
    assert client.get("/compliance?from=2024-03-01&to=2024-03-31&page=3").status_code == 404
    assert client.get("/compliance?page=x").status_code == 400
