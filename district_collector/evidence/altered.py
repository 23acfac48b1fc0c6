"""Events of a bundle that were changed after export, told in one line each.

A line of ``events.jsonl`` that is not a readable JWS, or whose signature fails, was changed
after export (the collector stores verified events only). Left out of the recomputation, it
would also show as a seq gap, a chain break and a dozen ``report.json`` differences that are
only its echoes. So ``verify`` names the event once (:class:`AlteredEvent`: line, station,
seq, what failed) and recomputes the report with a stand-in for it built from what the signed
``report.json`` says about that (station, seq) (:func:`stand_in`): "present but altered" for
the seq and chain continuity checks. Whatever still differs after that is a difference of its
own and is reported as such; the verdict stays NOT VERIFIED either way.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from district_collector.scoring.compute import PROGRAM
from district_collector.scoring.facts import EventFacts
from district_collector.scoring.period import utc_us
from radio_protocol.jose import sha256_hex

_PAYLOAD = re.compile(rb'"payload"\s*:\s*"([A-Za-z0-9_-]*)')
_STATION = re.compile(r'"station"\s*:\s*"([^"\\]{1,200})"')
_SEQ = re.compile(r'"seq"\s*:\s*(\d{1,12})\b')


@dataclass
class AlteredEvent:
    """One changed line: ``station``/``seq`` None when not even they can be read; ``readable``:
    a JWS whose signature fails (else the line is not a readable JWS)."""

    line: int
    station: str | None
    seq: int | None
    failure: str
    placeholder_sha: str
    readable: bool = False

    def describe(self, events_name: str, explained: bool) -> str:
        """The one line ``verify`` prints for this event."""
        who = (f"station {self.station}, seq {self.seq}" if self.station is not None and self.seq is not None
               else "station and seq unreadable")
        if self.readable:
            text = (f"{events_name} line {self.line} ({who}): {self.failure}; the event was changed after "
                    "export (the collector stores only verified events)")
        else:
            text = (f"{events_name} line {self.line}: {self.failure}; {who}; the line was changed after export "
                    "or added (the collector stores only verified events)")
        if explained:
            text += ("; the report was checked with this event as report.json lists it, and everything "
                     "else matches (no seq gap or chain break is due to it)")
        return text


def claimed_identity(line: bytes, payload: Mapping[str, Any] | None) -> tuple[str | None, int | None]:
    """Station and seq as the (possibly damaged) line states them."""
    if payload is not None:
        station, seq = payload.get("station"), payload.get("seq")
        if isinstance(station, str) and isinstance(seq, int) and not isinstance(seq, bool):
            return station, seq
    match = _PAYLOAD.search(line)
    if match is None:
        return None, None
    encoded = match.group(1)
    try:
        body = base64.urlsafe_b64decode(encoded + b"=" * (-len(encoded) % 4)).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None, None
    station_m, seq_m = _STATION.search(body), _SEQ.search(body)
    return (station_m.group(1) if station_m else None), (int(seq_m.group(1)) if seq_m else None)


def settle_identities(altered: Sequence[AlteredEvent], order: Sequence[tuple[int, str, int]]) -> None:
    """Correct a claimed (station, seq) the damage may have changed, from the file's order.

    ``order``: (line, station, seq) of the readable lines; the bundle writes events sorted by
    station and seq, so a changed line between seq n-1 and n+1 of one station is seq n.
    """
    for event in altered:
        before = max((o for o in order if o[0] < event.line), default=None)
        after = min((o for o in order if o[0] > event.line), default=None)
        if before is None or after is None or before[1] != after[1]:
            continue
        claim = (event.station, event.seq)
        if claim[0] == before[1] and claim[1] is not None and before[2] <= claim[1] <= after[2]:
            continue  # the claim fits its place in the file
        if after[2] - before[2] == 2:
            event.station, event.seq = before[1], before[2] + 1


def _station_entry(report: Mapping[str, Any], station: str) -> Mapping[str, Any]:
    for entry in report.get("stations") or []:
        if isinstance(entry, Mapping) and entry.get("id") == station:
            return entry
    return {}


def stand_in(event: AlteredEvent, report: Mapping[str, Any], facts: Sequence[EventFacts],
             program: str = PROGRAM) -> EventFacts | None:
    """The facts of the changed event as the signed report lists it (None without station and seq).
    ``program``: the programme the bundle's criteria set counts.

    An airing of the report gives a counted event; an exclusion gives one excluded for the same
    reason; an event the report does not list (a neighbour just outside the period) is present
    with no start time. ``prev`` and the payload hash are taken from the neighbouring events,
    so the chain is continuous exactly where the signed report says it is.
    """
    station, seq = event.station, event.seq
    if station is None or seq is None:
        return None
    breaks = set(_station_entry(report, station).get("chain_breaks") or [])
    shas = {f.payload_sha256 for f in facts if f.station == station and f.seq == seq}
    before = [f.payload_sha256 for f in facts if f.station == station and f.seq == seq - 1]
    after = [f.prev for f in facts if f.station == station and f.seq == seq + 1]
    prev = None if seq in breaks or not before else before[0]
    if seq in breaks:
        prev = "0" * 64
    sha = after[0] if after and after[0] and seq + 1 not in breaks else event.placeholder_sha
    for a in report.get("airings") or []:
        if isinstance(a, Mapping) and a.get("station") == station and a.get("seq") == seq:
            started = a.get("started_at") if isinstance(a.get("started_at"), str) else None
            return EventFacts(station, seq, sha, True, a.get("commune"), started, program, "completed", True,
                              a.get("slot"), prev, a.get("segment_id"), a.get("title"), a.get("played_s"),
                              utc_us(started))
    for x in report.get("excluded") or []:
        if (isinstance(x, Mapping) and x.get("station") == station and x.get("seq") == seq
                and x.get("payload_sha256") not in shas):
            reason = x.get("reason")
            started = x.get("started_at") if isinstance(x.get("started_at"), str) else None
            return EventFacts(station, seq, str(x.get("payload_sha256") or sha), reason != "bad-signature",
                              x.get("commune"), started, "other" if reason == "program" else program,
                              "interrupted" if reason == "outcome" else "completed", reason != "clock-unsynced",
                              None, prev, None, None, None, utc_us(started))
    return EventFacts(station, seq, sha, True, None, None, None, None, None, None, prev, None, None, None, None)


def placeholder(line: bytes) -> str:
    return sha256_hex(line)
