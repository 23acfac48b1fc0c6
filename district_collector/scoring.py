"""SCORING.md, exactly, as a pure function of (events, registry, schedule slots, period).

:func:`score` walks the event records ONCE (no per-week or per-station queries): it
dedupes, finds conflicts, classifies each event of the period as counted or excluded
(first failing reason), marks the ISO weeks and calendar months aired per commune and
for the district, and tallies each station's seq range, gaps and chain breaks. The
result is the report dict (see docs of :func:`score`); it is deterministic, so
``verify`` recomputing it from an evidence bundle gets the same bytes.

Records come from the store's rows or from the verified JWS lines of a bundle; both
go through :func:`facts_from_payload` so the two paths read a payload the same way.

Choices where SCORING.md is silent (documented in the report's README section):
- Exclusion reasons are tried in this order: ``unknown-station`` (no registered keys
  to check the signature against), ``bad-signature``, ``program``, ``outcome``,
  ``clock-unsynced``, ``conflict``.
- A commune's ``excluded`` counts every event of the period of its stations that was
  left out (any reason); ``conflicts`` counts those among them whose (station, seq)
  was received with different payloads.
- ``weeks_aired`` / ``months_aired`` count *required* weeks / months that were aired;
  the grids also mark non-required edge weeks that had an airing.
- District-level stations count for the district (1.6, 1.7), not for a commune (1.5).
"""

from __future__ import annotations

import gc
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from district_collector.period import (
    Period,
    ScoringError,
    instant,
    period_months,
    period_weeks,
)
from district_collector.registry import Registry

PROGRAM = "chuyen-doi-so"
REASONS = ("unknown-station", "bad-signature", "program", "outcome", "clock-unsynced", "conflict")
POINTS_1_6 = 10
POINTS_1_7 = {"weekly": 10, "monthly": 5, "none": 0}
POINTS_1_5 = 20
__all__ = ["EventFacts", "Period", "ScoringError", "facts_from_payload", "no_gc_pauses", "period_months",
           "period_weeks", "score", "select_period_events", "tier"]


@dataclass(frozen=True, slots=True)
class EventFacts:
    """What scoring needs from one event (one distinct payload of a station's seq)."""

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
    at: datetime | None = None  # started_at as an instant (None when absent or unreadable)


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def facts_from_payload(payload: Mapping[str, Any], payload_sha256: str, signature_ok: bool) -> EventFacts:
    """The facts of an event payload. ValueError when it has no station or seq.

    Unknown or ill-typed members become None (the event is then excluded, not dropped).
    """
    station, seq = payload.get("station"), payload.get("seq")
    if not isinstance(station, str) or not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise ValueError("the payload has no string station and integer seq >= 1")
    seg = payload.get("segment")
    seg = seg if isinstance(seg, Mapping) else {}
    synced = payload.get("clock_synced")
    played = payload.get("played_s")
    return EventFacts(
        station=station, seq=seq, payload_sha256=payload_sha256, signature_ok=signature_ok,
        commune=_opt_str(payload.get("commune")), started_at=_opt_str(payload.get("started_at")),
        program=_opt_str(seg.get("program")), outcome=_opt_str(payload.get("outcome")),
        clock_synced=synced if isinstance(synced, bool) else None, slot=_opt_str(payload.get("slot")),
        prev=_opt_str(payload.get("prev")), segment_id=_opt_str(seg.get("id")),
        title=_opt_str(seg.get("title")),
        played_s=float(played) if isinstance(played, int | float) and not isinstance(played, bool) else None,
        at=instant(_opt_str(payload.get("started_at"))),
    )


