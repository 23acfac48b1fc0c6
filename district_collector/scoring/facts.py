"""The facts scoring reads from one event, and the period selection of events.

Both inputs of :func:`district_collector.scoring.compute.score` are made of these: a bundle's
payloads through :func:`facts_from_payload`, and the store's ``event_facts`` rows
(filled at insert from the same facts, see ``district_collector.store.schema``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import NamedTuple

from district_collector.scoring.period import EPOCH, US, Period, utc_us

__all__ = ["EventFacts", "Facts", "FactsRow", "facts_from_payload", "payload_bytes", "select_period_events"]


def payload_bytes(jws: bytes) -> bytes:
    """The payload bytes of a flattened JWS already verified (not checked again).

    Our own form is read without parsing the wrapper; anything else (escapes, another
    layout) goes through ``json``. ValueError when there is no readable payload.
    """
    start = jws.find(b'"payload":"')
    encoded = None
    if start >= 0:
        start += 11
        encoded = jws[start:jws.index(b'"', start)]
    if encoded is None or b"\\" in encoded:
        try:
            member = json.loads(jws)["payload"]
        except (KeyError, TypeError) as exc:
            raise ValueError("no payload member") from exc
        if not isinstance(member, str):
            raise ValueError("the payload member is not a string")
        encoded = member.encode("ascii", "replace")
    try:
        return base64.b64decode(encoded + b"=" * (-len(encoded) % 4), altchars=b"-_", validate=True)
    except binascii.Error as exc:
        raise ValueError(f"the payload is not base64url: {exc}") from exc


# One event for scoring as a plain tuple in EventFacts field order, as the store's report
# rows come (``signature_ok`` and ``clock_synced`` as 0/1); an EventFacts is one too.
FactsRow = tuple[str, int, str, int, str | None, str | None, str | None, str | None, int | None, str | None,
                 str | None, str | None, str | None, float | None, int | None]
Facts = FactsRow


class EventFacts(NamedTuple):
    """What scoring needs from one event (one distinct payload of a station's seq).

    A named tuple, so the store can hand its rows over without per-field work.
    ``signature_ok`` and ``clock_synced`` are read for truth (the store gives 0/1).
    ``utc_us``: ``started_at`` as integer microseconds since the Unix epoch (None when
    absent or unreadable).
    """

    station: str
    seq: int
    payload_sha256: str
    signature_ok: bool
    commune: str | None
    started_at: str | None
    program: str | None
    outcome: str | None
    clock_synced: bool | None
    slot: str | None
    prev: str | None
    segment_id: str | None
    title: str | None
    played_s: float | None
    utc_us: int | None = None

    @property
    def at(self) -> datetime | None:
        """``started_at`` as an aware UTC instant."""
        return None if self.utc_us is None else EPOCH + self.utc_us * US


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def facts_from_payload(payload: Mapping[str, object], payload_sha256: str, signature_ok: bool) -> EventFacts:
    """The facts of an event payload. ValueError when it has no station or seq.

    Unknown or ill-typed members become None (the event is then excluded, not dropped).
    The store keeps these same facts as columns at insert (``Store.add_batch``).
    """
    station, seq = payload.get("station"), payload.get("seq")
    if not isinstance(station, str) or not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise ValueError("the payload has no string station and integer seq >= 1")
    seg = payload.get("segment")
    seg = seg if isinstance(seg, Mapping) else {}
    synced = payload.get("clock_synced")
    played = payload.get("played_s")
    started_at = _opt_str(payload.get("started_at"))
    return EventFacts(
        station=station, seq=seq, payload_sha256=payload_sha256, signature_ok=signature_ok,
        commune=_opt_str(payload.get("commune")), started_at=started_at,
        program=_opt_str(seg.get("program")), outcome=_opt_str(payload.get("outcome")),
        clock_synced=synced if isinstance(synced, bool) else None, slot=_opt_str(payload.get("slot")),
        prev=_opt_str(payload.get("prev")), segment_id=_opt_str(seg.get("id")),
        title=_opt_str(seg.get("title")),
        played_s=float(played) if isinstance(played, int | float) and not isinstance(played, bool) else None,
        utc_us=utc_us(started_at),
    )


def select_period_events(facts: Iterable[EventFacts], period: Period) -> list[EventFacts]:
    """The events a period's report and evidence bundle are about.

    Per station: every event whose seq lies in ``[min(S) - 1, max(S) + 1]``, where S
    are the seqs of its events started inside the period. The neighbours outside the
    period let a reader check the chain into and out of the period; taking whole seq
    ranges keeps both payloads of a conflict. Idempotent: selecting again from the
    result gives the result. (The store does the same selection in SQL.)
    """
    start_us, end_us = period.start_us, period.end_us
    items = list(facts)
    lo: dict[str, int] = {}
    hi: dict[str, int] = {}
    for f in items:
        ts = f.utc_us
        if ts is not None and start_us <= ts < end_us:
            st, seq = f.station, f.seq
            if seq < lo.get(st, seq + 1):
                lo[st] = seq
            if seq > hi.get(st, seq - 1):
                hi[st] = seq
    return [f for f in items if f.station in lo and lo[f.station] - 1 <= f.seq <= hi[f.station] + 1]
