"""The store's face: one event record in and out, rows named by column, the backend
complete against the interface, and the district's errors in the project's one tree
(each store test on both backends: SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mqtt_broker import DistrictKit, make_district
from store_backends import StoreBackend
from test_collector_service import KOI, RUONG

from district_collector.admin import registry_edit
from district_collector.intake.ingest import Ingestor, Rejected
from district_collector.registry import Registry, RegistryError
from district_collector.scoring.period import Period
from district_collector.store.base import Store, StoreError
from district_collector.store.opening import open_store
from district_collector.store.records import QuarantineRecord, StatusRecord, StoredEvent
from district_collector.store.schema import EVENT_INSERT, FACTS_INSERT, EventFactsRow, EventsRow
from radio_protocol.errors import CommuneRadioError

NOW = datetime(2024, 3, 6, 1, 2, 3, 456000, tzinfo=UTC)


@pytest.fixture
def kit(tmp_path: Path, store_backend: StoreBackend) -> DistrictKit:
    kit = make_district(tmp_path)
    kit.config = store_backend.configure(kit.config)
    return kit


def _columns(backend: StoreBackend, path: Path, table: str) -> list[str]:
    if backend.name == "sqlite":
        return [r[1] for r in backend.rows(path, f"PRAGMA table_info({table})")]
    return [r[0] for r in backend.rows(path, "SELECT column_name FROM information_schema.columns"
                                             f" WHERE table_name = '{table}' ORDER BY ordinal_position")]


def test_store_rows_name_every_column_of_their_table(kit: DistrictKit, store_backend: StoreBackend) -> None:
    open_store(kit.config).close()
    assert list(EventsRow.__annotations__) == _columns(store_backend, kit.config.database, "events")
    assert list(EventFactsRow.__annotations__) == _columns(store_backend, kit.config.database, "event_facts")
    assert "(station, seq, payload_sha256, jws, kid, received_at" in EVENT_INSERT
    assert "VALUES (:station, :seq, :payload_sha256, :kid, :commune" in FACTS_INSERT


def test_store_event_record_read_back_equals_the_record_written(kit: DistrictKit) -> None:
    events, prev = [], None
    for seq in range(1, 4):
        jws, prev = kit.event(KOI, seq, prev, played_s=100.5 + seq)
        events.append(jws)
    with open_store(kit.config) as store:
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


def test_store_status_and_quarantine_keep_their_received_at(kit: DistrictKit, store_backend: StoreBackend) -> None:
    with open_store(kit.config) as store:
        store.add_batch([], [QuarantineRecord("test", KOI, "bad-json", "not JSON", b"{x", NOW)],
                        [StatusRecord(KOI, "online", "2024-03-06T08:00:00.000+07:00", b"{}", NOW)])
        status = store.status(KOI)
        assert status is not None and status.received_at == "2024-03-06T01:02:03.456+00:00"
        ((station, reason, detail, raw),) = store.quarantine_rows()
    assert (station, reason, detail, raw) == (KOI, "bad-json", "not JSON", b"{x")
    assert store_backend.rows(kit.config.database, "SELECT received_at FROM quarantine") == [
        ("2024-03-06T01:02:03.456+00:00",)]


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


def test_store_status_log_keeps_each_change_of_state_once(kit: DistrictKit) -> None:
    """Within a batch and across batches: a retained status delivered again and a new status
    of the same state add nothing to the log; ``received_at`` of the status is when its
    state was first seen."""
    t = [datetime(2024, 3, 6, h, 0, tzinfo=UTC) for h in range(1, 6)]
    online = StatusRecord(KOI, "online", "2024-03-06T08:00:00.000+07:00", b"jws-1", t[0])
    offline = StatusRecord(KOI, "offline", None, b"jws-2", t[1])
    offline_again = StatusRecord(KOI, "offline", "2024-03-06T10:00:00.000+07:00", b"jws-3", t[2])
    back = StatusRecord(KOI, "online", "2024-03-06T12:00:00.000+07:00", b"jws-4", t[4])
    jws, _ = kit.event(KOI, 1, None)
    with open_store(kit.config) as store:
        event = Ingestor(kit.config, store).check_event(jws, KOI, "test", NOW)
        store.add_batch([event], [], [online, online, offline, offline_again])
        store.add_batch([], [], [dataclasses.replace(offline_again, received_at=t[3])])  # retained, again
        status = store.status(KOI)
        assert status is not None and (status.state, status.jws, status.received_at) == (
            "offline", b"jws-3", "2024-03-06T02:00:00.000+00:00")
        store.add_batch([], [], [back])
        assert [(h.state, h.at, h.received_at) for h in store.status_log(KOI)] == [
            ("online", "2024-03-06T08:00:00.000+07:00", "2024-03-06T01:00:00.000+00:00"),
            ("offline", None, "2024-03-06T02:00:00.000+00:00"),
            ("online", "2024-03-06T12:00:00.000+07:00", "2024-03-06T05:00:00.000+00:00")]
        assert [h.state for h in store.status_log(KOI, limit=2)] == ["offline", "online"]
        assert store.status_log(RUONG) == [] and store.count_events(KOI) == 1
