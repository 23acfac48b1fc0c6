"""Ingest and store without a broker: verification, quarantine reasons, duplicates,
conflicts, gaps and chain breaks, status tracking, import (real SQLite files and a real
PostgreSQL: each test on both stores)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from mqtt_broker import DistrictKit, make_airing_payload, make_district
from store_backends import StoreBackend

from district_collector.intake.importer import import_files
from district_collector.intake.ingest import Ingestor
from district_collector.store.base import Store
from district_collector.store.opening import open_store
from radio_protocol.jose import Signer, b64url_encode, canonical_json, sha256_hex
from radio_protocol.messages.status import Status, build_status
from radio_protocol.names import EVENT_TYP, STATUS_TYP
from radio_protocol.timefmt import parse_rfc3339

NOW = datetime(2024, 3, 5, 0, 0, tzinfo=UTC)
KOI = "dak-koi-01"
RUONG = "dak-ruong-01"
EVENT_TOPIC = f"cr/v1/kon-ray/station/{KOI}/event"


@pytest.fixture
def kit(tmp_path: Path, store_backend: StoreBackend) -> DistrictKit:
    kit = make_district(tmp_path)
    kit.config = store_backend.configure(kit.config)
    return kit


def _ingest(kit: DistrictKit, messages: list[tuple[str | None, bytes]]) -> tuple[Store, dict[str, int]]:
    store = open_store(kit.config)
    result = Ingestor(kit.config, store).ingest([(t, m, "test") for t, m in messages], NOW)
    return store, dict(result.counts)


def _craft(header: dict[str, object], payload: bytes, sign: Callable[[bytes], bytes]) -> bytes:
    protected = b64url_encode(canonical_json(header))
    body = b64url_encode(payload)
    sig = sign(f"{protected}.{body}".encode("ascii"))
    return canonical_json({"protected": protected, "payload": body, "signature": b64url_encode(sig)})


def _payload(**overrides: object) -> bytes:
    """The built payload with ``overrides`` written over its members: deliberately wrong ones."""
    payload = make_airing_payload(KOI, 1, None)
    payload.update(overrides)
    return canonical_json(payload)


def _bad_messages(kit: DistrictKit) -> dict[str, tuple[str, bytes, str]]:
    """name -> (topic, raw, expected reason)."""
    koi = kit.stations[KOI].signer
    ruong = kit.stations[RUONG].signer
    stranger = Signer(Ed25519PrivateKey.generate())
    good, _ = kit.event(KOI, 1, None)
    obj = json.loads(good)
    forged = dict(obj, signature=json.loads(stranger.sign(_payload(), EVENT_TYP))["signature"])
    hs_key = b"secret"
    status_typ = koi.sign(_payload(), STATUS_TYP)
    missing = make_airing_payload(KOI, 1, None)
    del missing["outcome"]
    return {
        "forged-signature": (EVENT_TOPIC, canonical_json(forged), "bad-signature"),
        "unknown-kid": (EVENT_TOPIC, stranger.sign(_payload(), EVENT_TYP), "unknown-kid"),
        "alg-none": (EVENT_TOPIC, _craft({"alg": "none", "kid": koi.kid, "typ": EVENT_TYP},
                                         _payload(), lambda _: b""), "alg"),
        "alg-hs256": (EVENT_TOPIC, _craft({"alg": "HS256", "kid": koi.kid, "typ": EVENT_TYP}, _payload(),
                                          lambda m: hmac.new(hs_key, m, hashlib.sha256).digest()), "alg"),
        "typ-status-on-event": (EVENT_TOPIC, status_typ, "typ"),
        "other-station-key-on-topic": (f"cr/v1/kon-ray/station/{RUONG}/event", good, "unknown-kid"),
        "payload-names-other-station": (f"cr/v1/kon-ray/station/{RUONG}/event",
                                        ruong.sign(_payload(commune="23326"), EVENT_TYP),
                                        "station-mismatch"),
        "other-district": (EVENT_TOPIC, koi.sign(_payload(district="sa-thay"), EVENT_TYP),
                           "district-mismatch"),
        "wrong-commune": (EVENT_TOPIC, koi.sign(_payload(commune="99999"), EVENT_TYP), "commune-mismatch"),
        "missing-outcome": (EVENT_TOPIC, koi.sign(canonical_json(missing), EVENT_TYP), "invalid-event"),
        "seq-zero": (EVENT_TOPIC, koi.sign(_payload(seq=0), EVENT_TYP), "invalid-event"),
        "naive-started-at": (EVENT_TOPIC, koi.sign(_payload(started_at="2024-03-05T06:30:00"), EVENT_TYP),
                             "invalid-event"),
        "oversized": (EVENT_TOPIC, koi.sign(_payload(pad="x" * 70_000), EVENT_TYP), "too-large"),
        "bad-base64": (EVENT_TOPIC, canonical_json(dict(obj, payload=obj["payload"][:-2] + "!!")), "bad-base64"),
        "not-json": (EVENT_TOPIC, b"\xff{not json", "bad-json"),
        "payload-not-object": (EVENT_TOPIC, koi.sign(b"[1,2]", EVENT_TYP), "bad-payload"),
        "unregistered-station": ("cr/v1/kon-ray/station/ghost-01/event", good, "unknown-station"),
        "schedule-topic": (f"cr/v1/kon-ray/station/{KOI}/schedule", good, "bad-topic"),
        "other-district-topic": (f"cr/v1/sa-thay/station/{KOI}/event", good, "bad-topic"),
    }


BAD_NAMES = ["forged-signature", "unknown-kid", "alg-none", "alg-hs256", "typ-status-on-event",
             "other-station-key-on-topic", "payload-names-other-station", "other-district", "wrong-commune",
             "missing-outcome", "seq-zero", "naive-started-at", "oversized", "bad-base64", "not-json",
             "payload-not-object", "unregistered-station", "schedule-topic", "other-district-topic"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_ingest_bad_message_is_quarantined_with_reason(kit: DistrictKit, name: str) -> None:
    topic, raw, reason = _bad_messages(kit)[name]
    store, counts = _ingest(kit, [(topic, raw)])
    assert counts == {"rejected": 1}
    assert store.count_events() == 0
    rows = store.quarantine_rows()
    assert [r[1] for r in rows] == [reason]
    assert rows[0][3] == raw[:65536]


def test_ingest_good_event_stored_verbatim_with_columns(kit: DistrictKit) -> None:
    jws, sha = kit.event(KOI, 1, None)
    store, counts = _ingest(kit, [(EVENT_TOPIC, jws)])
    assert counts == {"accepted": 1}
    (row,) = list(store.iter_events())
    assert row.jws == jws and row.payload_sha256 == sha and row.seq == 1
    facts = row.facts
    assert (facts.program, facts.outcome, facts.clock_synced, row.schedule_version) == ("chuyen-doi-so", "completed", True, 7)
    assert facts.started_at == "2024-03-05T06:31:00.012+07:00" and facts.prev is None
    assert row.kid == kit.stations[KOI].signer.kid and row.source == "test"


def test_ingest_keeps_bytes_never_reserializes(kit: DistrictKit) -> None:
    body = canonical_json(make_airing_payload(KOI, 1, None)).replace(b'{"v":1,', b'{ "v" : 1 ,\n', 1)
    assert body.startswith(b'{ "v" : 1 ,\n"type"')
    jws = kit.stations[KOI].signer.sign(body, EVENT_TYP)
    store, counts = _ingest(kit, [(EVENT_TOPIC, jws)])
    assert counts == {"accepted": 1}
    (row,) = list(store.iter_events())
    assert row.jws == jws and row.payload_sha256 == sha256_hex(body)


def test_ingest_duplicates_and_out_of_order_counted_once(kit: DistrictKit) -> None:
    events = kit.chain(KOI, 20)
    shuffled = events[10:] + events[:10][::-1] + events[5:15]
    store, counts = _ingest(kit, [(EVENT_TOPIC, e) for e in shuffled])
    assert counts == {"accepted": 20, "duplicate": 10}
    store2, counts2 = _ingest(kit, [(EVENT_TOPIC, e) for e in events])
    assert counts2 == {"duplicate": 20}
    assert store2.seqs(KOI) == list(range(1, 21))
    assert store2.ack_position(KOI) == (20, [])
    s = store2.seq_summary(KOI)
    assert (s.count, s.last_seq, s.through, s.gaps, s.chain_breaks, s.conflicts) == (20, 20, 20, (), (), ())


def test_ingest_same_seq_other_bytes_is_a_recorded_conflict(kit: DistrictKit) -> None:
    a, _ = kit.event(KOI, 1, None)
    b, _ = kit.event(KOI, 1, None, outcome="interrupted", reason="shutdown")
    store, counts = _ingest(kit, [(EVENT_TOPIC, a), (EVENT_TOPIC, b), (EVENT_TOPIC, b)])
    assert counts == {"accepted": 1, "conflict": 1, "duplicate": 1}
    assert sorted(r.jws for r in store.iter_events(KOI)) == sorted([a, b])
    assert store.seq_summary(KOI).conflicts == (1,)


def test_ingest_gaps_and_chain_breaks_detected(kit: DistrictKit) -> None:
    events = kit.chain(KOI, 10)
    forked, _ = kit.event(KOI, 12, "ab" * 32)  # prev does not match seq 11
    eleven = kit.chain(KOI, 1, first=11)[0]
    keep = [events[0], events[1], events[4], events[5], events[9], eleven, forked]
    store, _ = _ingest(kit, [(EVENT_TOPIC, e) for e in keep])
    s = store.seq_summary(KOI)
    assert s.gaps == ((3, 4), (7, 9))
    assert s.chain_breaks == (12,)
    assert store.ack_position(KOI) == (2, [5, 6, 10, 11, 12])
    assert store.ack_position(KOI, max_also=2) == (2, [5, 6])


def test_ingest_status_tracks_state_and_since(kit: DistrictKit) -> None:
    signer = kit.stations[KOI].signer
    def status(state: str, at: str, pending: int) -> bytes:
        return signer.sign(build_status(Status(KOI, state, parse_rfc3339(at), schedule_version=7,
                                               outbox_pending=pending)), STATUS_TYP)
    topic = f"cr/v1/kon-ray/station/{KOI}/status"
    store = open_store(kit.config)
    ing = Ingestor(kit.config, store)
    ing.ingest([(topic, status("online", "2024-03-05T07:00:00.000+07:00", 3), "mqtt")], NOW)
    later = datetime(2024, 3, 5, 1, 0, tzinfo=UTC)
    ing.ingest([(topic, status("online", "2024-03-05T08:00:00.000+07:00", 0), "mqtt")], later)
    row = store.status(KOI)
    assert row is not None and row.state == "online" and row.at == "2024-03-05T08:00:00.000+07:00"
    assert row.received_at.startswith("2024-03-05T00:00:00")  # online since the first one
    ing.ingest([(topic, status("offline", "2024-03-05T07:00:00.000+07:00", 0), "mqtt")], later)
    row = store.status(KOI)
    assert row is not None and row.state == "offline" and row.received_at.startswith("2024-03-05T01:00")
    counts = ing.ingest([(topic, signer.sign({"v": 1, "type": "status", "station": KOI, "state": "asleep",
                                              "at": "2024-03-05T07:00:00.000+07:00"}, STATUS_TYP),
                          "mqtt")], later).counts
    assert counts["rejected"] == 1 and store.quarantine_rows()[-1][1] == "invalid-status"


def test_store_is_wal_with_full_sync_and_expected_tables(kit: DistrictKit, store_backend: StoreBackend) -> None:
    open_store(kit.config).close()
    path = kit.config.database
    if store_backend.name == "sqlite":
        assert store_backend.rows(path, "PRAGMA journal_mode") == [("wal",)]
        tables = {r[0] for r in store_backend.rows(path, "SELECT name FROM sqlite_master WHERE type='table'")}
        cols = [r[1] for r in store_backend.rows(path, "PRAGMA table_info(events)")]
    else:  # durable commits: the server flushes its WAL before COMMIT returns
        assert store_backend.rows(path, "SHOW synchronous_commit") in ([("on",)], [("off",)])
        tables = {r[0] for r in store_backend.rows(path, "SELECT table_name FROM information_schema.tables"
                                                         " WHERE table_schema = 'public'")}
        cols = [r[0] for r in store_backend.rows(path, "SELECT column_name FROM information_schema.columns"
                                                       " WHERE table_name = 'events' ORDER BY ordinal_position")]
    assert {"events", "quarantine", "status", "schedules", "ack_state", "schema_version"} <= tables
    assert cols == ["station", "seq", "payload_sha256", "jws", "kid", "received_at", "source", "started_at",
                    "program", "outcome", "clock_synced", "slot", "schedule_version", "prev"]


def test_store_iter_events_time_range(kit: DistrictKit) -> None:
    store, _ = _ingest(kit, [(EVENT_TOPIC, e) for e in kit.chain(KOI, 10)])
    start = datetime(2024, 3, 4, 23, 33, tzinfo=UTC)  # 06:33+07:00
    end = datetime(2024, 3, 4, 23, 36, tzinfo=UTC)
    assert [r.seq for r in store.iter_events(KOI, start, end)] == [3, 4, 5]
    assert [r.seq for r in store.iter_events(RUONG)] == []


def test_import_twice_changes_nothing(kit: DistrictKit, tmp_path: Path) -> None:
    events = kit.chain(KOI, 30) + kit.chain(RUONG, 5)
    bad = _bad_messages(kit)["forged-signature"][1]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(events[::-1] + [events[3], bad, b""]) + b"\n")
    with open_store(kit.config) as store:
        first = import_files(kit.config, store, [path])
        snapshot = [(r.station, r.seq, r.jws) for r in store.iter_events()]
        quarantine = store.quarantine_rows()
        second = import_files(kit.config, store, [path])
        assert [(r.station, r.seq, r.jws) for r in store.iter_events()] == snapshot
        assert store.quarantine_rows() == quarantine and len(quarantine) == 1
    assert dict(first) == {"accepted": 35, "duplicate": 1, "conflict": 0, "rejected": 1}
    assert dict(second) == {"accepted": 0, "duplicate": 36, "conflict": 0, "rejected": 1}
    assert len(snapshot) == 35