def select_period_events(facts: Iterable[EventFacts], period: Period) -> list[EventFacts]:
    """The events a period's report and evidence bundle are about.

    Per station: every event whose seq lies in ``[min(S) - 1, max(S) + 1]``, where S
    are the seqs of its events started inside the period. The neighbours outside the
    period let a reader check the chain into and out of the period; taking whole seq
    ranges keeps both payloads of a conflict. Idempotent: selecting again from the
    result gives the result.
    """
    start_at, end_at = period.start_at, period.end_at
    items = list(facts)
    lo: dict[str, int] = {}
    hi: dict[str, int] = {}
    for f in items:
        at = f.at
        if at is not None and start_at <= at < end_at:
            lo[f.station] = min(lo.get(f.station, f.seq), f.seq)
            hi[f.station] = max(hi.get(f.station, f.seq), f.seq)
    return [f for f in items if f.station in lo and lo[f.station] - 1 <= f.seq <= hi[f.station] + 1]


def tier(required: list[bool], aired: set[int], required_m: list[bool], aired_m: set[int]) -> str:
    """SCORING.md 5: weekly, else monthly, else none."""
    if any(required) and all(i in aired for i, r in enumerate(required) if r):
        return "weekly"
    if any(required_m) and all(i in aired_m for i, r in enumerate(required_m) if r):
        return "monthly"
    return "none"


class _Tally:
    """Weeks and months aired, airings, exclusions and schedule counts of one scope."""

    def __init__(self) -> None:
        self.weeks: set[int] = set()
        self.months: set[int] = set()
        self.airings = 0
        self.excluded = 0
        self.conflicts = 0
        self.scheduled = 0
        self.scheduled_aired = 0


def _ranges(seqs: list[int]) -> list[list[int]]:
    """Missing seqs between consecutive present ones, as inclusive ``[from, to]`` ranges."""
    gaps = []
    for a, b in zip(seqs, seqs[1:], strict=False):
        if b > a + 1:
            gaps.append([a + 1, b - 1])
    return gaps


