"""Read-only commands (stations, report, evidence, schedule show) never create a store.

Before the collector has run there is no store: they say so and create nothing (no file,
no directory). With a store they read it without writing to it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from mqtt_broker import DistrictKit, make_district

from district_collector.cli import main as district_main
from district_collector.intake.ingest import Ingestor
from district_collector.store.sqlite import NoStoreError, SqliteStore

READ_ONLY = [["stations"], ["report"], ["schedule", "show"], ["evidence", "--out", "EV"]]


def _kit_with_database_in(tmp_path: Path, where: Path) -> DistrictKit:
    kit = make_district(tmp_path)
    data = yaml.safe_load(kit.district_config.read_text(encoding="utf-8"))
    data["database"] = str(where / "collector.sqlite3")
    kit.district_config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return kit


@pytest.mark.parametrize("command", READ_ONLY, ids=lambda c: c[0] + (f"-{c[1]}" if c[1:2] == ["show"] else ""))
def test_readonly_command_without_store_says_so_and_creates_nothing(
        tmp_path: Path, command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "var-lib"  # as /var/lib/commune-radio-district in the example config
    kit = _kit_with_database_in(tmp_path, state)
    argv = [a.replace("EV", str(tmp_path / "ev")) for a in command]
    assert district_main(["-c", str(kit.district_config), *argv]) == 1
    err = capsys.readouterr().err
    assert f"no store at {state / 'collector.sqlite3'} (the collector has not run yet)" in err
    assert not state.exists()
    assert not (tmp_path / "ev").exists()


def test_readonly_open_of_existing_store_writes_nothing(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    kit = make_district(tmp_path)
    with SqliteStore(kit.config.database) as store:
        Ingestor(kit.config, store).ingest(
            [("cr/v1/kon-ray/station/dak-koi-01/event", jws, "mqtt") for jws in kit.chain("dak-koi-01", 3)],
            datetime.now(UTC))
    database = kit.config.database
    before = database.read_bytes()
    others = sorted(p.name for p in database.parent.iterdir() if not p.name.startswith(database.name))
    assert district_main(["-c", str(kit.district_config), "stations"]) == 0
    assert district_main(["-c", str(kit.district_config), "schedule", "show"]) == 0
    assert "dak-koi-01" in capsys.readouterr().out
    assert database.read_bytes() == before  # SQLite's -wal/-shm files aside, nothing written
    assert sorted(p.name for p in database.parent.iterdir() if not p.name.startswith(database.name)) == others


def test_readonly_open_of_a_file_that_is_not_a_store(tmp_path: Path) -> None:
    empty = tmp_path / "collector.sqlite3"
    empty.write_bytes(b"")
    with pytest.raises(NoStoreError, match="no store at .* the collector has not run yet"):
        SqliteStore.open_read_only(empty)
    assert empty.read_bytes() == b""
