"""The store's face: one event record in and out, rows named by column, the backend
complete against the interface, and the district's errors in the project's one tree."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mqtt_broker import DistrictKit, make_district
from test_collector_service import KOI

from district_collector.admin import registry_edit
from district_collector.intake.ingest import Ingestor, Rejected
from district_collector.registry import Registry, RegistryError
from district_collector.scoring.period import Period
from district_collector.store.base import Store, StoreError
from district_collector.store.records import QuarantineRecord, StatusRecord, StoredEvent
from district_collector.store.schema import EVENT_INSERT, FACTS_INSERT, EventFactsRow, EventsRow
from district_collector.store.sqlite import SqliteStore
from radio_protocol.errors import CommuneRadioError

NOW = datetime(2024, 3, 6, 1, 2, 3, 456000, tzinfo=UTC)


@pytest.fixture
def kit(tmp_path: Path) -> DistrictKit:
    return make_district(tmp_path)


def _columns(path: Path, table: str) -> list[str]:
    db = sqlite3.connect(path)
    try:
        return [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
    finally:
        db.close()


def test_store_rows_name_every_column_of_their_table(kit: DistrictKit) -> None:
    SqliteStore(kit.config.database).close()
    assert list(EventsRow.__annotations__) == _columns(kit.config.database, "events")
    assert list(EventFactsRow.__annotations__) == _columns(kit.config.database, "event_facts")
    assert "(station, seq, payload_sha256, jws, kid, received_at" in EVENT_INSERT
    assert "VALUES (:station, :seq, :payload_sha256, :kid, :commune" in FACTS_INSERT


def test_store_event_record_read_back_equals_the_record_written(kit: DistrictKit) -> None:
    events, prev = [], None
    for seq in range(1, 4):
        jws, prev = kit.event(KOI, seq, prev, played_s=100.5 + seq)
        events.append(jws)
    with SqliteStore(kit.config.database) as store:
        assert isinstance(store, Store)
        ingestor = Ingestor(kit.config, store)
        records = [ingestor.check_event(e, KOI, "test", NOW) for e in events]
        assert store.add_batch(records) == ["accepted"] * 3
        assert list(store.iter_events(KOI)) == records
        assert [r.received_at for r in store.iter_events()] == [NOW] * 3
        registry = Registry.from_config(kit.config)
        period = Period.parse("2024-03-01", "2024-03-31", kit.config.district.timezone)
        kids = {st.id: frozenset(st.kids) for st in registry.stations}
        assert list(store.period_events(period.start_us, period.end_us, kids)) == records
        assert [tuple(r.facts) for r in records] == list(store.period_rows(period.start_us, period.end_us, kids))
    assert [r.facts.played_s for r in records] == [101.5, 102.5, 103.5]


def test_store_status_and_quarantine_keep_their_received_at(kit: DistrictKit) -> None:
    with SqliteStore(kit.config.database) as store:
        store.add_batch([], [QuarantineRecord("test", KOI, "bad-json", "not JSON", b"{x", NOW)],
                        [StatusRecord(KOI, "online", "2024-03-06T08:00:00.000+07:00", b"{}", NOW)])
        status = store.status(KOI)
        assert status is not None and status.received_at == "2024-03-06T01:02:03.456+00:00"
        ((station, reason, detail, raw),) = store.quarantine_rows()
    assert (station, reason, detail, raw) == (KOI, "bad-json", "not JSON", b"{x")
    db = sqlite3.connect(kit.config.database)
    assert db.execute("SELECT received_at FROM quarantine").fetchone()[0] == "2024-03-06T01:02:03.456+00:00"
    db.close()


def test_store_from_jws_rejects_an_unreadable_payload() -> None:
    with pytest.raises(ValueError):
        StoredEvent.from_jws(b'{"payload":"not base64!","protected":"e30","signature":""}', "k", NOW, "t")


def test_district_errors_are_one_tree() -> None:
    rejected = Rejected("invalid-event", "seq: missing (required)", KOI)
    assert isinstance(rejected, CommuneRadioError)
    assert (rejected.reason, rejected.detail, rejected.station) == ("invalid-event", "seq: missing (required)", KOI)
    assert str(rejected) == "invalid-event: seq: missing (required)"
    assert registry_edit.RegistryError is RegistryError and issubclass(RegistryError, CommuneRadioError)
    assert issubclass(StoreError, CommuneRadioError)
