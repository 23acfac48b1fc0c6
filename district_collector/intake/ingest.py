"""Verifying what stations send, before anything is stored.

:class:`Ingestor` turns raw messages (MQTT topic + bytes, or an imported JWS line) into
store records: a verified event, a verified status, or a quarantine record with a
reason code. Checks, in order (docs/protocol.md): the topic is one of this district's
station topics, the station is registered, the JWS verifies with ``alg`` EdDSA against
the keys registered for the station NAMED IN THE TOPIC with ``typ`` matching the topic
kind, and the payload names that same station and this district and has the members
and types the protocol requires.

Quarantine reasons: the JOSE codes of :class:`radio_protocol.errors.JoseError`
(``too-large``, ``bad-json``, ``bad-base64``, ``alg``, ``typ``, ``unknown-kid``,
``bad-signature``, ``bad-payload``) and ``bad-topic``, ``unknown-station``,
``station-mismatch``, ``district-mismatch``, ``commune-mismatch``, ``invalid-event``,
``invalid-status``, ``internal-error`` (a check that failed unexpectedly: logged with
its traceback; the other messages of the batch are stored as usual) and ``store-refused``
(a record that verified but that the store cannot hold: the batch is rolled back and its
records stored one by one, so only that one goes to quarantine). A message over 64 KiB
keeps its first 64 KiB in quarantine, the detail giving its size and SHA-256.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from district_collector.config import DistrictConfig
from district_collector.store.base import RecordRefused, Store, StoreError
from district_collector.store.records import QuarantineRecord, StatusRecord, StoredEvent
from radio_protocol.errors import CommuneRadioError, EventError, JoseError, StatusError
from radio_protocol.jose import decode_payload, parse_jws, sha256_hex, verify
from radio_protocol.messages.event import AiringEvent, parse_event
from radio_protocol.messages.outbox_reset import OUTBOX_RESET_TYPE, OutboxReset, parse_outbox_reset
from radio_protocol.messages.status import Status, parse_status
from radio_protocol.names import MAX_JWS_BYTES, TYP_BY_KIND
from radio_protocol.topics import parse_topic

log = logging.getLogger(__name__)

OUTCOMES = ("accepted", "duplicate", "conflict")
_RAW_KEEP = MAX_JWS_BYTES  # bytes of an oversized message kept in quarantine


class Rejected(CommuneRadioError):
    """A message that must go to quarantine: ``reason`` is the quarantine reason code,
    ``detail`` says what is wrong, ``station`` the station it came from when known."""

    def __init__(self, reason: str, detail: str, station: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.station = station


@dataclass
class BatchResult:
    """What one batch did: counts by outcome (``accepted``, ``duplicate``, ``conflict``,
    ``rejected``), the stations whose events arrived (acks are due to them), and the
    stations that sent a status."""

    counts: Counter[str] = field(default_factory=Counter)
    event_stations: set[str] = field(default_factory=set)
    rejects: list[QuarantineRecord] = field(default_factory=list)


def check_event_payload(p: dict[str, Any]) -> AiringEvent | OutboxReset:
    """Required members and types of an ``airing`` event (:func:`parse_event`) or of an
    ``outbox-reset`` event (:func:`parse_outbox_reset`: stored in the station's chain,
    never scored as an airing); raise Rejected (``invalid-event``) naming the member."""
    try:
        if p.get("type") == OUTBOX_RESET_TYPE:
            return parse_outbox_reset(p)
        return parse_event(p)
    except EventError as exc:
        raise Rejected(exc.reason, exc.detail) from exc


def check_status_payload(p: dict[str, Any], station: str) -> Status:
    """A status payload (:func:`parse_status`); raise Rejected (``invalid-status``)."""
    try:
        return parse_status(p)
    except StatusError as exc:
        raise Rejected(exc.reason, exc.detail, station) from exc


class Ingestor:
    """Verifies messages for one district and stores them in batches."""

    def __init__(self, config: DistrictConfig, store: Store) -> None:
        self.config = config
        self.store = store
        self.district = config.district.id

    # --- one message --------------------------------------------------------------------

    def check_message(self, topic: str, raw: bytes, source: str,
                      received_at: datetime) -> StoredEvent | StatusRecord:
        """Verify one MQTT message received at ``received_at``; raise :class:`Rejected`
        with the reason."""
        parsed = parse_topic(topic)
        if parsed is None or parsed[0] != self.district or parsed[2] not in ("event", "status"):
            raise Rejected("bad-topic", f"not an event/status topic of district {self.district}: {topic!r}")
        _, station, kind = parsed
        if kind == "event":
            return self.check_event(raw, station, source, received_at)
        return self.check_status(raw, station, received_at)

    def _verify(self, raw: bytes, station: str, kind: str) -> tuple[dict[str, Any], bytes, str]:
        entry = self.config.station(station)
        if entry is None:
            raise Rejected("unknown-station", f"station {station!r} is not registered", station)
        try:
            v = verify(raw, entry.keyring, TYP_BY_KIND[kind])
        except JoseError as exc:
            raise Rejected(exc.reason, exc.detail, station) from exc
        p = v.payload
        if p.get("station") != station:
            raise Rejected("station-mismatch",
                           f"payload station {p.get('station')!r}, topic/registry station {station!r}", station)
        return p, v.payload_bytes, v.kid

    def check_event(self, raw: bytes, station: str | None, source: str, received_at: datetime) -> StoredEvent:
        """Verify an event JWS; its record, facts read from the payload verified here.
        ``station`` None (import): taken from the payload, then verified with that
        station's registered keys."""
        if station is None:
            station = self._claimed_station(raw)
        p, payload_bytes, kid = self._verify(raw, station, "event")
        if p.get("district") != self.district:
            raise Rejected("district-mismatch", f"payload district {p.get('district')!r}, expected "
                           f"{self.district!r}", station)
        try:
            check_event_payload(p)
        except Rejected as exc:
            exc.station = station
            raise
        entry = self.config.station(station)
        assert entry is not None
        if p["commune"] != entry.commune_code:
            raise Rejected("commune-mismatch",
                           f"payload commune {p['commune']!r}, registered {entry.commune_code!r}", station)
        return StoredEvent.from_payload(bytes(raw), p, sha256_hex(payload_bytes), kid, received_at, source)

    def check_status(self, raw: bytes, station: str, received_at: datetime) -> StatusRecord:
        p, _, _ = self._verify(raw, station, "status")
        status = check_status_payload(p, station)
        return StatusRecord(station=station, state=status.state, at=p["at"], jws=bytes(raw),
                            received_at=received_at)

    @staticmethod
    def _claimed_station(raw: bytes) -> str:
        try:
            _, _, payload_bytes = parse_jws(raw)
            payload = decode_payload(payload_bytes)
        except JoseError as exc:
            raise Rejected(exc.reason, exc.detail) from exc
        station = payload.get("station")
        if not isinstance(station, str):
            raise Rejected("invalid-event", "station: missing or not a string")
        return station

    # --- batches ------------------------------------------------------------------------

    @staticmethod
    def _quarantine(result: BatchResult, source: str, station: str | None, reason: str, detail: str,
                    raw: bytes, received_at: datetime) -> None:
        if len(raw) > _RAW_KEEP:  # keep the head; the hash still names the whole message
            detail += f"; first {_RAW_KEEP} bytes kept, sha256 of all {len(raw)}: {sha256_hex(bytes(raw))}"
        log.warning("message quarantined source=%s station=%s reason=%s detail=%s",
                    source, station, reason, detail[:200])
        result.rejects.append(QuarantineRecord(source, station, reason, detail, bytes(raw[:_RAW_KEEP]), received_at))
        result.counts["rejected"] += 1

    def ingest(self, messages: Sequence[tuple[str | None, bytes, str]], received_at: datetime) -> BatchResult:
        """Verify and store ``(topic or None for an imported event, raw, source)`` in one
        transaction. Returns once the batch is committed (or raises StoreError)."""
        result = BatchResult()
        events: list[StoredEvent] = []
        statuses: list[StatusRecord] = []
        for topic, raw, source in messages:
            try:
                if topic is None:
                    rec: StoredEvent | StatusRecord = self.check_event(raw, None, source, received_at)
                else:
                    rec = self.check_message(topic, raw, source, received_at)
            except Rejected as exc:
                self._quarantine(result, source, exc.station, exc.reason, exc.detail, raw, received_at)
                continue
            except Exception as exc:  # a bug must not cost the good messages of the batch
                log.exception("message check failed source=%s", source)
                self._quarantine(result, source, None, "internal-error",
                                 f"{type(exc).__name__}: {exc}", raw, received_at)
                continue
            if isinstance(rec, StoredEvent):
                events.append(rec)
            else:
                statuses.append(rec)
                result.counts["status"] += 1
        stored = self._commit(result, events, statuses, received_at)
        for rec, outcome in stored:
            result.counts[outcome] += 1
            result.event_stations.add(rec.station)
            if outcome == "conflict":
                log.warning("event conflict station=%s seq=%d sha256=%s", rec.station, rec.seq,
                            rec.payload_sha256)
        return result

    def _commit(self, result: BatchResult, events: list[StoredEvent], statuses: list[StatusRecord],
                received_at: datetime) -> list[tuple[StoredEvent, str]]:
        """Store the batch in one transaction; the stored events with their outcomes.

        When the store refuses a record (RecordRefused, or any error that is not the store
        being unavailable), the batch was rolled back: each event and status is then stored
        on its own, and one the store still refuses goes to quarantine (``store-refused``)
        with the batch's other rejects. A plain StoreError (the store is unavailable)
        propagates: nothing is acked and the stations send again.
        """
        try:
            outcomes = self.store.add_batch(events, result.rejects, statuses)
            return list(zip(events, outcomes, strict=True))
        except RecordRefused as exc:
            log.warning("batch refused by the store, storing its records one by one: %s", exc)
        except StoreError:
            raise
        except Exception:
            log.exception("batch failed in the store, storing its records one by one")
        stored: list[tuple[StoredEvent, str]] = []
        records: list[StoredEvent | StatusRecord] = [*events, *statuses]
        for rec in records:
            try:
                if isinstance(rec, StoredEvent):
                    stored.append((rec, self.store.add_batch([rec])[0]))
                else:
                    self.store.add_batch([], (), [rec])
            except StoreError as exc:
                if not isinstance(exc, RecordRefused):
                    raise
                self._refused(result, rec, exc, received_at)
            except Exception as exc:
                log.exception("record failed in the store station=%s", rec.station)
                self._refused(result, rec, exc, received_at)
        self.store.add_batch([], result.rejects, [])
        return stored

    def _refused(self, result: BatchResult, rec: StoredEvent | StatusRecord, exc: Exception,
                 received_at: datetime) -> None:
        source = rec.source if isinstance(rec, StoredEvent) else "mqtt"
        if isinstance(rec, StatusRecord):
            result.counts["status"] -= 1
        self._quarantine(result, source, rec.station, "store-refused", f"{type(exc).__name__}: {exc}",
                         rec.jws, received_at)
