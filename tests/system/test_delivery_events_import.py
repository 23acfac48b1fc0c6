"""The station's hand-carry file and live delivery leave the district's store the same.

A real outbox is delivered live by the real station link through a real Mosquitto to the
real collector; then ``radio-station events`` (the file carried on a USB stick when there
is no network) is imported with ``radio-district import``: into the live store it changes
nothing, into an empty store it gives the same rows as live delivery.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from mqtt_broker import BrokerEnv
from test_link_support import (
    REPO,
    append_events,
    make_link,
    open_outbox,
    write_station_config,
)
from waiting import wait_until

from district_collector.cli import main as district_main
from district_collector.intake.service import CollectorService
from district_collector.store.sqlite import SqliteStore
from firmware_daemon.config import load_station_config

KOI = "dak-koi-01"


def test_import_of_station_events_output_equals_live_delivery(
        mqtt_env: BrokerEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A real outbox delivered live by the real link; then ``radio-station events`` (the USB
    hand-carry file) imported into the live store (nothing changes) and into an empty
    store (the same rows as live delivery)."""
    config_path = write_station_config(mqtt_env, tmp_path / "st")
    config = load_station_config(config_path)
    outbox = open_outbox(config)
    append_events(outbox, 40)
    service = CollectorService(mqtt_env.config, mqtt_env.district_signer)
    service.start()
    assert service.connected.wait(5)
    link = make_link(config, outbox)
    link.start()
    try:
        wait_until(lambda: outbox.pending_count() == 0, 15, "live delivery")
    finally:
        link.stop()
        service.stop()
        outbox.close()
    export = tmp_path / "station-events.jsonl"
    export.write_bytes(subprocess.run(
        [sys.executable, "-m", "firmware_daemon.cli", "-c", str(config_path), "events"], capture_output=True,
        check=True, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO))).stdout)

    def rows(db: Path) -> tuple[list[tuple[object, ...]], object, object]:
        with SqliteStore(db) as store:
            return ([(r.station, r.seq, r.payload_sha256, r.jws, r.kid, r.facts.started_at, r.facts.program,
                      r.facts.outcome, r.facts.clock_synced, r.facts.slot, r.schedule_version, r.facts.prev)
                     for r in store.iter_events()],
                    store.ack_position(KOI), store.seq_summary(KOI))
    live = rows(mqtt_env.config.database)
    assert len(live[0]) == 40 and live[1] == (40, [])
    assert district_main(["-c", str(mqtt_env.district_config), "import", str(export)]) == 0
    assert capsys.readouterr().out.strip() == "accepted=0 duplicate=40 conflict=0 rejected=0"
    assert rows(mqtt_env.config.database) == live
    fresh = yaml.safe_load(mqtt_env.district_config.read_text(encoding="utf-8"))
    fresh["database"] = str(tmp_path / "fresh.sqlite3")
    fresh_config = tmp_path / "fresh.yaml"
    fresh_config.write_text(yaml.safe_dump(fresh, allow_unicode=True), encoding="utf-8")
    for expected in ("accepted=40 duplicate=0", "accepted=0 duplicate=40"):  # twice: nothing changes
        assert district_main(["-c", str(fresh_config), "import", str(export)]) == 0
        assert capsys.readouterr().out.strip() == f"{expected} conflict=0 rejected=0"
        assert rows(tmp_path / "fresh.sqlite3") == live
