"""``schedule show``: a station that is offline or never seen is a problem, not "ok"."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from mqtt_broker import DistrictKit, make_district
from store_backends import StoreBackend

from district_collector.cli import main as district_main
from district_collector.intake.ingest import Ingestor
from district_collector.store.opening import open_store
from radio_protocol.messages.status import Status, build_status
from radio_protocol.names import STATUS_TYP
from radio_protocol.timefmt import parse_rfc3339

KOI = "dak-koi-01"
RUONG = "dak-ruong-01"


def _status(kit: DistrictKit, station: str, state: str, version: int | None) -> tuple[str, bytes, str]:
    jws = kit.stations[station].signer.sign(build_status(Status(
        station, state, parse_rfc3339("2024-03-05T07:00:00.000+07:00"), schedule_version=version,
        outbox_pending=0, last_seq=0)), STATUS_TYP)
    return f"cr/v1/kon-ray/station/{station}/status", jws, "mqtt"


def _show(kit: DistrictKit, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    assert district_main(["-c", str(kit.district_config), "schedule", "show"]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    return {line.split()[0]: line for line in lines}


def test_schedule_show_offline_and_unseen_stations_are_problems(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], store_backend: StoreBackend) -> None:
    kit = make_district(tmp_path)
    kit.config = store_backend.configure_file(kit.district_config)
    with open_store(kit.config) as store:
        store.add_schedule(KOI, 1, b"{}", "x", parse_rfc3339("2024-03-01T08:00:00+07:00"))
        store.add_schedule(RUONG, 2, b"{}", "y", parse_rfc3339("2024-03-01T08:00:00+07:00"))
        Ingestor(kit.config, store).ingest([_status(kit, KOI, "offline", 1), _status(kit, RUONG, "offline", 1)],
                                           datetime(2024, 3, 5, 0, 0, tzinfo=UTC))
    rows = _show(kit, capsys)
    assert not rows[KOI].endswith(" ok") and not rows[RUONG].endswith(" ok")
    assert "offline since 2024-03-05 07:00: nothing heard from it until it reconnects" in rows[KOI]
    assert "offline since 2024-03-05 07:00: gets version 2 when it reconnects" in rows[RUONG]
    assert "not yet applied" in rows[RUONG]


def test_schedule_show_never_seen_station_is_a_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        store_backend: StoreBackend) -> None:
    kit = make_district(tmp_path)
    kit.config = store_backend.configure_file(kit.district_config)
    with open_store(kit.config) as store:
        Ingestor(kit.config, store).ingest([_status(kit, KOI, "online", None)], datetime(2024, 3, 5, tzinfo=UTC))
    rows = _show(kit, capsys)
    assert rows[KOI].endswith(" ok")
    assert rows[RUONG].endswith("never seen (no status received)")
