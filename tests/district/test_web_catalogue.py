"""Danh mục and Báo cáo over HTTP: a broken upload lists its errors with line and key and
stores nothing; a good one shows each station's month and publishes through the form
(audited, same schedules as the CLI); the evidence zip downloaded from the API verifies
with a real ``radio-district verify``; uploads are size-capped."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_views_catalogue import BROKEN, GOOD
from views_testkit import KOI, RUONG, ViewsKit, make_views_kit
from web_kit import Console, make_console

from district_collector.accounts import service as accounts
from district_collector.store.opening import open_store

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


@pytest.fixture
def vk(tmp_path: Path) -> ViewsKit:
    return make_views_kit(tmp_path)


@pytest.fixture
def console(tmp_path: Path, vk: ViewsKit) -> Console:
    return make_console(tmp_path, vk.kit, NOW)


def _upload(client: object, path: str, name: str, data: bytes) -> object:
    return client.post(path, files={"file": (name, data, "application/yaml")},  # type: ignore[attr-defined]
                       data={"csrf": client.csrf})  # type: ignore[attr-defined]


def test_web_broken_catalogue_shows_errors_with_line_and_key(console: Console) -> None:
    client = console.client("dist")
    page = _upload(client, "/catalogue/check", "thang-12.yaml", BROKEN)
    assert page.status_code == 422  # type: ignore[attr-defined]
    rows = re.findall(r'<td data-field="line">(\d+)</td><td data-field="key"><code>([^<]+)</code>',
                      page.text)  # type: ignore[attr-defined]
    assert {("3", "segments[0].media"), ("5", "slots[0].at"), ("6", "slots[1].segment")} <= set(rows)
    assert 'id="publish-form"' not in page.text  # type: ignore[attr-defined]
    api = _upload(client, "/api/v1/catalogue/check", "thang-12.yaml", BROKEN)
    assert api.status_code == 422 and not api.json()["ok"]  # type: ignore[attr-defined]
    with open_store(console.kit.config) as store:
        assert store.published_schedules() == []
        audit = accounts.audit_log(store)
    assert [e.action for e in audit[:2]] == ["catalogue.upload", "catalogue.upload"]
    assert audit[0].actor == "web:dist" and audit[0].detail["ok"] is False


def test_web_good_catalogue_previews_then_publishes_through_the_form(console: Console) -> None:
    client = console.client("dist")
    page = _upload(client, "/catalogue/check", "thang-12.yaml", GOOD)
    assert page.status_code == 200, page.text  # type: ignore[attr-defined]
    text = page.text  # type: ignore[attr-defined]
    assert 'id="publish-form"' in text and f"{KOI} · 23335 · 9" in text and "Chuyển đổi số là gì?" in text
    payload = re.search(r'name="payload" value="([^"]+)"', text)
    assert payload
    done = client.post("/catalogue/publish", data={"csrf": client.csrf, "filename": "thang-12.yaml",  # type: ignore[attr-defined]
                                                   "payload": payload.group(1)})
    assert done.status_code == 200 and "Đã phát hành danh mục tháng 2026-12" in done.text
    with open_store(console.kit.config) as store:
        assert store.latest_schedule(KOI) is not None and store.latest_schedule(RUONG) is not None
        actions = [e.action for e in accounts.audit_log(store)]
    assert actions[:2] == ["catalogue.publish", "catalogue.upload"]
    pdf = client.get("/api/v1/catalogue.pdf?month=2026-12")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert client.get("/api/v1/catalogue.xlsx?month=2026-12").content.startswith(b"PK")
    assert client.get("/api/v1/catalogue.pdf?month=../../etc").status_code == 400


def test_web_publish_form_with_a_damaged_payload_is_refused(console: Console) -> None:
    client = console.client("dist")
    answer = client.post("/catalogue/publish", data={"csrf": client.csrf, "payload": "%%%"})  # type: ignore[attr-defined]
    assert answer.status_code == 400


def test_web_uploads_are_size_capped(console: Console) -> None:
    client = console.client("dist")
    answer = _upload(client, "/api/v1/catalogue/check", "big.yaml", b"#" * 5_000_000)
    assert answer.status_code == 413  # type: ignore[attr-defined]


def test_web_evidence_zip_from_the_api_verifies(console: Console, vk: ViewsKit, tmp_path: Path) -> None:
    vk.ingest(KOI, [vk.airing(KOI, f"2026-11-{d:02d} 06:30") for d in (3, 10, 17)])
    client = console.client("dist")
    answer = client.get("/api/v1/evidence.zip?from=2026-11-02&to=2026-11-29")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(answer.content)) as zf:
        zf.extractall(tmp_path / "unzipped")
    (folder,) = (tmp_path / "unzipped").iterdir()
    done = subprocess.run([sys.executable, "-m", "district_collector.cli", "verify", str(folder)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    pdf = client.get("/api/v1/report.pdf?from=2026-11-02&to=2026-11-29")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert client.get("/api/v1/report.xlsx?from=2026-11-02&to=2026-11-29").content.startswith(b"PK")
