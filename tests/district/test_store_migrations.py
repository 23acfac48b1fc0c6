"""``radio-district db migrate``: versioned schemas from an empty database and from the
previous version (rows kept), a database newer than the code refused, the collector
asking for ``db migrate``; SQLite recording its versions. Real PostgreSQL, real SQLite."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from mqtt_broker import DistrictKit, make_district
from pg_server import PgServer
from test_scoring_store import _events, _jsonl_report, _record

from district_collector.cli import main
from district_collector.config import load_district_config
from district_collector.scoring.period import Period
from district_collector.scoring.report import report_from_store, report_json
from district_collector.store.base import StoreError
from district_collector.store.migrations.pg_core import V1
from district_collector.store.migrations.runner import (
    VERSION_TABLE,
    SchemaAhead,
    SchemaBehind,
    code_versions,
)
from district_collector.store.opening import open_store
from district_collector.store.schema import SCHEMA
from district_collector.store.sqlite import NoStoreError

REPO = Path(__file__).resolve().parents[2]


def pg_config_path(config: Path, url: str, name: str = "district-pg.yaml") -> Path:
    """A copy of the district config ``config`` (beside it, as ``name``) whose ``database`` is ``url``."""
    text = config.read_text(encoding="utf-8")
    lines = [f"database: {url}" if line.startswith("database:") else line for line in text.splitlines()]
    path = config.with_name(name)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def pg_config(kit: DistrictKit, url: str) -> Path:
    return pg_config_path(kit.district_config, url)


def _all_behind() -> str:
    """What an empty database lacks, as the refusal lists it (every part, by name)."""
    return ", ".join(f"{part} 0 -> {version}" for part, version in sorted(code_versions().items()))


@pytest.fixture
def kit(tmp_path: Path) -> DistrictKit:
    return make_district(tmp_path / "d")


def test_db_migrate_creates_the_schema_the_collector_asks_for(kit: DistrictKit, pg_url: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = pg_config(kit, pg_url)
    config = load_district_config(path)
    with pytest.raises(SchemaBehind, match=re.escape(f"({_all_behind()}): run `radio-district -c CONFIG db migrate`")):
        open_store(config)
    with pytest.raises(NoStoreError, match="no collector tables"):
        open_store(config, read_only=True)
    assert main(["-c", str(path), "db", "migrate"]) == 0
    out = capsys.readouterr().out
    assert f"store {pg_url} (PostgreSQL)" in out and "core: schema 0 -> 2 (created)" in out
    assert main(["-c", str(path), "db", "migrate"]) == 0
    assert "core: schema 2 (up to date)" in capsys.readouterr().out
    with open_store(config) as store:
        assert store.count_events() == 0
    with open_store(config, read_only=True) as store, pytest.raises(StoreError, match="read-only"):
        store.add_schedule("dak-koi-01", 1, b"x", "a" * 64, datetime(2024, 3, 1, tzinfo=UTC))


def test_db_migrate_from_the_previous_version_keeps_every_row(kit: DistrictKit, pg_url: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    jws, _signers, registry = _events("+07:00", "2024-03-31T23:59:59.999+07:00")
    period = Period.parse("2024-03-01", "2024-03-31", "Asia/Ho_Chi_Minh")
    with psycopg.connect(pg_url) as conn:  # version 1: events without event_facts
        for statement in V1.split(";"):
            conn.execute(statement.encode())
        conn.execute(VERSION_TABLE)
        conn.execute("INSERT INTO schema_version VALUES ('core', 1)")
        for r in map(_record, jws):
            conn.execute("INSERT INTO events VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                         (r.station, r.seq, r.payload_sha256, r.jws, r.kid, "2024-06-01T00:00:00.000+00:00",
                          r.source, r.facts.started_at, r.facts.program, r.facts.outcome,
                          int(r.facts.clock_synced or 0), r.facts.slot, r.schedule_version, r.facts.prev))
    path = pg_config(kit, pg_url)
    with pytest.raises(SchemaBehind, match=r"core 1 -> 2"):
        open_store(load_district_config(path))
    assert main(["-c", str(path), "db", "migrate"]) == 0
    assert "core: schema 1 -> 2" in capsys.readouterr().out
    with open_store(load_district_config(path), read_only=True) as store:
        assert store.count_events() == len(jws)
        assert report_json(report_from_store(store, registry, period)) == _jsonl_report(jws, registry, period, [])
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT COUNT(*) FROM event_facts").fetchone() == (len(jws),)


def test_db_migrate_refuses_a_database_newer_than_the_code(kit: DistrictKit, pg_url: str,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = pg_config(kit, pg_url)
    assert main(["-c", str(path), "db", "migrate"]) == 0
    with psycopg.connect(pg_url) as conn:
        conn.execute("UPDATE schema_version SET version = 99 WHERE part = 'core'")
        conn.execute("INSERT INTO schema_version VALUES ('future-part', 1)")
    capsys.readouterr()
    assert main(["-c", str(path), "db", "migrate"]) == 1
    err = capsys.readouterr().err
    assert "newer than this program: core 99 (this code knows 2), future-part 1 (this code knows 0)" in err
    assert "Traceback" not in err
    with pytest.raises(SchemaAhead):
        open_store(load_district_config(path))
    with psycopg.connect(pg_url) as conn:  # left unchanged
        assert conn.execute("SELECT version FROM schema_version WHERE part = 'core'").fetchone() == (99,)


def test_db_migrate_on_sqlite_creates_upgrades_and_records_versions(tmp_path: Path, kit: DistrictKit,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    old = sqlite3.connect(kit.config.database)  # a store from before event_facts (user_version 0)
    old.executescript(SCHEMA)
    old.close()
    assert main(["-c", str(kit.district_config), "db", "migrate"]) == 0
    assert "core: schema 1 -> 2" in capsys.readouterr().out
    assert main(["-c", str(kit.district_config), "db", "migrate"]) == 0
    assert "core: schema 2 (up to date)" in capsys.readouterr().out
    db = sqlite3.connect(kit.config.database)
    assert dict(db.execute("SELECT part, version FROM schema_version").fetchall()) == code_versions()
    db.close()
    fresh = make_district(tmp_path / "fresh")
    assert main(["-c", str(fresh.district_config), "db", "migrate"]) == 0
    assert "core: schema 0 -> 2 (created)" in capsys.readouterr().out


def test_db_migrate_as_the_user_runs_it(kit: DistrictKit, pg_url: str) -> None:
    """The collector refuses a database it would have to migrate; ``db migrate`` does it."""
    path = pg_config(kit, pg_url)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "district_collector.cli", "-c", str(path), *args],
                              capture_output=True, text=True, timeout=120, env=env, check=False)

    refused = cli("run")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "core 0 -> 2" in refused.stderr
    assert f"schema is behind this program ({_all_behind()}): run `radio-district -c CONFIG db " \
        "migrate` first" in refused.stderr
    done = cli("db", "migrate")
    assert done.returncode == 0, done.stderr
    assert "core: schema 0 -> 2 (created)" in done.stdout


@pytest.mark.parametrize(("url", "message"), [
    ("postgresql://collector:s3cret-pw@db.example/commune_radio", "holds a password"),
    ("postgresql://collector@db.example/", "names no database"),
])
def test_config_refuses_a_postgres_url_it_cannot_use(kit: DistrictKit, url: str, message: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = pg_config(kit, url)
    assert main(["-c", str(path), "db", "migrate"]) == 1
    err = capsys.readouterr().err
    assert message in err and "database" in err
    assert "s3cret-pw" not in err


def test_database_password_file_is_used_and_checked(kit: DistrictKit, pg_server: PgServer,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A role with a password (scram over TCP): the password comes from database_password_file,
    which check wants 0600; no message shows it."""
    url = pg_server.new_database()
    with psycopg.connect(pg_server.url("postgres"), autocommit=True) as conn:
        conn.execute("CREATE ROLE collector LOGIN PASSWORD 'pw-9f8e7d'")
        conn.execute(f"ALTER DATABASE {url.rsplit('/', 1)[1]} OWNER TO collector")
    secret = kit.root / "database.password"
    secret.write_text("pw-9f8e7d\n", encoding="utf-8")
    secret.chmod(0o644)
    path = pg_config(kit, url.replace("postgres@", "collector@"))
    path.write_text(path.read_text(encoding="utf-8") + f"database_password_file: {secret}\n", encoding="utf-8")
    assert main(["-c", str(path), "check"]) == 1
    assert "database_password_file" in capsys.readouterr().out + capsys.readouterr().err
    secret.chmod(0o600)
    secret.write_text("wrong-pw-1\n", encoding="utf-8")
    assert main(["-c", str(path), "db", "migrate"]) == 1
    err = capsys.readouterr().err
    assert "cannot connect to the store" in err and "wrong-pw-1" not in err and "Traceback" not in err
    secret.write_text("pw-9f8e7d\n", encoding="utf-8")
    assert main(["-c", str(path), "db", "migrate"]) == 0
    out = capsys.readouterr()
    assert "core: schema 0 -> 2 (created)" in out.out and "pw-9f8e7d" not in out.out + out.err
    with open_store(load_district_config(path)) as store:
        assert store.count_events() == 0