@contextmanager
def no_gc_pauses() -> Iterator[None]:
    """Suspend the cyclic garbage collector while building large acyclic results.

    Scoring allocates one dict per airing and none of them form cycles; with the
    collector on, its full passes over a heap of a million events made a 10x larger
    input take 25x longer (bench/report_bench.py). Reference counting still frees
    memory; the previous state is restored on exit.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def score(
    facts: Iterable[EventFacts],
    registry: Registry,
    period: Period,
    scheduled: Mapping[str, Collection[datetime]] | None = None,
) -> dict[str, Any]:
    """The report dict of SCORING.md (plus weeks, months, airings, excluded, stations, findings).

    ``facts``: the events (any order, duplicates allowed). ``scheduled``: per station,
    the instants of its ``chuyen-doi-so`` slots inside the period.
    """
    with no_gc_pauses():
        return _score(facts, registry, period, scheduled or {})


def _score(
    facts: Iterable[EventFacts],
    registry: Registry,
    period: Period,
    scheduled: Mapping[str, Collection[datetime]],
) -> dict[str, Any]:
    tz = period.tz
    start_ts, end_ts = period.start_at.timestamp(), period.end_at.timestamp()
    weeks = period_weeks(period)
    months = period_months(period)
    first_monday = period.start.toordinal() - period.start.weekday()
    first_month = period.start.year * 12 + period.start.month - 1
    req_w = [bool(w["required"]) for w in weeks]
    req_m = [bool(m["required"]) for m in months]

    # Dedupe (same station, seq and payload) and find the seqs received twice differently.
    unique: dict[tuple[str, int, str], EventFacts] = {}
    variants: dict[tuple[str, int], set[str]] = {}
    for f in facts:
        unique.setdefault((f.station, f.seq, f.payload_sha256), f)
        variants.setdefault((f.station, f.seq), set()).add(f.payload_sha256)

    communes = registry.communes()
    commune_of = {s: c.code for c in communes for s in c.stations}
    tallies = {c.code: _Tally() for c in communes}
    district = _Tally()
    matched: dict[str, set[datetime]] = {}
    # Sort keys (UTC seconds, station, seq[, payload hash]) are unique: tuples sort without a key.
    airings: list[tuple[float, str, int, dict[str, Any]]] = []
    excluded: list[tuple[float, str, int, str, dict[str, Any]]] = []
    per_station: dict[str, list[EventFacts]] = {}
    unknown_counts: dict[str, int] = {}
    station_of = registry.station
    no_slots: frozenset[datetime] = frozenset()

    for f in unique.values():
        rows = per_station.get(f.station)
        if rows is None:
            rows = per_station[f.station] = []
        rows.append(f)
        at = f.at
        if at is None:
            continue
        ts = at.timestamp()
        if not start_ts <= ts < end_ts:
            continue
        reg = station_of(f.station)
        commune = reg.commune_code if reg is not None else f.commune
        conflict = len(variants[(f.station, f.seq)]) > 1
        if reg is None:
            reason: str | None = "unknown-station"
            unknown_counts[f.station] = unknown_counts.get(f.station, 0) + 1
        elif not f.signature_ok:
            reason = "bad-signature"
        elif f.program != PROGRAM:
            reason = "program"
        elif f.outcome != "completed":
            reason = "outcome"
        elif f.clock_synced is not True:
            reason = "clock-unsynced"
        elif conflict:
            reason = "conflict"
        else:
            reason = None
        tally = tallies.get(commune_of.get(f.station, ""))
        if reason is not None:
            excluded.append((ts, f.station, f.seq, f.payload_sha256, {
                "station": f.station, "commune": commune, "seq": f.seq, "started_at": f.started_at,
                "reason": reason, "payload_sha256": f.payload_sha256}))
            if tally is not None:
                tally.excluded += 1
                tally.conflicts += conflict
            continue
        local = at.astimezone(tz)
        day = local.date()
        wi = (day.toordinal() - first_monday) // 7
        mi = day.year * 12 + day.month - 1 - first_month
        district.weeks.add(wi)
        district.months.add(mi)
        district.airings += 1
        if tally is not None:
            tally.weeks.add(wi)
            tally.months.add(mi)
            tally.airings += 1
        if f.slot is not None:
            slots = scheduled.get(f.station, no_slots)
            if slots:
                slot_at = instant(f.slot)
                if slot_at is not None and slot_at in slots:
                    matched.setdefault(f.station, set()).add(slot_at)
        airings.append((ts, f.station, f.seq, {
            "station": f.station, "commune": commune, "seq": f.seq, "started_at": f.started_at,
            "local_date": day.isoformat(), "local_time": f"{local.hour:02d}:{local.minute:02d}",
            "segment_id": f.segment_id, "title": f.title, "played_s": f.played_s, "slot": f.slot}))

    for st in registry.stations:
        n_sched, n_aired = len(scheduled.get(st.id, ())), len(matched.get(st.id, ()))
        for scope_tally in (district, tallies.get(commune_of.get(st.id, ""))):
            if scope_tally is not None:
                scope_tally.scheduled += n_sched
                scope_tally.scheduled_aired += n_aired

    def scope(t: _Tally) -> dict[str, Any]:
        tr = tier(req_w, t.weeks, req_m, t.months)
        return {
            "tier": tr,
            "required_weeks": sum(req_w),
            "weeks_aired": sum(1 for i in t.weeks if req_w[i]),
            "missing_weeks": sorted(weeks[i]["week"] for i, r in enumerate(req_w) if r and i not in t.weeks),
            "required_months": sum(req_m),
            "months_aired": sum(1 for i in t.months if req_m[i]),
            "missing_months": sorted(months[i]["month"] for i, r in enumerate(req_m) if r and i not in t.months),
            "airings": t.airings,
            "excluded": t.excluded,
            "conflicts": t.conflicts,
            "schedule": {"scheduled": t.scheduled, "aired": t.scheduled_aired},
            "weeks_grid": ["aired" if i in t.weeks else ("not-aired" if r else "not-required")
                           for i, r in enumerate(req_w)],
            "months_grid": ["aired" if i in t.months else ("not-aired" if r else "not-required")
                            for i, r in enumerate(req_m)],
        }

    d = scope(district)
    district_json = {
        "id": registry.district_id, "name": registry.district_name,
        "key_thumbprint": registry.district_kids[0] if registry.district_keys else None,
        "tier": d["tier"],
        "required_weeks": d["required_weeks"], "weeks_aired": d["weeks_aired"],
        "required_months": d["required_months"], "months_aired": d["months_aired"],
        "airings": d["airings"],
        "criteria": {"1.6": POINTS_1_6 if district.airings > 0 else 0, "1.7": POINTS_1_7[d["tier"]]},
        "missing_weeks": d["missing_weeks"], "missing_months": d["missing_months"],
        "excluded": len(excluded), "schedule": d["schedule"],
        "weeks_grid": d["weeks_grid"], "months_grid": d["months_grid"],
    }
    communes_json = []
    for c in communes:
        s = scope(tallies[c.code])
        communes_json.append({"code": c.code, "name": c.name, "stations": list(c.stations), **s,
                              "criteria": {"1.5": POINTS_1_5 if s["tier"] == "weekly" else 0}})

    stations_json, findings = _stations(registry, per_station, variants, unknown_counts, period)
    if not airings and not excluded:
        findings.insert(0, f"No events in the period {period.start}..{period.end}.")
    if not communes:
        findings.insert(0, "The registry has no commune-level stations: no commune is scored.")
    return {
        "period": period.as_json(),
        "district": district_json,
        "communes": communes_json,
        "weeks": weeks,
        "months": months,
        "airings": [a[3] for a in sorted(airings)],
        "excluded": [e[4] for e in sorted(excluded)],
        "stations": stations_json,
        "findings": findings,
    }


def _stations(
    registry: Registry,
    per_station: dict[str, list[EventFacts]],
    variants: dict[tuple[str, int], set[str]],
    unknown_counts: dict[str, int],
    period: Period,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Each station's seq range, gaps, chain breaks and conflicts, and the findings."""
    ids = [s.id for s in registry.stations]
    ids += sorted(set(per_station) - set(ids))
    out: list[dict[str, Any]] = []
    findings: list[str] = []
    for sid in ids:
        reg = registry.station(sid)
        rows = sorted(per_station.get(sid, []), key=lambda f: (f.seq, f.payload_sha256))
        seqs = sorted({f.seq for f in rows})
        breaks: set[int] = set()
        for f in rows:
            if f.seq == 1:
                if f.prev is not None:
                    breaks.add(1)
            elif (sid, f.seq - 1) in variants and f.prev not in variants[(sid, f.seq - 1)]:
                breaks.add(f.seq)
        conflicts = [s for s in seqs if len(variants[(sid, s)]) > 1]
        unverified = sorted({f.seq for f in rows if not f.signature_ok}) if reg is not None else []
        gaps = _ranges(seqs)
        out.append({"id": sid, "commune": reg.commune_code if reg else (rows[0].commune if rows else None),
                    "first_seq": seqs[0] if seqs else None, "last_seq": seqs[-1] if seqs else None,
                    "events": len(rows), "gaps": gaps, "chain_breaks": sorted(breaks),
                    "conflicts": conflicts, "bad_signatures": unverified})
        if reg is None:
            findings.append(f"Station {sid} is not in the registry: its {unknown_counts.get(sid, 0)} "
                            f"event(s) of the period do not count.")
        elif not rows:
            findings.append(f"Station {sid} ({reg.commune_name}) has no events in the period "
                            f"{period.start}..{period.end}.")
        for lo, hi in gaps:
            what = f"seq {lo}" if lo == hi else f"seqs {lo}-{hi}"
            findings.append(f"Station {sid}: {what} missing ({hi - lo + 1} event(s) not received).")
        for s in sorted(breaks):
            findings.append(f"Station {sid}: seq {s} does not chain to seq {s - 1} (prev differs).")
        if unverified:
            findings.append(f"Station {sid}: {len(unverified)} event(s) do not verify with the station's "
                            f"registered keys (seq {', '.join(map(str, unverified[:10]))}"
                            f"{'...' if len(unverified) > 10 else ''}); they do not count.")
        for s in conflicts:
            findings.append(f"Station {sid}: seq {s} was received with {len(variants[(sid, s)])} "
                            f"different payloads (conflict); none of them counts.")
    return out, findings
