"""The fleet view on a store filled by real ingest (SQLite and PostgreSQL): online from the signed status and the
Last Will, last airing, schedule published vs applied, evidence problems, commune filter,
and the store's whole-fleet aggregates agreeing with its per-station seq summary."""

from __future__ import annotations

import json
import random
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from store_backends import StoreBackend
from views_testkit import KOI, KOI_COMMUNE, RUONG, RUONG_COMMUNE, ViewsKit, local, make_views_kit

from district_collector.cli import main
from district_collector.config import load_district_config
from district_collector.intake.ingest import Ingestor
from district_collector.store.migrations.runner import SchemaBehind
from district_collector.store.opening import open_store
from district_collector.store.sqlite import SqliteStore
from district_collector.views.catalogue import publish_upload, rollout
from district_collector.views.common import to_json
from district_collector.views.fleet import fleet, fleet_json
from radio_protocol.errors import ConfigError

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
CATALOGUE = b"""month: 2026-12
segments:
  - {id: dec-a, title: "Chuy\xe1\xbb\x83n \xc4\x91\xe1\xbb\x95i s\xe1\xbb\x91", program: chuyen-doi-so, media: a.wav}
slots:
  - {segment: dec-a, every: [monday, thursday], at: "06:30"}
"""


@pytest.fixture
def vk(tmp_path: Path, store_backend: StoreBackend) -> ViewsKit:
    return make_views_kit(tmp_path, store_backend)


def test_online_from_status_offline_from_last_will_and_last_airing(vk: ViewsKit) -> None:
    vk.ingest(KOI, [vk.airing(KOI, "2026-12-01 06:30"), vk.airing(KOI, "2026-12-02 06:30", outcome="interrupted",
                                                                  reason="shutdown")])
    vk.ingest(KOI, [vk.status(KOI, "online", "2026-12-02 07:00", schedule_version=None, outbox_pending=0,
                              clock_synced=True)], "status", datetime(2026, 12, 2, 0, 0, tzinfo=UTC))
    with vk.open() as store:
        rows = {r.id: r for r in fleet(store, vk.config, NOW)}
    koi, ruong = rows[KOI], rows[RUONG]
    assert (koi.online, koi.state, koi.commune, koi.commune_name) == (True, "ok", KOI_COMMUNE, "Xã Đăk Kôi")
    assert koi.last_seen_at == local("2026-12-02 07:00")
    assert koi.last_airing is not None
    assert koi.last_airing.started_at == local("2026-12-02 06:30:00.040")
    assert (koi.last_airing.outcome, koi.last_airing.reason) == ("interrupted", "shutdown")
    assert koi.last_airing.title == "Chuyển đổi số là gì?" and koi.last_airing.program == "chuyen-doi-so"
    assert (ruong.online, ruong.state, ruong.last_airing, ruong.last_seen_at) == (None, "never-seen", None, None)
    # the Last Will: an offline status the station signed beforehand
    vk.ingest(KOI, [vk.status(KOI, "offline", "2026-12-02 07:00")], "status", datetime(2026, 12, 3, 1, 0, tzinfo=UTC))
    with vk.open() as store:
        koi = {r.id: r for r in fleet(store, vk.config, NOW)}[KOI]
        assert (koi.online, koi.state) == (False, "offline")  # the kept row was rebuilt
        assert json.loads(fleet_json(store, vk.config, NOW)) == [r.as_json() for r in fleet(store, vk.config, NOW)]
        assert koi.since == datetime(2026, 12, 3, 1, 0, tzinfo=UTC)
        history = store.status_log(KOI)
    assert [h.state for h in history] == ["online", "offline"]
    json_row = koi.as_json()
    assert json_row == to_json(koi)  # the written-out as_json is the generic one
    assert json_row["online"] is False and json_row["last_airing"]["started_at"] == "2026-12-02T06:30:00.040+07:00"