def test_db_copy_of_a_store_older_than_event_facts_fills_them(kit: DistrictKit, pg_url: str, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    jws, _signers, registry = _events("+07:00", "2024-03-31T23:59:59.999+07:00")
    period = Period.parse("2024-03-01", "2024-03-31", "Asia/Ho_Chi_Minh")
    old = tmp_path / "old.sqlite3"
    db = sqlite3.connect(old)  # as written before event_facts existed
    db.executescript(SCHEMA)
    for r in map(_record, jws):
        db.execute("INSERT OR IGNORE INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                   (r.station, r.seq, r.payload_sha256, r.jws, r.kid, "2024-06-01T00:00:00.000+00:00", r.source,
                    r.facts.started_at, r.facts.program, r.facts.outcome, int(r.facts.clock_synced or 0),
                    r.facts.slot, r.schedule_version, r.facts.prev))
    db.commit()
    db.close()
    path = pg_config(kit, pg_url)
    assert main(["-c", str(path), "db", "copy", "--from", str(old)]) == 0
    out = capsys.readouterr().out
    assert f"event_facts filled from {len(jws)} events" in out and "verified:" in out
    with open_store(load_district_config(path), read_only=True) as store:
        assert report_json(report_from_store(store, registry, period)) == _jsonl_report(jws, registry, period, [])
    extra = sqlite3.connect(old)  # a table this version's PostgreSQL schema does not have
    extra.execute("CREATE TABLE from_the_future (x INTEGER)")
    extra.commit()
    extra.close()
    assert main(["-c", str(path), "db", "copy", "--from", str(old), "--force"]) == 1
    assert "has no table from_the_future" in capsys.readouterr().err
    assert main(["-c", str(kit.district_config), "db", "copy", "--from", str(old)]) == 1
    assert "db copy copies INTO PostgreSQL" in capsys.readouterr().err
