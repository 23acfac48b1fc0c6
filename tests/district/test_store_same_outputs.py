"""The same events give byte-identical ``report`` and ``evidence`` output on SQLite and on
PostgreSQL (every bundle file, report.pdf/.xlsx and the signed manifest included: the
documents are dated by the bundle's generated_at), whether ingested into PostgreSQL directly
or moved there by ``db copy`` (which verifies itself and refuses a non-empty target without --force)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pg_server import PgServer
from test_evidence_support import PERIOD, District, build_district
from test_store_migrations import pg_config_path

from district_collector.cli import main
from district_collector.commands import report as commands_report
from district_collector.config import load_district_config
from district_collector.intake.importer import import_files
from district_collector.store.opening import open_store
from radio_protocol.clock import SimulatedClock

ARGS = ["--from", PERIOD[0], "--to", PERIOD[1]]


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundle's generated_at from one clock, so two runs can be compared byte for byte."""
    monkeypatch.setattr(commands_report, "default_clock", lambda: SimulatedClock(datetime(2024, 12, 11, tzinfo=UTC)))


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> District:
    return build_district(tmp_path_factory.mktemp("district"))


def _migrated(pg_server: PgServer, d: District, name: str) -> Path:
    path = pg_config_path(d.config_path, pg_server.new_database(), name)
    assert main(["-c", str(path), "db", "migrate"]) == 0
    return path


def _ingest_again(d: District, config_path: Path) -> None:
    """What build_district stored in SQLite, ingested into the store of ``config_path``:
    the same events file through the real importer, the same published schedules."""
    cfg = load_district_config(config_path)
    src = sqlite3.connect(d.database)
    schedules = src.execute("SELECT station, version, jws, payload_sha256, published_at FROM schedules").fetchall()
    src.close()
    with open_store(cfg) as store:
        counts = import_files(cfg, store, [d.config_path.parent / "station-events.jsonl"],
                              clock=SimulatedClock(datetime(2024, 12, 11, tzinfo=UTC)))
        assert counts["rejected"] == 0, counts
        for station, version, jws, sha, published in schedules:
            store.add_schedule(station, version, bytes(jws), sha, datetime.fromisoformat(published))


def _outputs(config_path: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, bytes]:
    """Every output of report (table, JSON, CSV, with airings) and evidence (each file)."""
    got: dict[str, bytes] = {}
    capsys.readouterr()
    for fmt in ("table", "json", "csv"):
        assert main(["-c", str(config_path), "report", *ARGS, "--format", fmt]) == 0
        got[f"report.{fmt}"] = capsys.readouterr().out.encode()
    assert main(["-c", str(config_path), "report", *ARGS, "--format", "json", "--airings"]) == 0
    got["report-airings.json"] = capsys.readouterr().out.encode()
    assert main(["-c", str(config_path), "report", *ARGS, "--format", "json", "--airings",
                 "--stations", "dak-koi-01,dak-ruong-01"]) == 0
    got["report-stations.json"] = capsys.readouterr().out.encode()
    for lang in ("vi", "en"):
        bundle = out / f"evidence-{lang}"
        assert main(["-c", str(config_path), "evidence", *ARGS, "--out", str(bundle), "--lang", lang]) == 0
        for file in sorted(p for p in bundle.rglob("*") if p.is_file()):
            got[f"{lang}/{file.relative_to(bundle)}"] = file.read_bytes()
    capsys.readouterr()
    return got


def test_report_and_evidence_are_byte_identical_on_both_stores(district: District, pg_server: PgServer,
                                                              tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    pg_path = _migrated(pg_server, district, "district-pg.yaml")
    _ingest_again(district, pg_path)
    on_sqlite = _outputs(district.config_path, tmp_path / "sqlite", capsys)
    on_pg = _outputs(pg_path, tmp_path / "pg", capsys)
    assert sorted(on_pg) == sorted(on_sqlite) and len(on_sqlite) > 8
    assert [name for name, data in on_sqlite.items() if on_pg[name] != data] == []
    assert b"dak-ruong-01" in on_sqlite["report.json"]
    assert on_sqlite["vi/report.pdf"].startswith(b"%PDF") and on_sqlite["en/report.xlsx"].startswith(b"PK")


def test_db_copy_moves_a_district_verified(district: District, pg_server: PgServer, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    pg_path = pg_config_path(district.config_path, pg_server.new_database(), "district-copy.yaml")
    capsys.readouterr()
    assert main(["-c", str(pg_path), "db", "copy", "--from", str(district.database)]) == 0
    out = capsys.readouterr().out
    events = sqlite3.connect(district.database).execute("SELECT COUNT(*) FROM events").fetchone()[0]
    assert "migrated" in out and f"copied {district.database} -> postgresql://postgres@127.0.0.1" in out
    assert f"verified: rows per table equal, {events} events with equal JWS SHA-256, ack positions of 3 " \
           "stations equal" in out
    assert "event_facts" in out and "schedules" in out
    # a second copy into the now non-empty database is refused, and changes nothing
    assert main(["-c", str(pg_path), "db", "copy", "--from", str(district.database)]) == 1
    err = capsys.readouterr().err
    assert "already holds rows" in err and "--force" in err
    assert main(["-c", str(pg_path), "db", "copy", "--from", str(district.database), "--force"]) == 0
    assert "verified:" in capsys.readouterr().out
    assert _outputs(pg_path, tmp_path / "pg", capsys) == _outputs(district.config_path, tmp_path / "sqlite", capsys)
    with open_store(load_district_config(pg_path)) as store:  # quarantine ids continue after the copied ones
        assert store.count_events() == events
