"""docs/scoring.md, exactly, as a pure function of (events, registry, schedule slots, period).

:func:`score` walks the event records ONCE, one station at a time (no per-week or
per-station queries): it dedupes, finds conflicts, classifies each event of the
period as counted or excluded (first failing reason), marks the ISO weeks and
calendar months aired per commune and for the district, and tallies each station's
seq range, gaps and chain breaks. Tiers and points come from
:mod:`~district_collector.scoring.tiers`, each station's integrity entry and findings from
:mod:`~district_collector.scoring.station_findings`. The result is the report dict (see docs of
:func:`score`); it is deterministic, so ``verify`` recomputing it from an evidence
bundle gets the same bytes.

Records come from the store's ``event_facts`` rows (streamed by station, see
:func:`score_stations`) or from the verified JWS lines of a bundle; both are made by
:func:`~district_collector.scoring.facts.facts_from_payload`, so the two paths read a
payload the same way. Instants are integer UTC microseconds; with a constant UTC
offset over the period, local days are arithmetic (:class:`~district_collector.scoring.period.LocalDays`).

Choices the reference leaves open (docs/scoring.md and the report's README section say them):
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
from datetime import datetime
from operator import itemgetter
from typing import Any

from district_collector.registry import Registry
from district_collector.scoring.criteria import CriteriaSet, default_criteria
from district_collector.scoring.facts import (
    EventFacts,
    Facts,
    facts_from_payload,
    select_period_events,
)
from district_collector.scoring.period import (
    DAY_US,
    EPOCH,
    EPOCH_ORDINAL,
    HHMM,
    MINUTE_US,
    LocalDays,
    Period,
    ScoringError,
    instant,
    period_months,
    period_weeks,
)
from district_collector.scoring.station_findings import station_summary
from district_collector.scoring.tiers import (
    ScopeTally,
    commune_json,
    district_json,
    tier,
)
from district_collector.store.facts import StationSummary

PROGRAM = default_criteria().program  # the letter's programme; a criteria set may name another
REASONS = ("unknown-station", "bad-signature", "program", "outcome", "clock-unsynced", "conflict")
__all__ = ["CriteriaSet", "EventFacts", "Facts", "Period", "ScoringError",
           "facts_from_payload", "no_gc_pauses", "period_months", "period_weeks", "score", "score_stations",
           "select_period_events", "tier", "default_criteria"]


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
    facts: Iterable[Facts],
    registry: Registry,
    period: Period,
    scheduled: Mapping[str, Collection[datetime]] | None = None,
    criteria: CriteriaSet | None = None,
) -> dict[str, Any]:
    """The report dict of docs/scoring.md (plus weeks, months, airings, excluded, stations, findings).

    ``facts``: the events (any order, duplicates allowed): EventFacts of a bundle's
    payloads, or plain tuples in EventFacts field order. ``scheduled``: per station, the
    instants of its slots of the counted programme inside the period. ``criteria``: the
    set scored (default: the letter's, :func:`default_criteria`).
    """
    groups: dict[str, list[Facts]] = {}
    with no_gc_pauses():
        for f in facts:
            got = groups.get(f[0])
            if got is None:
                groups[f[0]] = [f]
            else:
                got.append(f)
        return _score(groups.items(), registry, period, scheduled or {}, criteria=criteria)


def score_stations(
    groups: Iterable[tuple[str, list[Facts]]],
    registry: Registry,
    period: Period,
    scheduled: Mapping[str, Collection[datetime]] | None = None,
    with_airings: bool = True,
    summaries: Iterable[StationSummary] = (),
    criteria: CriteriaSet | None = None,
) -> dict[str, Any]:
    """:func:`score` over events already grouped by station, each station once (the store
    streams them in station order): only one station's events are held at a time.
    ``with_airings=False``: the result has no ``airings`` member (no per-airing dict is
    built); everything else is the same. ``summaries``: stations SQLite grouped (see
    :func:`~district_collector.store.facts.grouped_period`; only without airings, with a
    fixed UTC offset over the period, and a criteria set whose tiers need one airing a
    week and month), none of them also in ``groups``."""
    with no_gc_pauses():
        return _score(groups, registry, period, scheduled or {}, with_airings, summaries, criteria)


_BY_SEQ_SHA = itemgetter(1, 2)


def _score(
    groups: Iterable[tuple[str, list[Facts]]],
    registry: Registry,
    period: Period,
    scheduled: Mapping[str, Collection[datetime]],
    with_airings: bool = True,
    summaries: Iterable[StationSummary] = (),
    criteria: CriteriaSet | None = None,
) -> dict[str, Any]:
    rules = criteria or default_criteria()
    program_counted, counting = rules.program, rules.counts_airings
    start_us, end_us = period.start_us, period.end_us
    weeks = period_weeks(period)
    months = period_months(period)
    days = LocalDays(period)
    offset, day_of, day_cache = days.offset, days.day, days.cache
    communes = registry.communes()
    commune_of = {s: c.code for c in communes for s in c.stations}
    tallies = {c.code: ScopeTally() for c in communes}
    district = ScopeTally()
    d_weeks, d_months = district.weeks, district.months
    matched: dict[str, set[datetime]] = {}
    slot_instants: dict[str, datetime | None] = {}
    # Sort keys (UTC microseconds, station, seq[, payload hash]) are unique: tuples sort without a key.
    airings: list[tuple[int, str, int, dict[str, Any]]] = []
    excluded: list[tuple[int, str, int, str, dict[str, Any]]] = []
    stations: dict[str, tuple[dict[str, Any], list[str]]] = {}
    no_slots: frozenset[datetime] = frozenset()
    n_airings = 0

    texts: dict[str | None, str | None] = {}
    shared = texts.setdefault
    for sid, group in groups:
        if sid in stations:
            raise ValueError(f"station {sid} given twice to score_stations")
        reg = registry.station(sid)
        known = reg is not None
        commune = reg.commune_code if reg is not None else None
        tally = tallies.get(commune_of.get(sid, ""))
        slots = scheduled.get(sid, no_slots)
        # By (seq, payload hash), stably: of duplicates (same bytes) the first one given stays.
        group.sort(key=_BY_SEQ_SHA)
        rows = group[:1]
        for f in group[1:]:
            last = rows[-1]
            if f[1] != last[1] or f[2] != last[2]:
                rows.append(f)
        conflicted = {a[1] for a, b in zip(rows, rows[1:], strict=False) if a[1] == b[1]}
        variants: dict[int, list[str]] = {}
        for f in rows if conflicted else ():
            if f[1] in conflicted:
                variants.setdefault(f[1], []).append(f[2])
        seqs: list[int] = []
        breaks: list[int] = []
        unverified: list[int] = []
        n_unknown = 0
        cur_seq, cur_sha, before_seq, before_sha = -1, "", -1, ""
        for f in rows:
            # Unpacked by position: the store hands plain rows in EventFacts field order.
            (_st, seq, sha, signature_ok, f_commune, started_at, program, outcome, clock_synced, slot, prev,
             segment_id, title, played_s, ts) = f
            if seq != cur_seq:
                before_seq, before_sha, cur_seq, cur_sha = cur_seq, cur_sha, seq, sha
                seqs.append(seq)
            if seq == 1:
                if prev is not None and not breaks:
                    breaks.append(1)
            elif before_seq == seq - 1 and (prev != before_sha if before_seq not in conflicted
                                            else prev not in variants[before_seq]):
                if not breaks or breaks[-1] != seq:
                    breaks.append(seq)
            if not signature_ok and known and (not unverified or unverified[-1] != seq):
                unverified.append(seq)
            if ts is None or not start_us <= ts < end_us:
                continue
            if not known:
                reason: str | None = "unknown-station"
                n_unknown += 1
            elif not signature_ok:
                reason = "bad-signature"
            elif program != program_counted:
                reason = "program"
            elif outcome != "completed":
                reason = "outcome"
            elif not clock_synced:
                reason = "clock-unsynced"
            elif seq in conflicted:
                reason = "conflict"
            else:
                reason = None
            if reason is not None:
                excluded.append((ts, sid, seq, sha, {
                    "station": sid, "commune": commune if known else f_commune, "seq": seq,
                    "started_at": started_at, "reason": reason, "payload_sha256": sha}))
                if tally is not None:
                    tally.excluded += 1
                    tally.conflicts += seq in conflicted
                continue
            if offset is not None:
                local_us = ts + offset
                ordinal = local_us // DAY_US + EPOCH_ORDINAL
                day = day_cache.get(ordinal) or day_of(ordinal)
                hhmm = HHMM[local_us % DAY_US // MINUTE_US]
            else:
                day, hhmm = days.local(ts)
            wi, mi, iso_day = day
            d_weeks.add(wi)
            d_months.add(mi)
            n_airings += 1
            if tally is not None:
                tally.weeks.add(wi)
                tally.months.add(mi)
                tally.airings += 1
            if counting:
                district.count(wi, mi)
                if tally is not None:
                    tally.count(wi, mi)
            if slot is not None and slots:
                slot_at = slot_instants.get(slot, EPOCH)
                if slot_at is EPOCH:
                    slot_at = slot_instants[slot] = instant(slot)
                if slot_at is not None and slot_at in slots:
                    matched.setdefault(sid, set()).add(slot_at)
            if not with_airings:
                continue
            # One string object per distinct text (rows bring a copy each): the report holds
            # every airing, so this is most of its memory.
            if slot == started_at:
                slot = started_at
            airings.append((ts, sid, seq, {
                "station": sid, "commune": commune, "seq": seq, "started_at": started_at,
                "local_date": iso_day, "local_time": hhmm, "segment_id": shared(segment_id, segment_id),
                "title": shared(title, title), "played_s": played_s, "slot": slot}))
        stations[sid] = station_summary(sid, reg, commune if known else (rows[0][4] if rows else None), len(rows),
                                 seqs, breaks, sorted(conflicted), variants, unverified, n_unknown, period)
    for summary in summaries:
        sid = summary.station
        reg = registry.station(sid)
        if sid in stations or reg is None or offset is None or with_airings or counting:
            raise ValueError(f"station {sid}: a summary needs a registered station given once, no airing "
                             f"thresholds, a fixed UTC offset and no airings list")
        commune = reg.commune_code
        tally = tallies.get(commune_of.get(sid, ""))
        week_ids = [i for i in range(len(weeks)) if summary.weeks >> i & 1]
        month_ids = [i for i in range(len(months)) if summary.months >> i & 1]
        d_weeks.update(week_ids)
        d_months.update(month_ids)
        n_airings += summary.airings
        if tally is not None:
            tally.weeks.update(week_ids)
            tally.months.update(month_ids)
            tally.airings += summary.airings
        for seq, sha, started_at, program, outcome, ts in summary.excluded:
            # The per-row reasons left for a registered, signed station without conflicts.
            reason = ("program" if program != program_counted else "outcome" if outcome != "completed"
                      else "clock-unsynced")
            excluded.append((ts, sid, seq, sha, {
                "station": sid, "commune": commune, "seq": seq, "started_at": started_at,
                "reason": reason, "payload_sha256": sha}))
            if tally is not None:
                tally.excluded += 1
        stations[sid] = station_summary(sid, reg, commune, summary.events,
                                 list(range(summary.first_seq, summary.last_seq + 1)), [], [], {}, [], 0,
                                 period)
    district.airings = n_airings

    for st_reg in registry.stations:
        n_sched, n_aired = len(scheduled.get(st_reg.id, ())), len(matched.get(st_reg.id, ()))
        for scope_tally in (district, tallies.get(commune_of.get(st_reg.id, ""))):
            if scope_tally is not None:
                scope_tally.scheduled += n_sched
                scope_tally.scheduled_aired += n_aired

    for scope_tally in (district, *tallies.values()):
        scope_tally.keep_thresholds(rules)
    district_out = district_json(district, registry, weeks, months, len(excluded), rules)
    communes_out = [commune_json(c, tallies[c.code], weeks, months, rules) for c in communes]

    ids = [s.id for s in registry.stations]
    ids += sorted(set(stations) - set(ids))
    stations_json: list[dict[str, Any]] = []
    findings: list[str] = []
    for sid in ids:
        got = stations.get(sid)
        if got is None:
            reg = registry.station(sid)
            got = station_summary(sid, reg, reg.commune_code if reg else None, 0, [], [], [], {}, [], 0, period)
        stations_json.append(got[0])
        findings += got[1]
    if not n_airings and not excluded:
        findings.insert(0, f"No events in the period {period.start}..{period.end}.")
    if not communes:
        findings.insert(0, "The registry has no commune-level stations: no commune is scored.")
    airings.sort()
    excluded.sort()
    out: dict[str, Any] = {
        "period": period.as_json(),
        "district": district_out,
        "communes": communes_out,
        "weeks": weeks,
        "months": months,
        "airings": [a[3] for a in airings],
        "excluded": [e[4] for e in excluded],
        "stations": stations_json,
        "findings": findings,
    }
    if not with_airings:
        del out["airings"]
    return out

