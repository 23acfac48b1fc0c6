"""One bad event must never cost the others their commit (issue: one event poisons the
collector). A correctly signed event whose members are out of the protocol's bounds
(``seq = 2**63``: no SQLite integer holds it) goes to quarantine; the events of its batch
and of the next batch are committed and acked. The store's batch rolls back cleanly on
any exception, and the ingestor then stores the good records one by one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mqtt_broker import BrokerEnv, make_district
from store_backends import StoreBackend
from test_collector_service import _service, _t, _wait

from district_collector.intake.ingest import Ingestor
from district_collector.store.base import RecordRefused
from district_collector.store.records import StoredEvent
from district_collector.store.sqlite import SqliteStore
from radio_protocol.jose import KeyRing, verify
from radio_protocol.names import ACK_TYP, MAX_SEQ

KOI = "dak-koi-01"
AT = datetime(2024, 3, 5, tzinfo=UTC)


def _acked_through(acks: list[bytes], ring: KeyRing) -> int:
    return max((json.loads(verify(a, ring, ACK_TYP).payload_bytes)["through"] for a in acks), default=0)


def test_collector_quarantines_poison_event_and_commits_and_acks_the_rest(mqtt_env: BrokerEnv) -> None:
    chain = mqtt_env.chain(KOI, 8)
    poison, _ = mqtt_env.event(KOI, 2**63, None)
    ring = KeyRing.from_jwks([mqtt_env.district_jwk])
    service = _service(mqtt_env)
    watcher = mqtt_env.client(KOI)
    acks: list[bytes] = []
    watcher.on_message = lambda c, u, m: acks.append(bytes(m.payload))
    watcher.subscribe(_t(KOI, "ack"), qos=1)
    try:
        for jws in [*chain[:2], poison, *chain[2:5]]:  # published at once: one batch, or a few
            watcher.publish(_t(KOI, "event"), jws, qos=1)
        with SqliteStore(mqtt_env.config.database) as store:
            assert _wait(lambda: store.seqs(KOI) == [1, 2, 3, 4, 5]), store.seqs(KOI)
            assert _wait(lambda: _acked_through(acks, ring) == 5)
            rows = [r for r in store.quarantine_rows() if r.raw == poison]
            assert len(rows) == 1 and rows[0].reason == "invalid-event" and rows[0].station == KOI
            assert "seq" in rows[0].detail
            for jws in chain[5:]:  # the next batch is fine
                watcher.publish(_t(KOI, "event"), jws, qos=1)
            assert _wait(lambda: store.seqs(KOI) == list(range(1, 9)))
            assert _wait(lambda: _acked_through(acks, ring) == 8)
    finally:
        service.stop()
    assert service.counts["accepted"] == 8 and service.counts["rejected"] == 1


def test_store_rolls_back_a_batch_it_cannot_hold_and_takes_the_next(tmp_path: Path,
                                                                   store_backend: StoreBackend) -> None:
    kit = make_district(tmp_path / "d")
    good = [StoredEvent.from_jws(jws, "kid", AT, "t") for jws in kit.chain(KOI, 2)]
    bad = StoredEvent.from_jws(kit.event(KOI, 3, None)[0], "kid", AT, "t")
    bad = StoredEvent(bad.jws, bad.kid, bad.received_at, bad.source, bad.schedule_version,
                      bad.facts._replace(seq=2**63))
    with store_backend.open(tmp_path / "s.sqlite3") as store:
        with pytest.raises(RecordRefused):
            store.add_batch([good[0], bad])
        assert store.seqs(KOI) == []
        assert store.add_batch(good) == ["accepted", "accepted"]  # no transaction left open
        assert store.seqs(KOI) == [1, 2]


class _BuggyIngestor(Ingestor):
    """An ingestor whose checks let an out-of-range seq through (as a check with a bug would)."""

    def check_event(self, raw: bytes, station: str | None, source: str, received_at: datetime) -> StoredEvent:
        rec = super().check_event(raw, station, source, received_at)
        if rec.seq == 3:
            return StoredEvent(rec.jws, rec.kid, rec.received_at, rec.source, rec.schedule_version,
                               rec.facts._replace(seq=MAX_SEQ + 1))
        return rec


def test_ingest_stores_the_good_records_one_by_one_when_the_store_refuses_one(tmp_path: Path,
                                                                             store_backend: StoreBackend) -> None:
    kit = make_district(tmp_path / "d")
    chain = kit.chain(KOI, 5)
    with store_backend.open(tmp_path / "s.sqlite3") as store:
        result = _BuggyIngestor(kit.config, store).ingest(
            [(_t(KOI, "event"), jws, "mqtt") for jws in chain], AT)
        assert store.seqs(KOI) == [1, 2, 4, 5]
        assert result.counts["accepted"] == 4 and result.counts["rejected"] == 1
        [row] = store.quarantine_rows()
        assert row.reason == "store-refused" and row.raw == chain[2] and row.station == KOI
        assert store.ack_position(KOI) == (2, [4, 5])
