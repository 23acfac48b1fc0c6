"""The console's reads give the same answers on PostgreSQL as on SQLite: one district, the
same signed messages ingested by the real ``Ingestor`` into a SQLite store and into a
PostgreSQL store (status changes, an interrupted airing, gaps, a chain break, a conflict,
a quarantined message, a published schedule); then ``fleet()``, ``station_detail()`` and
the console's ``/api/v1/stations`` (Starlette TestClient, logged in) compared as JSON; and
the same once the SQLite store is moved to PostgreSQL by ``db copy``."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from store_backends import StoreBackend, migrated_database
from views_testkit import KOI, RUONG, ViewsKit, local, make_views_kit
from web_kit import PASSWORD, login

from district_collector.accounts import service as accounts
from district_collector.cli import main
from district_collector.config import DistrictConfig, load_district_config
from district_collector.intake.ingest import Ingestor
from district_collector.store.opening import open_store
from district_collector.views.catalogue import publish_upload
from district_collector.views.common import to_json
from district_collector.views.fleet import fleet
from district_collector.views.station import station_detail
from district_collector.web.app import create_app
from radio_protocol.clock import SimulatedClock
from radio_protocol.topics import topic

NOW = datetime(2026, 12, 20, 5, 0, tzinfo=UTC)
CATALOGUE = """month: 2026-12
segments:
  - {id: dec-a, title: "Chuyển đổi số là gì?", program: chuyen-doi-so, media: a.wav}
slots:
  - {segment: dec-a, every: [monday, thursday], at: "06:30"}
""".encode()


def _messages(vk: ViewsKit) -> list[tuple[str, str, bytes, datetime]]:
    """(station, kind, message, received_at), in ingest order."""
    koi = [vk.airing(KOI, f"2026-12-{d:02d} 06:30") for d in range(1, 7)]
    koi.append(vk.airing(KOI, "2026-12-07 06:30", outcome="interrupted", reason="shutdown", played_s=12.5))
    forked, _ = vk.kit.event(KOI, 9, "ab" * 32, outcome="interrupted", reason="shutdown")  # seq 8 missing: a gap
    other3, _ = vk.kit.event(KOI, 3, None, outcome="failed", reason="audio-device")  # a conflict and a break
    at = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
    out = [(KOI, "event", m, at) for m in koi[:2] + koi[3:] + [forked, other3]]
    out.append((KOI, "event", koi[2], datetime(2026, 12, 7, 2, 0, tzinfo=UTC)))
    out.append((RUONG, "event", vk.airing(RUONG, "2026-12-02 06:30"), at))
    out.append((RUONG, "event", b"{not a jws", at))  # quarantined
    for n, (state, hour) in enumerate((("online", 1), ("offline", 2), ("offline", 3), ("online", 4))):
        out.append((KOI, "status", vk.status(KOI, state, f"2026-12-08 0{hour}:00", schedule_version=1,
                                            clock_synced=True), datetime(2026, 12, 8, hour, n, tzinfo=UTC)))
    out.append((RUONG, "status", vk.status(RUONG, "online", "2026-12-08 09:00", schedule_version=None,
                                          media_missing=("dec-a",), clock_synced=False),
                datetime(2026, 12, 8, 2, 0, tzinfo=UTC)))
    return out


def _fill(config: DistrictConfig, messages: list[tuple[str, str, bytes, datetime]]) -> None:
    with open_store(config) as store:
        publish_upload(config, store, "c.yaml", CATALOGUE, actor="t", send=False,
                       now=datetime(2026, 11, 20, tzinfo=UTC))
        ingestor = Ingestor(config, store)
        for station, kind, message, received_at in messages:
            ingestor.ingest([(topic(config.district.id, station, kind), message, "mqtt")], received_at)
        accounts.create_user(store, config, "dist", "district", None, PASSWORD, "cli:test")


def _answers(config_path: Path) -> dict[str, Any]:
    config = load_district_config(config_path)
    with open_store(config, read_only=True) as store:
        rows = [to_json(r) for r in fleet(store, config, NOW)]
        details = {s: station_detail(store, config, s, date(2026, 12, 1), date(2026, 12, 31), local("2026-12-20 12:00"))
                   for s in (KOI, RUONG)}
        aggregates = store.station_aggregates()
        history = store.status_log(KOI)
        cursors = [(r.cursor, r.jws) for r in store.events_after(0)], store.event_cursor()
    client = TestClient(create_app(config_path, clock=SimulatedClock(NOW)), base_url="http://127.0.0.1")
    client.__enter__()
    try:
        login(client, "dist", PASSWORD)
        answer = client.get("/api/v1/stations")
        assert answer.status_code == 200, answer.text
        api = answer.json()
    finally:
        if config.database_url is not None:  # closes the console's PostgreSQL pools; SQLite stores are
            client.__exit__(None, None, None)  # left open, as in web_kit (they belong to the app's thread)
    return {"fleet": rows, "details": {s: d.as_json() for s, d in details.items() if d is not None},
            "aggregates": aggregates, "history": history, "api": api, "cursors": cursors}


def test_fleet_station_and_api_answer_the_same_on_postgres_as_on_sqlite(tmp_path: Path, pg_server: Any,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    vk = make_views_kit(tmp_path)
    messages = _messages(vk)
    pg_path = vk.kit.district_config.with_name("district-pg.yaml")
    pg_path.write_text(vk.kit.district_config.read_text(encoding="utf-8"), encoding="utf-8")
    pg_config = StoreBackend("postgres", migrated_database(pg_server)).configure_file(pg_path)
    _fill(vk.config, messages)
    _fill(pg_config, messages)
    sqlite, postgres = _answers(vk.kit.district_config), _answers(pg_path)
    koi = sqlite["aggregates"][KOI]
    assert (koi.last_seq, koi.gaps, koi.chain_breaks, koi.conflicts, koi.last_outcome) == (9, 1, 1, 1, "interrupted")
    assert sqlite["aggregates"][RUONG].quarantined == 1
    assert [h.state for h in sqlite["history"]] == ["online", "offline", "online"]
    assert len(sqlite["api"]["stations"]) == 2 and sqlite["details"][KOI]["status_history"]
    assert koi.last_jws is not None and sqlite["fleet"][0]["last_airing"]["reason"] == "shutdown"
    assert postgres == sqlite
    # moved by `db copy` (verified), the PostgreSQL store answers the same too; also from a
    # SQLite store older than the fleet tables (db copy fills them from the events)
    older = tmp_path / "older.sqlite3"
    shutil.copy(vk.config.database, older)
    db = sqlite3.connect(older)
    db.execute("DROP TABLE seq_problems")
    db.execute("DROP TABLE station_last")
    db.commit()
    db.close()
    for n, source in enumerate((vk.config.database, older)):
        copy_path = vk.kit.district_config.with_name(f"district-copy{n}.yaml")
        copy_path.write_text(vk.kit.district_config.read_text(encoding="utf-8"), encoding="utf-8")
        StoreBackend("postgres", migrated_database(pg_server)).configure_file(copy_path)
        assert main(["-c", str(copy_path), "db", "copy", "--from", str(source)]) == 0
        assert "verified:" in capsys.readouterr().out
        assert _answers(copy_path) == sqlite, source
