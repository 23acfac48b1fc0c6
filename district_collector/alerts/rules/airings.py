"""Airings: ``slot-missed``, ``airing-failed``, ``dead-air``, from the events stored since
the last pass (verified at ingest) and the schedules the district published.

- ``airing-failed``: an event ``failed`` or ``interrupted`` (occurrence: its seq).
- ``dead-air``: a ``completed`` event whose levels say silence: ``level.silent_s`` at least
  ``dead_air.silent_s``, or ``level.rms_dbfs`` at most ``dead_air.rms_dbfs`` (occurrence: seq).
- ``slot-missed``: the station's ``missed`` event, or, when no event for a slot arrived
  ``slot_grace_s`` after it, inferred from the station's latest published schedule (only for
  stations that have been seen). Occurrence: the slot's UTC instant, so the station's own
  ``missed`` event arriving later is the same alert.

A later good airing of the station (completed, not silent) resolves its earlier failures,
dead air and missed slots; an event for a slot resolves that slot's inferred miss. Events
received more than ``lookback_days`` ago are history, not news: they raise nothing.
"""

from __future__ import annotations

import bisect
import json
from datetime import timedelta
from typing import Any

from district_collector.alerts.model import Finding
from district_collector.alerts.rules.context import NewEvent, RuleContext, RuleResult
from district_collector.scoring.facts import payload_bytes
from district_collector.store.base_alerts import utc_text
from radio_protocol.errors import CommuneRadioError
from radio_protocol.schedule.expand import Slot, expand
from radio_protocol.schedule.parse import parse_schedule
from radio_protocol.timefmt import parse_rfc3339

KINDS = ("slot-missed", "airing-failed", "dead-air")


def _utc(text: object) -> str | None:
    if not isinstance(text, str):
        return None
    try:
        return utc_text(parse_rfc3339(text))
    except ValueError:
        return None


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _silent(ctx: RuleContext, p: dict[str, Any]) -> dict[str, float | None] | None:
    level = p.get("level")
    if not isinstance(level, dict):
        return None
    silent_s, rms = _num(level.get("silent_s")), _num(level.get("rms_dbfs"))
    if (silent_s is not None and silent_s >= ctx.alerts.dead_air_silent_s) or (
            rms is not None and rms <= ctx.alerts.dead_air_rms_dbfs):
        return {"silent_s": silent_s, "rms_dbfs": rms, "peak_dbfs": _num(level.get("peak_dbfs"))}
    return None


def _event(ctx: RuleContext, ev: NewEvent, out: RuleResult) -> None:
    p = ev.payload
    station, seq = p.get("station"), p.get("seq")
    if p.get("type", "airing") != "airing" or not isinstance(station, str) or not isinstance(seq, int):
        return
    if ctx.station(station) is None:
        return
    place = ctx.place(station)
    raw_seg = p.get("segment")
    seg: dict[str, Any] = raw_seg if isinstance(raw_seg, dict) else {}
    base = {**place, "seq": seq, "slot": p.get("slot"), "segment": seg.get("id"), "title": seg.get("title"),
            "program": seg.get("program"), "started_at": p.get("started_at")}
    outcome, slot = p.get("outcome"), _utc(p.get("slot"))
    since = _utc(p.get("started_at")) or slot or ev.received_at
    if slot is not None and outcome != "missed":
        out.resolve[("slot-missed", station, slot)] = "slot-event-arrived"
    if outcome == "missed" and slot is not None:
        out.findings.append(Finding("slot-missed", station, slot, slot, station, place["commune"],
                                    {**base, "reason": p.get("reason"), "source": "station"}))
    elif outcome in ("failed", "interrupted"):
        out.findings.append(Finding("airing-failed", station, str(seq), since, station, place["commune"],
                                    {**base, "outcome": outcome, "reason": p.get("reason"),
                                     "played_s": p.get("played_s")}))
    elif outcome == "completed":
        silence = _silent(ctx, p)
        if silence is not None:
            out.findings.append(Finding("dead-air", station, str(seq), since, station, place["commune"],
                                        {**base, **silence}))
        else:
            for kind in KINDS:
                out.resolve_before.append((kind, station, since, "aired-since"))


def station_slots(ctx: RuleContext, station: str, version: int) -> tuple[list[float], list[Slot]]:
    """The station's published schedule ``version`` expanded over its whole validity once
    (kept between passes): slot instants as POSIX seconds (sorted, for bisect) and the slots."""
    cache: dict[tuple[str, int], tuple[list[float], list[Slot]]] = ctx.cache.setdefault("slots", {})
    key = (station, version)
    if key not in cache:
        found = ctx.store.latest_schedule(station)
        slots: list[Slot] = []
        try:
            if found is not None and found[0] == version:
                slots = expand(parse_schedule(json.loads(payload_bytes(found[1]))))
        except (CommuneRadioError, ValueError, KeyError, TypeError):
            slots = []
        cache[key] = ([s.at.timestamp() for s in slots], slots)
    return cache[key]


def _inferred(ctx: RuleContext, out: RuleResult, seen: set[str]) -> None:
    """Slots in (last check, now - grace] for which no event arrived."""
    a = ctx.alerts
    hi = ctx.ago(a.slot_grace_s)
    lo_text = ctx.state.get("slots_checked_until")
    lo = parse_rfc3339(lo_text) if isinstance(lo_text, str) else hi - timedelta(days=a.lookback_days)
    lo = max(lo, hi - timedelta(days=a.lookback_days))
    if lo >= hi:
        return
    lo_s, hi_s = lo.timestamp(), hi.timestamp()
    for station, (version, _published_at) in ctx.published().items():
        if station not in seen or ctx.station(station) is None:
            continue
        times, all_slots = station_slots(ctx, station, version)
        slots = all_slots[bisect.bisect_right(times, lo_s):bisect.bisect_right(times, hi_s)]  # (lo, hi]
        if not slots:
            continue
        aired = {u for u in (_utc(s) for s in ctx.store.event_slots(station)) if u is not None}
        place = ctx.place(station)
        for slot in slots:
            when = utc_text(slot.at)
            if when in aired or (("slot-missed", station, when) in out.resolve):
                continue
            out.findings.append(Finding(
                "slot-missed", station, when, when, station, place["commune"],
                {**place, "slot": slot.at.isoformat(timespec="minutes"), "segment": slot.segment.id,
                 "title": slot.segment.title, "program": slot.segment.program, "source": "inferred",
                 "version": version}))
    ctx.state["slots_checked_until"] = utc_text(hi)


def airings(ctx: RuleContext) -> RuleResult:
    """Findings from the new events and the slots that passed their grace."""
    out = RuleResult()
    horizon = utc_text(ctx.now - timedelta(days=ctx.alerts.lookback_days))
    for ev in ctx.new_events:
        if _utc(ev.received_at) is not None and (_utc(ev.received_at) or "") >= horizon:
            _event(ctx, ev, out)
    seen = {row.station for row in ctx.statuses()}
    _inferred(ctx, out, seen)
    return out


def decode_event(jws: bytes, received_at: str) -> NewEvent | None:
    """A stored event's payload (already verified at ingest), None when it does not read."""
    try:
        payload = json.loads(payload_bytes(jws))
    except (ValueError, TypeError):
        return None
    return NewEvent(payload, received_at) if isinstance(payload, dict) else None