def test_schedule_published_vs_applied_and_media_missing(vk: ViewsKit) -> None:
    with vk.open() as store:
        result = publish_upload(vk.config, store, "thang-12.yaml", CATALOGUE, actor="tester", send=False, now=NOW)
    assert [(p.station, p.version) for p in result.stations] == [(KOI, 1), (RUONG, 1)]
    vk.ingest(KOI, [vk.status(KOI, "online", "2026-12-03 08:00", schedule_version=1, clock_synced=True)], "status")
    vk.ingest(RUONG, [vk.status(RUONG, "online", "2026-12-03 08:00", schedule_version=None,
                                media_missing=("dec-a",), clock_synced=False)], "status")
    with vk.open() as store:
        rows = {r.id: r for r in fleet(store, vk.config, NOW)}
        roll = {r.station: r for r in rollout(store, vk.config)}
    assert (rows[KOI].schedule_published, rows[KOI].schedule_applied, rows[KOI].state) == (1, 1, "ok")
    ruong = rows[RUONG]
    assert (ruong.schedule_published, ruong.schedule_applied, ruong.state) == (1, None, "warning")
    assert ruong.media_missing == ("dec-a",) and ruong.clock_synced is False
    assert roll[KOI].up_to_date and not roll[RUONG].up_to_date and roll[RUONG].media_missing == ("dec-a",)


