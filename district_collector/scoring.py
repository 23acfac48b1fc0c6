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
from datetime import date, datetime
from typing import Any, NamedTuple

from district_collector.period import (
    EPOCH,
    US,
    Period,
    ScoringError,
    instant,
    period_months,
    period_weeks,
    utc_us,
)
from district_collector.registry import Registry

PROGRAM = "chuyen-doi-so"
REASONS = ("unknown-station", "bad-signature", "program", "outcome", "clock-unsynced", "conflict")
POINTS_1_6 = 10
POINTS_1_7 = {"weekly": 10, "monthly": 5, "none": 0}
POINTS_1_5 = 20
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_MINUTE_US = 60_000_000
_DAY_US = 86_400_000_000
_HHMM = [f"{m // 60:02d}:{m % 60:02d}" for m in range(1440)]
__all__ = ["EventFacts", "Period", "ScoringError", "facts_from_payload", "no_gc_pauses", "period_months",
           "period_weeks", "score", "select_period_events", "tier"]


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


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def facts_from_payload(payload: Mapping[str, Any], payload_sha256: str, signature_ok: bool) -> EventFacts:
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

    ``facts``: the events (any order, duplicates allowed), from the store's columns or
    from a bundle's payloads. ``scheduled``: per station, the instants of its
    ``chuyen-doi-so`` slots inside the period.
    """
    with no_gc_pauses():
        return _score(facts, registry, period, scheduled or {})


class _Days:
    """Local date facts per UTC-microsecond instant, cached per local day.

    With a constant UTC offset over the period a local day is arithmetic on the
    integer instant; otherwise each instant is converted with the zone's rules.
    """

    def __init__(self, period: Period) -> None:
        self.tz = period.tz
        self.offset = period.fixed_offset_us()
        self.first_monday = period.start.toordinal() - period.start.weekday()
        self.first_month = period.start.year * 12 + period.start.month - 1
        self.cache: dict[int, tuple[int, int, str]] = {}

    def day(self, ordinal: int) -> tuple[int, int, str]:
        """``(week index, month index, ISO date)`` of a local day (by ordinal)."""
        got = self.cache.get(ordinal)
        if got is None:
            d = date.fromordinal(ordinal)
            got = self.cache[ordinal] = ((ordinal - self.first_monday) // 7,
                                         d.year * 12 + d.month - 1 - self.first_month, d.isoformat())
        return got

    def local(self, ts: int) -> tuple[tuple[int, int, str], str]:
        """The local day facts and ``HH:MM`` of an instant."""
        if self.offset is not None:
            local_us = ts + self.offset
            return (self.day(local_us // _DAY_US + _EPOCH_ORDINAL),
                    _HHMM[local_us % _DAY_US // _MINUTE_US])
        local = (EPOCH + ts * US).astimezone(self.tz)
        return self.day(local.toordinal()), _HHMM[local.hour * 60 + local.minute]


def _score(
    facts: Iterable[EventFacts],
    registry: Registry,
    period: Period,
    scheduled: Mapping[str, Collection[datetime]],
) -> dict[str, Any]:
    start_us, end_us = period.start_us, period.end_us
    weeks = period_weeks(period)
    months = period_months(period)
    days = _Days(period)
    req_w = [bool(w["required"]) for w in weeks]
    req_m = [bool(m["required"]) for m in months]

    # Dedupe (same station, seq and payload) and find the seqs received twice differently:
    # ``first`` holds each (station, seq)'s first payload, ``others`` the further distinct ones.
    first: dict[tuple[str, int], EventFacts] = {}
    others: dict[tuple[str, int], list[EventFacts]] = {}
    for f in facts:
        key = (f.station, f.seq)
        g = first.setdefault(key, f)
        if g is not f and g.payload_sha256 != f.payload_sha256:
            more = others.setdefault(key, [])
            if all(o.payload_sha256 != f.payload_sha256 for o in more):
                more.append(f)

    communes = registry.communes()
    commune_of = {s: c.code for c in communes for s in c.stations}
    tallies = {c.code: _Tally() for c in communes}
    district = _Tally()
    matched: dict[str, set[datetime]] = {}
    slot_instants: dict[str, datetime | None] = {}
    # Sort keys (UTC microseconds, station, seq[, payload hash]) are unique: tuples sort without a key.
    airings: list[tuple[int, str, int, dict[str, Any]]] = []
    excluded: list[tuple[int, str, int, str, dict[str, Any]]] = []
    per_station: dict[str, list[EventFacts]] = {}
    unknown_counts: dict[str, int] = {}
    # Per station: (registered, commune shown, commune tally or None, scheduled slot instants).
    scope_of: dict[str, tuple[bool, str | None, _Tally | None, Collection[datetime]]] = {}
    station_of = registry.station
    no_slots: frozenset[datetime] = frozenset()
    d_weeks, d_months = district.weeks, district.months
    n_airings = 0

    for f in _all_unique(first, others):
        st = f.station
        rows = per_station.get(st)
        if rows is None:
            rows = per_station[st] = []
        rows.append(f)
        ts = f.utc_us
        if ts is None or not start_us <= ts < end_us:
            continue
        scope = scope_of.get(st)
        if scope is None:
            reg = station_of(st)
            scope = scope_of[st] = (reg is not None, reg.commune_code if reg is not None else None,
                                    tallies.get(commune_of.get(st, "")), scheduled.get(st, no_slots))
        known, commune, tally, slots = scope
        if not known:
            reason: str | None = "unknown-station"
            commune = f.commune
            unknown_counts[st] = unknown_counts.get(st, 0) + 1
        elif not f.signature_ok:
            reason = "bad-signature"
        elif f.program != PROGRAM:
            reason = "program"
        elif f.outcome != "completed":
            reason = "outcome"
        elif not f.clock_synced:
            reason = "clock-unsynced"
        elif (st, f.seq) in others:
            reason = "conflict"
        else:
            reason = None
        if reason is not None:
            excluded.append((ts, st, f.seq, f.payload_sha256, {
                "station": st, "commune": commune, "seq": f.seq, "started_at": f.started_at,
                "reason": reason, "payload_sha256": f.payload_sha256}))
            if tally is not None:
                tally.excluded += 1
                tally.conflicts += (st, f.seq) in others
            continue
        (wi, mi, iso_day), hhmm = days.local(ts)
        d_weeks.add(wi)
        d_months.add(mi)
        n_airings += 1
        if tally is not None:
            tally.weeks.add(wi)
            tally.months.add(mi)
            tally.airings += 1
        slot = f.slot
        if slot is not None and slots:
            slot_at = slot_instants.get(slot, EPOCH)
            if slot_at is EPOCH:
                slot_at = slot_instants[slot] = instant(slot)
            if slot_at is not None and slot_at in slots:
                matched.setdefault(st, set()).add(slot_at)
        airings.append((ts, st, f.seq, {
            "station": st, "commune": commune, "seq": f.seq, "started_at": f.started_at,
            "local_date": iso_day, "local_time": hhmm,
            "segment_id": f.segment_id, "title": f.title, "played_s": f.played_s, "slot": slot}))
    district.airings = n_airings

    for st_reg in registry.stations:
        n_sched, n_aired = len(scheduled.get(st_reg.id, ())), len(matched.get(st_reg.id, ()))
        for scope_tally in (district, tallies.get(commune_of.get(st_reg.id, ""))):
            if scope_tally is not None:
                scope_tally.scheduled += n_sched
                scope_tally.scheduled_aired += n_aired

    def scope_json(t: _Tally) -> dict[str, Any]:
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

    d = scope_json(district)
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
        s = scope_json(tallies[c.code])
        communes_json.append({"code": c.code, "name": c.name, "stations": list(c.stations), **s,
                              "criteria": {"1.5": POINTS_1_5 if s["tier"] == "weekly" else 0}})

    stations_json, findings = _stations(registry, per_station, first, others, unknown_counts, period)
    if not airings and not excluded:
        findings.insert(0, f"No events in the period {period.start}..{period.end}.")
    if not communes:
        findings.insert(0, "The registry has no commune-level stations: no commune is scored.")
    airings.sort()
    excluded.sort()
    return {
        "period": period.as_json(),
        "district": district_json,
        "communes": communes_json,
        "weeks": weeks,
        "months": months,
        "airings": [a[3] for a in airings],
        "excluded": [e[4] for e in excluded],
        "stations": stations_json,
        "findings": findings,
    }


def _all_unique(first: dict[tuple[str, int], EventFacts],
                others: dict[tuple[str, int], list[EventFacts]]) -> Iterator[EventFacts]:
    yield from first.values()
    for more in others.values():
        yield from more


def _stations(
    registry: Registry,
    per_station: dict[str, list[EventFacts]],
    first: dict[tuple[str, int], EventFacts],
    others: dict[tuple[str, int], list[EventFacts]],
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
        rows = per_station.get(sid, [])
        rows.sort()  # by (station, seq, payload hash): unique, so later members never compare
        seqs: list[int] = []
        breaks: set[int] = set()
        for f in rows:
            seq = f.seq
            if not seqs or seqs[-1] != seq:
                seqs.append(seq)
            if seq == 1:
                if f.prev is not None:
                    breaks.add(1)
                continue
            before = first.get((sid, seq - 1))
            if before is not None and f.prev != before.payload_sha256 and not any(
                    o.payload_sha256 == f.prev for o in others.get((sid, seq - 1), ())):
                breaks.add(seq)
        conflicts = [s for s in seqs if (sid, s) in others]
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
            findings.append(f"Station {sid}: seq {s} was received with {1 + len(others[(sid, s)])} "
                            f"different payloads (conflict); none of them counts.")
    return out, findings
