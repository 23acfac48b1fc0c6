"""The console's alerts on a real store: statuses ingested by the real Ingestor, alerts opened
and resolved by the real engine at injected times, read and acknowledged through the API
and the Cảnh báo page by users logged in through the real login form. A commune user sees
only its commune's alerts (404 for the others, before the role's 403), a cookie session
needs the CSRF token to acknowledge, every acknowledgement is in the audit log."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alerts_kit import KOI, RUONG, alerts_district, ingest, status_jws
from web_kit import Console, make_console

from district_collector.accounts import service as accounts
from district_collector.alerts.api import open_alerts
from district_collector.alerts.engine import evaluate
from district_collector.store.opening import open_store

T0 = datetime(2024, 3, 5, 1, 0, tzinfo=UTC)  # 08:00 in Hanoi
DOWN = T0 + timedelta(minutes=10)


@pytest.fixture
def console(tmp_path: Path) -> Console:
    """Both stations online at T0, then offline: two ``station-offline`` alerts (KOI's
    opened a minute later, so it is the newest)."""
    kit = alerts_district(tmp_path, {"offline_after_s": 300})
    with open_store(kit.config) as store:
        ingest(kit, store, T0, ("status", status_jws(kit, RUONG, "online", T0)),
               ("status", status_jws(kit, KOI, "online", T0)))
        evaluate(store, kit.config, T0 + timedelta(seconds=10))
        ingest(kit, store, DOWN, ("status", status_jws(kit, RUONG, "offline", DOWN)))
        evaluate(store, kit.config, DOWN + timedelta(seconds=300))
        later = DOWN + timedelta(minutes=1)
        ingest(kit, store, later, ("status", status_jws(kit, KOI, "offline", later)))
        evaluate(store, kit.config, later + timedelta(seconds=300))
    return make_console(tmp_path, kit)


def _offline(alerts: list[dict[str, object]]) -> list[dict[str, object]]:
    return [a for a in alerts if a["kind"] == "station-offline"]


def _alert_id(console: Console, station: str) -> int:
    with open_store(console.kit.config) as store:
        return [a.id for a in open_alerts(store) if a.kind == "station-offline" and a.station == station][0]


def test_web_alerts_api_lists_open_alerts_newest_first_in_words(console: Console) -> None:
    client = console.client("dist")
    answer = client.get("/api/v1/alerts")
    assert answer.status_code == 200
    alerts = _offline(answer.json()["alerts"])
    assert [(a["station"], a["commune"], a["state"]) for a in alerts] == [(KOI, "23335", "open"),
                                                                          (RUONG, alerts[1]["commune"], "open")]
    assert alerts[0]["title"] == "Trạm mất kết nối" and alerts[0]["commune_name"] == "Xã Đăk Kôi"
    assert alerts[0]["since_local"] == "08:11 05/03/2024" and alerts[0]["acked_at"] is None
    assert any("Kiểm tra nguồn điện" in line for line in alerts[0]["lines"])
    english = _offline(client.get("/api/v1/alerts?lang=en").json()["alerts"])
    assert english[0]["title"] == "Station offline"
    assert client.get("/api/v1/alerts?state=bogus").status_code == 400
    bad = client.get("/api/v1/alerts?state=all&since=05/03/2024")
    assert bad.status_code == 400 and "since" in bad.json()["error"]


def test_web_alerts_page_and_the_fleet_nav_count(console: Console) -> None:
    client = console.client("dist")
    count = len(client.get("/api/v1/alerts").json()["alerts"])
    page = client.get("/alerts").text
    assert f'data-alert="{_alert_id(console, KOI)}" data-kind="station-offline" data-station="{KOI}"' in page
    assert "Trạm mất kết nối" in page and "Xã Đăk Kôi" in page and "08:11 05/03/2024" in page
    assert page.count('class="ack-form"') == count and "Xác nhận đã xử lý" in page
    fleet = client.get("/fleet").text
    assert re.search(rf'id="alert-count" data-poll="/api/v1/alerts\?summary=1" >{count}</span>', fleet)
    summary = client.get("/api/v1/alerts?summary=1").json()
    assert summary["count"] == count and set(summary["alerts"][0]) == {"id", "kind", "state", "station", "commune",
                                                                        "acked_at"}
    english = client.get("/alerts?lang=en").text
    assert "Station offline" in english and "Acknowledge" in english


def test_web_alerts_commune_user_sees_only_its_commune_and_gets_404_for_others(console: Console) -> None:
    client = console.client("koi")
    alerts = client.get("/api/v1/alerts").json()["alerts"]
    assert alerts and {a["commune"] for a in alerts} == {"23335"}
    assert {a["station"] for a in _offline(alerts)} == {KOI}
    page = client.get("/alerts").text
    assert f'data-station="{KOI}"' in page and f'data-station="{RUONG}"' not in page
    assert 'class="ack-form"' not in page  # a commune user reads, the district acknowledges
    headers = {"X-CSRF-Token": client.csrf}  # type: ignore[attr-defined]
    other = client.post(f"/api/v1/alerts/{_alert_id(console, RUONG)}/ack", headers=headers)
    assert other.status_code == 404 and other.json() == {"error": "Không tìm thấy trang."}
    assert client.post(f"/api/v1/alerts/{_alert_id(console, KOI)}/ack", headers=headers).status_code == 403
    assert client.post("/api/v1/alerts/999999/ack", headers=headers).status_code == 404
    assert client.post("/api/v1/alerts/abc/ack", headers=headers).status_code == 404
    with open_store(console.kit.config) as store:
        assert all(a.acked_at is None for a in open_alerts(store))


def test_web_alerts_ack_needs_csrf_and_is_audited(console: Console) -> None:
    client = console.client("dist")
    koi = _alert_id(console, KOI)
    refused = client.post(f"/api/v1/alerts/{koi}/ack", data={"note": "đã gọi xã"})
    assert refused.status_code == 403
    assert client.post(f"/api/v1/alerts/{koi}/ack", data={"note": "x"},
                       headers={"X-CSRF-Token": "forged"}).status_code == 403
    with open_store(console.kit.config) as store:
        assert store.alert_row(koi).acked_at is None  # type: ignore[union-attr]
    too_long = client.post(f"/api/v1/alerts/{koi}/ack", data={"note": "x" * 501},
                           headers={"X-CSRF-Token": client.csrf})  # type: ignore[attr-defined]
    assert too_long.status_code == 400
    done = client.post(f"/api/v1/alerts/{koi}/ack", data={"note": "đã gọi xã"},
                       headers={"X-CSRF-Token": client.csrf})  # type: ignore[attr-defined]
    assert done.status_code == 200
    assert (done.json()["acked_by"], done.json()["ack_note"]) == ("web:dist", "đã gọi xã")
    with open_store(console.kit.config) as store:
        row = store.alert_row(koi)
        assert row is not None and row.acked_by == "web:dist" and row.acked_at == "2024-03-06T03:00:00.000+00:00"
        entry = [e for e in accounts.audit_log(store) if e.action == "alert.ack"]
        assert [(e.actor, e.detail["alert"], e.detail["station"], e.detail["note"]) for e in entry] == [
            ("web:dist", koi, KOI, "đã gọi xã")]
    page = client.get("/alerts").text
    assert "Đã xác nhận bởi web:dist" in page and "đã gọi xã" in page


def test_web_alerts_ack_form_and_bearer_token(console: Console) -> None:
    client = console.client("admin")
    ruong = _alert_id(console, RUONG)
    answer = client.post(f"/alerts/{ruong}/ack", data={"csrf": client.csrf, "note": ""},  # type: ignore[attr-defined]
                         follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == f"/alerts?acked={ruong}"
    assert f"Đã xác nhận cảnh báo #{ruong}" in client.get(answer.headers["location"]).text
    assert client.post(f"/alerts/{ruong}/ack", data={"note": ""}).status_code == 403  # no CSRF field
    with open_store(console.kit.config) as store:
        token = accounts.issue_token(store, "dist", None, "cli:test")
    api = console.client(None)
    koi = _alert_id(console, KOI)
    done = api.post(f"/api/v1/alerts/{koi}/ack", headers={"Authorization": f"Bearer {token}"})
    assert done.status_code == 200 and done.json()["acked_by"] == "web:dist"
    assert api.get("/api/v1/alerts").status_code == 401


def test_web_alerts_history_shows_resolved_alerts_since_a_day(console: Console) -> None:
    back = DOWN + timedelta(minutes=30)
    with open_store(console.kit.config) as store:
        ingest(console.kit, store, back, ("status", status_jws(console.kit, KOI, "online", back)))
        evaluate(store, console.kit.config, back + timedelta(seconds=5))
    client = console.client("dist")
    assert [a["station"] for a in _offline(client.get("/api/v1/alerts").json()["alerts"])] == [RUONG]
    history = _offline(client.get("/api/v1/alerts?state=all&since=2024-03-05").json()["alerts"])
    resolved = [a for a in history if a["state"] == "resolved"]
    assert [a["station"] for a in resolved] == [KOI] and resolved[0]["resolved_at"].startswith("2024-03-05T01:40:05")
    assert _offline(client.get("/api/v1/alerts?state=all&since=2024-03-06").json()["alerts"]) == []
    page = client.get("/alerts?since=2024-03-01").text
    section = page.split('id="alert-history"', 1)[1]
    assert 'data-kind="station-offline"' in section and "08:40 05/03/2024" in section
    assert "08:40 05/03/2024" in client.get("/alerts").text  # default: the last 30 days
    assert "Không có cảnh báo nào đã khắc phục" in client.get("/alerts?since=2024-03-06").text