def test_problems_match_the_seq_summary_and_survive_a_rebuilt_table(vk: ViewsKit, store_backend: StoreBackend,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    chain = [vk.airing(KOI, f"2026-12-01 0{h}:00") for h in range(1, 9)]
    forked, _ = vk.kit.event(KOI, 9, "ab" * 32)  # prev does not match seq 8: a chain break
    other3, _ = vk.kit.event(KOI, 3, None, outcome="failed", reason="audio-device")  # a conflict, a break
    vk.ingest(KOI, [chain[i] for i in (0, 1, 2, 5, 7)] + [forked, other3])  # gaps 4-5 and 7
    with vk.open() as store:
        summary = store.seq_summary(KOI)
        agg = store.station_aggregates()[KOI]
        row = {r.id: r for r in fleet(store, vk.config, NOW)}[KOI]
    assert (summary.gaps, summary.chain_breaks, summary.conflicts) == (((4, 5), (7, 7)), (3, 9), (3,))
    assert (agg.last_seq, agg.gaps, agg.chain_breaks, agg.conflicts) == (9, 2, 2, 1)
    assert (row.problems.gaps, row.problems.chain_breaks, row.problems.conflicts) == (2, 2, 1)
    # filling the gaps heals them; seqs 3 and 9 stay breaks
    vk.ingest(KOI, [chain[3], chain[4], chain[6]])
    with vk.open() as store:
        agg = store.station_aggregates()[KOI]
    assert (agg.gaps, agg.chain_breaks, agg.conflicts) == (0, 2, 1)
    if store_backend.name == "sqlite":  # a store from before the tables: filled once on opening
        db = sqlite3.connect(vk.config.database)
        db.execute("DROP TABLE seq_problems")
        db.execute("DROP TABLE station_last")
        db.close()
        with SqliteStore.open_read_only(vk.config.database) as store:
            assert store.station_aggregates()[KOI] == agg  # computed from the events
    else:  # a database migrated before the tables: `db migrate` fills them from the events
        assert store_backend.url is not None
        with psycopg.connect(store_backend.url) as conn:
            conn.execute("DROP TABLE seq_problems, station_last")
            conn.execute("DELETE FROM schema_version WHERE part = 'fleet'")
        with pytest.raises(SchemaBehind, match="fleet 0 -> 1"):
            vk.open()
        assert main(["-c", str(vk.kit.district_config), "db", "migrate"]) == 0
        assert "fleet: schema 0 -> 1" in capsys.readouterr().out
    with vk.open() as store:
        assert store.station_aggregates()[KOI] == agg


def test_problems_kept_at_ingest_agree_with_the_seq_summary_in_any_order(vk: ViewsKit) -> None:
    """Batches out of order, forks and conflicts: the kept counts equal a full recount."""
    chain = [vk.airing(KOI, f"2026-12-01 {h:02d}:00") for h in range(12)]
    fork6, _ = vk.kit.event(KOI, 6, "cd" * 32)
    again1, _ = vk.kit.event(KOI, 1, None, outcome="missed", reason="station-down", started_at=None)
    rng = random.Random(7)
    order = chain + [fork6, again1]
    rng.shuffle(order)
    with vk.open() as store:
        ing = Ingestor(vk.config, store)
        for start in range(0, len(order), 3):
            ing.ingest([(f"cr/v1/kon-ray/station/{KOI}/event", e, "mqtt") for e in order[start:start + 3]],
                       datetime.now(UTC))
            summary, agg = store.seq_summary(KOI), store.station_aggregates()[KOI]
            assert (agg.gaps, agg.chain_breaks, agg.conflicts) == (
                len(summary.gaps), len(summary.chain_breaks), len(summary.conflicts)), start
            assert (agg.last_seq, agg.last_started_at) == (summary.last_seq, store.last_airing(KOI)), start
    assert (agg.gaps, agg.chain_breaks, agg.conflicts) == (0, 1, 2)  # the fork at seq 6; conflicts at 1 and 6


def test_problems_kept_by_writers_at_once_agree_with_the_seq_summary(vk: ViewsKit) -> None:
    """Two writers (two store connections, two threads) storing one station's chain and its
    statuses out of order at once: the kept problems, last airing and status log equal
    what one writer would keep (the batch locks cover the fleet tables)."""
    chain = [vk.airing(KOI, f"2026-12-02 {h:02d}:00") for h in range(16)]
    fork9, _ = vk.kit.event(KOI, 9, "ef" * 32)
    order = chain + [fork9]
    random.Random(11).shuffle(order)
    states = [vk.status(KOI, ("online", "offline")[n % 2], f"2026-12-02 {n:02d}:30") for n in range(6)]
    errors: list[BaseException] = []

    def write(part: list[bytes], kind: str) -> None:
        try:
            with vk.open() as store:
                ing = Ingestor(vk.config, store)
                for m in part:
                    ing.ingest([(f"cr/v1/kon-ray/station/{KOI}/{kind}", m, "mqtt")], datetime.now(UTC))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(order[0::2], "event")),
               threading.Thread(target=write, args=(order[1::2], "event")),
               threading.Thread(target=write, args=(states, "status"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors and not any(t.is_alive() for t in threads)
    with vk.open() as store:
        summary, agg = store.seq_summary(KOI), store.station_aggregates()[KOI]
        assert (agg.gaps, agg.chain_breaks, agg.conflicts) == (
            len(summary.gaps), len(summary.chain_breaks), len(summary.conflicts)) == (0, 1, 1)
        assert (agg.last_seq, agg.last_started_at) == (16, store.last_airing(KOI))
        assert [h.state for h in store.status_log(KOI)] == ["online", "offline"] * 3


def test_commune_filter_never_returns_another_communes_station(vk: ViewsKit) -> None:
    vk.ingest(RUONG, [vk.airing(RUONG, "2026-12-01 06:30")])
    with vk.open() as store:
        assert [r.id for r in fleet(store, vk.config, NOW, communes=[KOI_COMMUNE])] == [KOI]
        assert [r.id for r in fleet(store, vk.config, NOW, communes=[RUONG_COMMUNE])] == [RUONG]
        assert fleet(store, vk.config, NOW, communes=[]) == []
        assert [r.station for r in rollout(store, vk.config, communes=[KOI_COMMUNE])] == [KOI]


def test_location_from_the_registry(tmp_path: Path, store_backend: StoreBackend) -> None:
    vk = make_views_kit(tmp_path, store_backend)
    text = vk.kit.district_config.read_text(encoding="utf-8")
    text = text.replace("  level: commune\n", "  level: commune\n  location: {lat: 14.5436, lon: 108}\n", 1)
    vk.kit.district_config.write_text(text, encoding="utf-8")
    config = load_district_config(vk.kit.district_config)
    with open_store(config) as store:
        rows = fleet(store, config, NOW)
    assert rows[0].location is not None and rows[0].location.as_json() == {"lat": 14.5436, "lon": 108.0}
    assert rows[1].location is None
    vk.kit.district_config.write_text(text.replace("lat: 14.5436", "lat: 95"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"location.lat: must be <= 90"):
        load_district_config(vk.kit.district_config)
