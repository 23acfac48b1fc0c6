"""The console's HTTP rules on a real store: login, session cookie attributes, CSRF on
every state-changing request, throttled logins (429, Vietnamese), bearer tokens, roles,
and a commune user's 404 for other communes (pages and API)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from web_kit import KOI, PASSWORD, RUONG, Console, make_console

from district_collector.accounts import service as accounts
from district_collector.store.opening import open_store


@pytest.fixture
def console(tmp_path: Path) -> Console:
    return make_console(tmp_path)


def test_web_pages_need_login_and_api_answers_401(console: Console) -> None:
    client = console.client(None)
    page = client.get("/fleet", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Ffleet"
    api = client.get("/api/v1/stations")
    assert api.status_code == 401 and api.json() == {"error": "Cần đăng nhập (phiên đăng nhập hoặc mã API)."}


def test_web_login_sets_a_strict_httponly_session_cookie(console: Console) -> None:
    client = console.client(None)
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token and "Đăng nhập" in page.text and 'lang="vi"' in page.text
    answer = client.post("/login", data={"csrf": token.group(1), "name": "dist", "password": PASSWORD},
                         follow_redirects=False)
    assert answer.status_code == 303
    cookie = [v for k, v in answer.headers.multi_items() if k == "set-cookie" and v.startswith("session=")][0]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
    assert client.get("/fleet").status_code == 200


def test_web_login_form_without_its_csrf_token_is_refused(console: Console) -> None:
    client = console.client(None)
    client.get("/login")
    answer = client.post("/login", data={"csrf": "forged", "name": "dist", "password": PASSWORD})
    assert answer.status_code == 403 and "session" not in client.cookies


def test_web_wrong_password_then_throttled_with_429_in_vietnamese(console: Console) -> None:
    client = console.client(None)
    statuses = []
    for _ in range(12):
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
        assert token
        answer = client.post("/login", data={"csrf": token.group(1), "name": "dist", "password": "wrong"})
        statuses.append(answer.status_code)
        if answer.status_code == 429:
            break
    assert statuses[0] == 401 and statuses[-1] == 429, statuses
    assert "Đăng nhập sai quá nhiều lần" in answer.text and int(answer.headers["retry-after"]) >= 1


def test_web_state_changing_requests_need_the_session_csrf_token(console: Console) -> None:
    client = console.client("admin")
    form = {"name": "newbie", "role": "district", "password": PASSWORD}
    refused = client.post("/users", data=form)
    assert refused.status_code == 403 and "Phiên làm việc đã hết hạn" in refused.text
    assert client.post("/api/v1/users", data=form).status_code == 403
    ok = client.post("/api/v1/users", data=form, headers={"X-CSRF-Token": client.csrf})  # type: ignore[attr-defined]
    assert ok.status_code == 200, ok.text
    assert client.post("/logout", data={}).status_code == 403  # logout is a POST with CSRF too
    with open_store(console.kit.config) as store:
        names = [u.name for u in accounts.list_users(store)]
        actions = [e.action for e in accounts.audit_log(store)]
    assert "newbie" in names and actions[0] == "user.add"


def test_web_bearer_token_reads_the_api_without_csrf(console: Console) -> None:
    with open_store(console.kit.config) as store:
        token = accounts.issue_token(store, "koi", None, "cli:test")
    client = console.client(None)
    answer = client.get("/api/v1/stations", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and [r["id"] for r in answer.json()["stations"]] == [KOI]
    assert client.get("/api/v1/stations", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_web_commune_user_gets_404_for_other_communes(console: Console) -> None:
    client = console.client("koi")
    assert client.get(f"/api/v1/stations/{KOI}").status_code == 200
    assert client.get(f"/api/v1/stations/{RUONG}").status_code == 404
    assert client.get(f"/api/v1/stations/{RUONG}/airings").status_code == 404
    assert client.get(f"/stations/{RUONG}").status_code == 404
    assert client.get("/api/v1/stations/no-such-station").status_code == 404
    cell = client.get("/api/v1/compliance/cell?commune=23326&from=2024-03-04&to=2024-03-10")
    assert cell.status_code == 404
    grid = client.get("/api/v1/compliance?from=2024-03-01&to=2024-03-31").json()
    assert [row["score"]["code"] for row in grid["rows"]] == ["23335"]


def test_web_roles_users_page_admin_only_publish_district_only(console: Console) -> None:
    for user, users_page, check in (("admin", 200, 400), ("dist", 403, 400), ("koi", 403, 403)):
        client = console.client(user)
        assert client.get("/users").status_code == users_page, user
        assert client.get("/api/v1/users").status_code == users_page, user
        answer = client.post("/api/v1/catalogue/check", headers={"X-CSRF-Token": client.csrf})  # type: ignore[attr-defined]
        assert answer.status_code == check, (user, answer.text)


def test_web_security_headers_on_every_answer(console: Console) -> None:
    client = console.client("dist")
    for path in ("/fleet", "/login", "/static/console.css", "/api/v1/stations", "/api/v1/openapi.json"):
        headers = client.get(path).headers
        assert headers["content-security-policy"].startswith("default-src 'self'"), path
        assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"


def test_web_english_switch_is_remembered(console: Console) -> None:
    client = console.client("dist")
    assert "Tổng quan" in client.get("/fleet").text
    assert "Overview" in client.get("/fleet?lang=en").text
    page = client.get("/compliance?from=2024-03-01&to=2024-03-31")
    assert "Frequency" in page.text and 'lang="en"' in page.text
    assert 'href="/compliance?from=2024-03-01&amp;to=2024-03-31&amp;lang=vi"' in page.text  # keeps the period


def test_web_cookies_are_secure_over_tls(console: Console) -> None:
    client = console.client(None)
    client.base_url = "https://127.0.0.1"  # type: ignore[assignment]
    page = client.get("/login")
    assert "Secure" in page.headers["set-cookie"]
    assert page.headers["strict-transport-security"].startswith("max-age=")


def test_web_login_next_never_leaves_the_site(console: Console) -> None:
    for target, expected in (("//evil.example/x", "/"), ("https://evil.example/", "/"), ("/compliance", "/compliance")):
        client = console.client(None)
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
        assert token
        answer = client.post("/login", data={"csrf": token.group(1), "name": "dist", "password": PASSWORD,
                                             "next": target}, follow_redirects=False)
        assert answer.headers["location"] == expected, target


def test_console_shuts_down_cleanly_after_serving_from_worker_threads(tmp_path: Path,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    """The stores opened in the thread pool are closed or left to the exit, never an error
    that makes the server's shutdown fail ("Application shutdown failed")."""
    console = make_console(tmp_path)
    client = console.client("admin")
    assert client.get("/api/v1/stations").status_code == 200
    client.__exit__(None, None, None)  # runs the lifespan's shutdown: must not raise
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
