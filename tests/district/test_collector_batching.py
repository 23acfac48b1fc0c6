"""Batch ingest: one classifying query and one INSERT per batch (accepted / duplicate /
conflict exactly as before, also within one batch), report facts from the payload the
ingestor already decoded (equal to those read from the JWS alone), and group commit in the service (a lone event is committed
at once; queued messages are taken together)."""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mqtt_broker import DistrictKit, make_district
from store_backends import StoreBackend
from test_collector_service import KOI

from district_collector.intake.ingest import Ingestor
from district_collector.intake.service import CollectorService, _Message
from district_collector.store.records import StoredEvent
from district_collector.store.sqlite import SqliteStore
from radio_protocol.messages.event import Segment

NOW = datetime(2024, 3, 6, tzinfo=UTC)
TOPIC = f"cr/v1/kon-ray/station/{KOI}/event"


@pytest.fixture
def kit(tmp_path: Path) -> DistrictKit:
    return make_district(tmp_path)


def _facts(path: Path) -> list[tuple[object, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT * FROM event_facts ORDER BY station, seq, payload_sha256").fetchall()
    finally:
        db.close()


def test_store_batch_classifies_against_store_and_within_the_batch(kit: DistrictKit, tmp_path: Path,
                                                                    store_backend: StoreBackend) -> None:
    e1, sha1 = kit.event(KOI, 1, None)
    e2, sha2 = kit.event(KOI, 2, sha1)
    e2b, _ = kit.event(KOI, 2, sha1, played_s=12.5)  # another payload for seq 2
    e3, _ = kit.event(KOI, 3, sha2)
    with store_backend.open(tmp_path / "classify.sqlite3") as store:
        ingestor = Ingestor(kit.config, store)
        first = ingestor.ingest([(TOPIC, e1, "t"), (TOPIC, e2, "t"), (TOPIC, e1, "t")], NOW)
        assert dict(first.counts) == {"accepted": 2, "duplicate": 1}
        # seq 1 again (stored), seq 2 other payload (conflict with stored), seq 3 twice in
        # the batch, then seq 2's other payload once more (now a duplicate of the conflict row)
        second = ingestor.ingest([(TOPIC, e1, "t"), (TOPIC, e2b, "t"), (TOPIC, e3, "t"), (TOPIC, e3, "t"),
                                  (TOPIC, e2b, "t")], NOW)
        assert dict(second.counts) == {"duplicate": 3, "conflict": 1, "accepted": 1}
        assert store.seqs(KOI) == [1, 2, 2, 3]
        assert store.ack_position(KOI) == (3, [])
        assert store.seq_summary(KOI).conflicts == (2,)


def test_store_facts_from_the_given_payload_equal_facts_from_the_jws(kit: DistrictKit, tmp_path: Path) -> None:
    """The ingestor hands its decoded payload down; the facts row is the one the JWS gives."""
    events, prev = [], None
    for seq in range(1, 6):
        jws, prev = kit.event(KOI, seq, prev, segment=Segment(f"cds-{seq}", f"Bài {seq}: chuyển đổi số",
                                                              "chuyen-doi-so"))
        events.append(jws)
    with SqliteStore(kit.config.database) as store:
        records = [Ingestor(kit.config, store).check_event(e, KOI, "t", NOW) for e in events]
        assert [r.facts.segment_id for r in records] == [f"cds-{seq}" for seq in range(1, 6)]
        store.add_batch(records)
    other = tmp_path / "other.sqlite3"
    with SqliteStore(other) as store:  # the same events, their facts read from the JWS alone
        from_jws = [StoredEvent.from_jws(r.jws, r.kid, NOW, r.source) for r in records]
        assert from_jws == records
        assert store.add_batch(from_jws) == ["accepted"] * 5
    facts = _facts(kit.config.database)
    assert facts == _facts(other) and len(facts) == 5
    assert facts[0][12] == "Bài 1: chuyển đổi số" and facts[0][14] is not None


def _idle_service(kit: DistrictKit, max_batch: int) -> CollectorService:
    config = dataclasses.replace(kit.config, ack=dataclasses.replace(kit.config.ack, max_batch=max_batch))
    return CollectorService(config, kit.district_signer)  # not started: only its queue is used


def test_service_take_batch_takes_all_queued_up_to_max_batch_without_waiting(kit: DistrictKit) -> None:
    service = _idle_service(kit, max_batch=50)
    for mid in range(120):
        service._queue.put(_Message(TOPIC, b"x", mid, 1, 0))
    started = time.monotonic()
    sizes = [len(service._take_batch() or []) for _ in range(3)]
    assert sizes == [50, 50, 20]
    assert time.monotonic() - started < 1.0, "a batch waited for messages that were not coming"
    assert service._take_batch() == []  # nothing queued: an empty batch after the poll timeout
