"""A station's ``outbox-reset`` event at the district: verified, stored in the station's
chain (no gap, no break, acked), never counted as an airing; a malformed one is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from mqtt_broker import DistrictKit, make_district
from store_backends import StoreBackend

from district_collector.intake.ingest import Ingestor
from district_collector.store.opening import open_store
from radio_protocol.jose import canonical_json, sha256_hex
from radio_protocol.messages.outbox_reset import OutboxReset, build_outbox_reset, parse_outbox_reset
from radio_protocol.names import EVENT_TYP

NOW = datetime(2024, 3, 5, 0, 0, tzinfo=UTC)
KOI = "dak-koi-01"
EVENT_TOPIC = f"cr/v1/kon-ray/station/{KOI}/event"


@pytest.fixture
def kit(tmp_path: Path, store_backend: StoreBackend) -> DistrictKit:
    kit = make_district(tmp_path)
    kit.config = store_backend.configure_file(kit.district_config)
    return kit


def reset_payload(seq: int, prev: str | None, **changes: Any) -> dict[str, Any]:
    event = OutboxReset(district="kon-ray", station=KOI, commune="23335", seq=seq, prev=prev,
                        at=datetime(2024, 3, 5, 7, 0, tzinfo=UTC), reason="outbox-malformed",
                        detail="database disk image is malformed", last_known_seq=seq - 1,
                        found_seq=None, moved_to="outbox.sqlite.lost-20240305T070000Z",
                        clock_synced=True, boot_id="b0")
    payload = build_outbox_reset(event)
    payload.update(changes)
    return payload


def test_ingest_outbox_reset_joins_the_chain_and_is_not_an_airing(kit: DistrictKit) -> None:
    airings = kit.chain(KOI, 3)
    prev3 = sha256_hex(canonical_json(kit_payload(kit, 3)))
    body = canonical_json(reset_payload(4, prev3))
    reset = kit.stations[KOI].signer.sign(body, EVENT_TYP)
    after, _ = kit.event(KOI, 5, sha256_hex(body))
    store = open_store(kit.config)
    result = Ingestor(kit.config, store).ingest(
        [(EVENT_TOPIC, m, "test") for m in [*airings, reset, after]], NOW)
    assert dict(result.counts) == {"accepted": 5}
    summary = store.seq_summary(KOI)
    assert summary.gaps == () and summary.chain_breaks == () and summary.conflicts == ()
    assert store.ack_position(KOI) == (5, [])
    stored = {r.seq: r for r in store.iter_events(KOI)}
    assert stored[4].jws == reset  # kept byte for byte
    assert stored[4].facts.outcome is None and stored[4].facts.program is None  # never scored


def kit_payload(kit: DistrictKit, seq: int) -> dict[str, Any]:
    """The payload of seq ``seq`` of :meth:`DistrictKit.chain` (rebuilt the same way)."""
    from mqtt_broker import make_airing_payload

    prev = None
    for n in range(1, seq + 1):
        payload = make_airing_payload(KOI, n, prev, commune=kit.stations[KOI].commune)
        prev = sha256_hex(canonical_json(payload))
    return payload


@pytest.mark.parametrize(("changes", "detail"), [
    ({"last_known_seq": -1}, "last_known_seq: must be an integer >= 0"),
    ({"reason": None}, "reason: must be a string"),
    ({"at": "2024-03-05T07:00:00"}, "at: not an RFC 3339 time"),
    ({"prev": "abc"}, "prev: must be null or a hex SHA-256"),
])
def test_ingest_malformed_outbox_reset_is_quarantined(kit: DistrictKit, changes: dict[str, Any],
                                                      detail: str) -> None:
    payload = reset_payload(1, None)
    payload.update(changes)
    raw = kit.stations[KOI].signer.sign(canonical_json(payload), EVENT_TYP)
    store = open_store(kit.config)
    result = Ingestor(kit.config, store).ingest([(EVENT_TOPIC, raw, "test")], NOW)
    assert dict(result.counts) == {"rejected": 1}
    row = store.quarantine_rows()[-1]
    assert row[1] == "invalid-event" and detail in row[2]


def test_outbox_reset_round_trips() -> None:
    payload = reset_payload(7, "ab" * 32)
    assert build_outbox_reset(parse_outbox_reset(payload)) == payload
    assert list(payload)[:3] == ["v", "type", "district"] and payload["type"] == "outbox-reset"


def test_status_storage_error_round_trips_and_is_checked() -> None:
    from radio_protocol.errors import StatusError
    from radio_protocol.messages.status import Status, build_status, parse_status

    at = datetime(2024, 3, 5, 7, 0, tzinfo=UTC)
    built = build_status(Status(KOI, "online", at, storage_error="disk-full: no space"))
    assert list(built)[-1] == "storage_error" and parse_status(built).storage_error == "disk-full: no space"
    assert "storage_error" not in build_status(Status(KOI, "online", at))
    with pytest.raises(StatusError, match="storage_error: must be a string or null"):
        parse_status({**built, "storage_error": 3})
