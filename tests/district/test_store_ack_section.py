"""Ack sections (``Store.ack_section``) on both backends: a second section over a station
waits for the first, and reads what was committed meanwhile; the positions only grow."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mqtt_broker import DistrictKit, make_district
from store_backends import StoreBackend
from waiting import wait_until

from district_collector.store.base_acks import ACK_SECTION_MAX, AckPositions
from district_collector.store.records import StoredEvent

KOI = "dak-koi-01"
RUONG = "dak-ruong-01"
AT = datetime(2024, 3, 6, 1, 2, 3, 456000, tzinfo=UTC)


@pytest.fixture
def kit(tmp_path: Path) -> DistrictKit:
    return make_district(tmp_path / "d")


def _records(kit: DistrictKit, station: str, count: int, first: int = 1) -> list[StoredEvent]:
    return [StoredEvent.from_jws(jws, "kid", AT, "test") for jws in kit.chain(station, count, first)]


def test_section_reads_positions_of_every_station(kit: DistrictKit, tmp_path: Path,
                                                  store_backend: StoreBackend) -> None:
    with store_backend.open(tmp_path / "s.sqlite3") as store:
        store.add_batch(_records(kit, KOI, 3) + _records(kit, KOI, 2, first=6))
        with store.ack_section([RUONG, KOI], max_also=1) as positions:
            assert positions == {KOI: (3, [6]), RUONG: (0, [])}
        with store.ack_section([KOI]) as positions:
            assert positions == {KOI: (3, [6, 7])} and store.ack_position(KOI) == (3, [6, 7])
        with pytest.raises(ValueError):
            with store.ack_section([f"s{i}" for i in range(ACK_SECTION_MAX + 1)]):
                pass


def test_second_section_waits_and_reads_what_was_committed(kit: DistrictKit, tmp_path: Path,
                                                           store_backend: StoreBackend) -> None:
    path = tmp_path / "s.sqlite3"
    first, writer = store_backend.open(path), store_backend.open(path)
    try:
        writer.add_batch(_records(kit, KOI, 2))
        seen: list[AckPositions] = []

        def later() -> None:  # its own connection, opened in its thread (SQLite's rule)
            with store_backend.open(path) as second, second.ack_section([KOI, RUONG]) as positions:
                seen.append(positions)

        with first.ack_section([KOI]) as positions:
            assert positions == {KOI: (2, [])}
            thread = threading.Thread(target=later)
            thread.start()
            thread.join(0.5)
            assert thread.is_alive() and not seen, "a second section entered while the first held the station"
            if store_backend.name == "postgres":  # the batch locks are not the ack locks
                writer.add_batch(_records(kit, KOI, 3, first=3))
        wait_until(lambda: seen, 30, "the second section")
        thread.join(30)
        if store_backend.name == "sqlite":  # the section held the write lock: commit after it
            writer.add_batch(_records(kit, KOI, 3, first=3))
            assert seen[0][KOI] == (2, [])
        else:
            assert seen[0][KOI] == (5, []), "the second section read a snapshot older than its lock"
        with first.ack_section([KOI]) as positions:
            assert positions[KOI] == (5, [])
    finally:
        for store in (first, writer):
            store.close()
