"""What goes into the district's store and what comes out of it, whatever the database.

:class:`StoredEvent` is THE event record: the ingestor builds it from a verified JWS,
the store writes its ``events`` and ``event_facts`` rows from it, and reads it back
(:meth:`~district_collector.store.base.Store.iter_events`,
:meth:`~district_collector.store.base.Store.period_events`). Quarantined messages and
station statuses have their own records; reads that are not events have their own rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, NamedTuple

from district_collector.scoring.facts import EventFacts, facts_from_payload, payload_bytes
from radio_protocol.errors import CommuneRadioError
from radio_protocol.jose import sha256_hex
from radio_protocol.messages.status import Status, parse_status

Outcome = Literal["accepted", "duplicate", "conflict"]
ACCEPTED: Outcome = "accepted"
DUPLICATE: Outcome = "duplicate"
CONFLICT: Outcome = "conflict"


@dataclass(frozen=True)
class StoredEvent:
    """One verified event (one distinct payload of a station's seq) as the store keeps it.

    ``jws``: exactly the bytes received (the evidence); ``kid``: the key that signed it;
    ``received_at``: when the collector received it (aware); ``source``: where it came
    from (``mqtt``, ``import:FILE:LINE``...); ``schedule_version``: the payload's member;
    ``facts``: what scoring reads from the payload (its ``station``, ``seq`` and
    ``payload_sha256`` are this event's). ``facts.signature_ok`` is True for an event read
    without a registry (it verified at ingest); a period read sets it from the registry.
    """

    jws: bytes
    kid: str
    received_at: datetime
    source: str
    schedule_version: int | None
    facts: EventFacts = field(repr=False)

    @property
    def station(self) -> str:
        return self.facts.station

    @property
    def seq(self) -> int:
        return self.facts.seq

    @property
    def payload_sha256(self) -> str:
        """The SHA-256 (hex) of the payload bytes: with station and seq, the event's key."""
        return self.facts.payload_sha256

    @classmethod
    def from_payload(cls, jws: bytes, payload: dict[str, object], payload_sha256: str, kid: str,
                     received_at: datetime, source: str) -> StoredEvent:
        """The record of a verified JWS whose payload object the caller already decoded.

        ValueError when the payload has no string station and integer seq >= 1.
        """
        version = payload.get("schedule_version")
        return cls(
            jws=jws, kid=kid, received_at=received_at, source=source,
            schedule_version=version if isinstance(version, int) and not isinstance(version, bool) else None,
            facts=facts_from_payload(payload, payload_sha256, True),
        )

    @classmethod
    def from_jws(cls, jws: bytes, kid: str, received_at: datetime, source: str) -> StoredEvent:
        """The record of a JWS verified elsewhere (its payload is decoded, not verified).

        ValueError when the JWS has no readable JSON object payload with station and seq.
        """
        body = payload_bytes(jws)
        payload = json.loads(body)
        if not isinstance(payload, dict):
            raise ValueError("the payload is not a JSON object")
        return cls.from_payload(jws, payload, sha256_hex(body), kid, received_at, source)


@dataclass(frozen=True)
class QuarantineRecord:
    """A rejected message to keep: ``reason`` is the quarantine code, ``raw`` the bytes
    (the head of an oversized message), ``station`` the sender when known."""

    source: str
    station: str | None
    reason: str
    detail: str
    raw: bytes
    received_at: datetime


@dataclass(frozen=True)
class StatusRecord:
    """A verified status: ``state`` online/offline, ``at`` the station's RFC 3339 time."""

    station: str
    state: str
    at: str | None
    jws: bytes
    received_at: datetime


class StatusRow(NamedTuple):
    """A station's latest stored status; ``received_at`` is when its state was first seen
    (RFC 3339 text, milliseconds). A named tuple: the console reads and compares the
    whole fleet's (10,000 and more) on every poll."""

    station: str
    state: str
    at: str | None
    received_at: str
    jws: bytes

    def status(self) -> Status | None:
        """The stored status payload, read with :func:`radio_protocol.messages.status.parse_status`;
        None when it no longer reads (a row stored before the rules it now breaks)."""
        try:
            return parse_status(json.loads(payload_bytes(self.jws)))
        except (CommuneRadioError, ValueError, UnicodeDecodeError):
            return None


@dataclass(frozen=True)
class SeqSummary:
    """Per-station view of the seq space.

    ``through``: every seq 1..through is stored. ``gaps``: inclusive ranges of missing
    seqs below ``last_seq``. ``chain_breaks``: seqs whose ``prev`` does not match the
    stored payload of seq-1 (or seq 1 with a non-null prev). ``conflicts``: seqs stored
    with more than one distinct payload.
    """

    station: str
    count: int
    last_seq: int
    through: int
    gaps: tuple[tuple[int, int], ...]
    chain_breaks: tuple[int, ...]
    conflicts: tuple[int, ...]


class QuarantineRow(NamedTuple):
    """A stored quarantine entry as :meth:`~district_collector.store.base.Store.quarantine_rows`
    gives it (a named tuple: it unpacks as ``station, reason, detail, raw``)."""

    station: str | None
    reason: str
    detail: str
    raw: bytes


def classify_batch(events: Sequence[StoredEvent],
                   known: dict[tuple[str, int], set[str]]) -> tuple[list[Outcome], list[StoredEvent]]:
    """The identity rules of ``Store.add_batch``, for every backend: each event's outcome
    against ``known`` (the stored payload hashes of each ``(station, seq)`` of the batch,
    which this updates with the batch's own events as it goes), and the events to insert.

    Same key again (stored or earlier in the batch): ``duplicate``, not inserted; same
    ``(station, seq)`` with another hash: ``conflict``, inserted; else ``accepted``."""
    outcomes: list[Outcome] = []
    new: list[StoredEvent] = []
    for ev in events:
        shas = known.setdefault((ev.station, ev.seq), set())
        if ev.payload_sha256 in shas:
            outcomes.append(DUPLICATE)
            continue
        outcomes.append(CONFLICT if shas else ACCEPTED)
        shas.add(ev.payload_sha256)
        new.append(ev)
    return outcomes, new
