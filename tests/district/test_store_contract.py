"""The store's contracts on both backends (SQLite, PostgreSQL): schedules, quarantine and
status replays, and two writers committing one station's events at once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from mqtt_broker import DistrictKit, make_district
from store_backends import StoreBackend

from district_collector.store.records import QuarantineRecord, StatusRecord, StoredEvent

KOI = "dak-koi-01"
AT = datetime(2024, 3, 6, 1, 2, 3, 456000, tzinfo=UTC)


@pytest.fixture
def kit(tmp_path: Path) -> DistrictKit:
    return make_district(tmp_path / "d")


def _records(kit: DistrictKit, count: int) -> list[StoredEvent]:
    return [StoredEvent.from_jws(jws, "kid", AT, "test") for jws in kit.chain(KOI, count)]


def test_store_schedules_once_per_version_latest_first(tmp_path: Path, store_backend: StoreBackend) -> None:
    with store_backend.open(tmp_path / "s.sqlite3") as store:
        assert store.latest_schedule(KOI) is None and store.published_schedules() == []
        assert store.add_schedule(KOI, 2, b"v2", "a" * 64, AT) is True
        assert store.add_schedule(KOI, 1, b"v1", "b" * 64, AT) is True
        assert store.add_schedule("a-01", 5, b"a5", "c" * 64, AT) is True
        assert store.add_schedule(KOI, 2, b"other", "d" * 64, AT) is False  # nothing written
        assert store.latest_schedule(KOI) == (2, b"v2")
        assert store.published_schedules() == [b"a5", b"v1", b"v2"]


def test_store_replays_change_nothing(tmp_path: Path, store_backend: StoreBackend) -> None:
    quarantined = QuarantineRecord("import:x:1", KOI, "bad-json", "not JSON", b"\x00{x", AT)
    online = StatusRecord(KOI, "online", "2024-03-06T08:00:00.000+07:00", b"jws-1", AT)
    later = AT + timedelta(hours=1)
    with store_backend.open(tmp_path / "s.sqlite3") as store:
        assert store.add_batch([], [quarantined, quarantined], [online]) == []
        store.add_batch([], [quarantined], [StatusRecord(KOI, "online", online.at, b"jws-1", later)])
        assert store.quarantine_rows() == [(KOI, "bad-json", "not JSON", b"\x00{x")]
        status = store.status(KOI)
        assert status is not None and (status.received_at, status.jws) == ("2024-03-06T01:02:03.456+00:00", b"jws-1")
        store.add_batch([], [], [StatusRecord(KOI, "online", "2024-03-06T09:00:00.000+07:00", b"jws-2", later)])
        status = store.status(KOI)  # the same state: still online since the first
        assert status is not None and (status.at, status.received_at) == ("2024-03-06T09:00:00.000+07:00",
                                                                         "2024-03-06T01:02:03.456+00:00")
        store.add_batch([], [], [StatusRecord(KOI, "offline", None, b"jws-3", later)])
        status = store.status(KOI)
        assert status is not None and (status.state, status.at, status.received_at) == (
            "offline", None, "2024-03-06T02:02:03.456+00:00")
        assert store.acked_stations() == [] and store.ack_position(KOI) == (0, [])


def test_store_two_writers_one_station_keep_acks_exact(kit: DistrictKit, tmp_path: Path,
                                                       store_backend: StoreBackend) -> None:
    """Two writers commit overlapping batches of one station at once: every event is stored
    once, accepted by exactly one of them, and through ends at the last seq."""
    records = _records(kit, 120)
    path = tmp_path / "s.sqlite3"
    store_backend.open(path).close()
    outcomes: dict[int, list[str]] = {0: [], 1: []}
    throughs: dict[int, list[int]] = {0: [], 1: []}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def write(worker: int) -> None:
        try:
            with store_backend.open(path) as store:
                start.wait(30)
                # worker 0 goes up in batches of 7, worker 1 down in batches of 5 (overlapping)
                order = records if worker == 0 else records[::-1]
                size = 7 if worker == 0 else 5
                for i in range(0, len(order), size):
                    outcomes[worker] += store.add_batch(order[i:i + size])
                    throughs[worker].append(store.ack_position(KOI, max_also=0)[0])
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert outcomes[0].count("accepted") + outcomes[1].count("accepted") == 120
    assert outcomes[0].count("conflict") + outcomes[1].count("conflict") == 0
    for seen in throughs.values():
        assert seen == sorted(seen)  # never backwards
    with store_backend.open(path) as store:
        assert store.seqs(KOI) == list(range(1, 121))
        assert store.ack_position(KOI) == (120, [])
        assert store.seq_summary(KOI).chain_breaks == ()


def test_store_iter_events_streams_in_order(kit: DistrictKit, tmp_path: Path, store_backend: StoreBackend) -> None:
    records = _records(kit, 1200)
    with store_backend.open(tmp_path / "s.sqlite3") as store:
        store.add_batch(records[600:])
        store.add_batch(records[:600])
        seen = store.iter_events(KOI)
        assert next(seen).seq == 1  # a stream: the first row before the rest is read
        assert [r.seq for r in seen] == list(range(2, 1201))
        assert store.count_events() == 1200 and store.count_events("other") == 0
        assert store.last_airing(KOI) == records[-1].facts.started_at


def test_store_two_writers_quarantine_one_record_once(tmp_path: Path, store_backend: StoreBackend) -> None:
    path = tmp_path / "s.sqlite3"
    store_backend.open(path).close()
    records = [QuarantineRecord("mqtt", KOI, "bad-json", "not JSON", f"raw-{i}".encode(), AT) for i in range(30)]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def write(order: list[QuarantineRecord]) -> None:
        try:
            with store_backend.open(path) as store:
                start.wait(30)
                for i in range(0, len(order), 3):
                    store.add_batch([], order[i:i + 3])
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(o,)) for o in (records, records[::-1])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    with store_backend.open(path) as store:
        assert sorted(r.raw for r in store.quarantine_rows()) == sorted(r.raw for r in records)
