"""The broadcast-frequency report: inputs gathered, scored, and printed.

One path for both sides: :func:`build_report` (select the period's events, expand the
schedules, :func:`~district_collector.scoring.compute.score`) is what the ``report`` and
``evidence`` commands run over the store and what ``verify`` runs over a bundle.

Store reading never decodes a JWS: the store keeps each event's scoring facts as
columns filled at insert (:meth:`~district_collector.store.base.Store.period_rows`), SQLite
selects each station's period seq range (see
:func:`~district_collector.scoring.compute.select_period_events`), and the rows stream, one
station at a time, into the same scoring core that ``verify`` runs over a bundle's
payloads (:func:`report_from_store`; :func:`period_events_from_store` adds the JWS
bytes the evidence bundle needs).
Events in the store were verified at ingest, so a stored event's signature counts as
valid while its ``kid`` is still registered for its station.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import date, datetime, time, timedelta
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from district_collector.region import region_level
from district_collector.registry import Registry
from district_collector.scoring.compute import (
    PROGRAM,
    CriteriaSet,
    EventFacts,
    Facts,
    Period,
    ScoringError,
    score,
    score_stations,
    select_period_events,
)
from district_collector.scoring.facts import payload_bytes
from district_collector.scoring.period import EPOCH_ORDINAL, period_months, period_weeks
from district_collector.store.facts import MAX_GRID, StationSummary
from district_collector.store.records import StoredEvent
from radio_protocol.errors import JoseError
from radio_protocol.jose import parse_jws
from radio_protocol.schedule.rules import build_rule, rule_occurrences
from radio_protocol.timefmt import parse_date, parse_rfc3339, zone

_STATION = itemgetter(0)

if TYPE_CHECKING:
    from district_collector.store.base import Store


# --- events from the store ---------------------------------------------------------------


def decode_payload(jws: bytes) -> dict[str, Any]:
    """The payload object of a stored (already verified) JWS, without re-verifying."""
    try:
        payload = json.loads(payload_bytes(jws))
    except (ValueError, TypeError) as exc:
        try:  # the strict parser names the problem
            parse_jws(jws)
        except JoseError as strict:
            raise ScoringError(f"a stored event is not a readable JWS: {strict}") from exc
        raise ScoringError(f"a stored event is not a readable JWS: {exc}") from exc
    if not isinstance(payload, dict):
        raise ScoringError("a stored event's payload is not a JSON object")
    return payload


def _kids(registry: Registry) -> dict[str, frozenset[str]]:
    return {st.id: frozenset(st.kids) for st in registry.stations}


def period_events_from_store(store: Store, registry: Registry, period: Period) -> Iterator[StoredEvent]:
    """The period's events with their JWS bytes (seq ranges, see select_period_events), in
    station then seq order (the evidence bundle needs the bytes; the report does not)."""
    return store.period_events(period.start_us, period.end_us, _kids(registry))


def facts_from_store(store: Store, registry: Registry, period: Period,
                     only: Collection[str] | None = None) -> Iterator[tuple[str, list[Facts]]]:
    """The period's events as scoring facts (plain rows in EventFacts field order), one
    station at a time, streamed from the store's columns; ``only``: just these stations'."""
    return _grouped(store.period_rows(period.start_us, period.end_us, _kids(registry)), only)


def _grouped(rows: Iterable[Facts], only: Collection[str] | None) -> Iterator[tuple[str, list[Facts]]]:
    keep = None if only is None else frozenset(only)
    for station, group in itertools.groupby(rows, key=_STATION):
        if keep is None or station in keep:
            yield station, list(group)


def report_from_store(
    store: Store,
    registry: Registry,
    period: Period,
    schedules: Iterable[Mapping[str, Any]] = (),
    with_airings: bool = True,
    criteria: CriteriaSet | None = None,
    only: Collection[str] | None = None,
) -> dict[str, Any]:
    """:func:`build_report` over the store without holding the events: the same bytes as
    ``build_report`` over the same events' payloads (what ``verify`` recomputes).
    ``with_airings=False`` leaves the ``airings`` member out (and never builds it).
    ``criteria``: the set scored (default: the letter's). ``only``: score just these
    stations' events (None: every stored station's; a station not in ``registry`` then
    shows as ``unknown-station`` exclusions, so a restricted registry needs ``only``)."""
    if not registry.stations:
        raise ScoringError("the registry has no stations: add stations (with their commune) to the config")
    program = criteria.program if criteria is not None else PROGRAM
    slots = scheduled_slots(schedules, period, program)
    offset = period.fixed_offset_us()
    # SQLite's summaries say which weeks and months were aired, not how often: a set whose
    # tier needs more than one airing a week or month is scored from the rows.
    if (with_airings or offset is None or period.start_us + offset < 0
            or (criteria is not None and criteria.counts_airings)
            or len(period_weeks(period)) > MAX_GRID or len(period_months(period)) > MAX_GRID):
        return score_stations(facts_from_store(store, registry, period, only), registry, period, slots,
                              with_airings, criteria=criteria)
    summaries, rows = grouped_period_from_store(store, registry, period, offset, slots, program)
    return score_stations(_grouped(rows, only), registry, period, slots, False, summaries, criteria)


def grouped_period_from_store(
    store: Store, registry: Registry, period: Period, offset_us: int, slots: Mapping[str, Collection[datetime]],
    program: str = PROGRAM,
) -> tuple[list[StationSummary], Iterator[Facts]]:
    """The period as SQLite summaries of the clean registered stations without scheduled
    slots, and the rows of every other station (:func:`~district_collector.store.facts.grouped_period`)."""
    eligible = [st.id for st in registry.stations if not slots.get(st.id)]
    first_monday = period.start.toordinal() - period.start.weekday() - EPOCH_ORDINAL
    month_starts = [date.fromisoformat(m["month"] + "-01").toordinal() - EPOCH_ORDINAL
                    for m in period_months(period)[1:]]
    return store.grouped_period(period.start_us, period.end_us, _kids(registry), offset_us, first_monday,
                                month_starts, eligible, program)


def schedules_from_store(store: Store, period: Period) -> list[bytes]:
    """Every published schedule JWS whose validity overlaps the period (station, version order)."""
    out = []
    for jws in store.published_schedules():
        try:
            payload = decode_payload(jws)
            valid_from = parse_date(payload["valid_from"])
            valid_until = parse_date(payload["valid_until"])
        except (ScoringError, KeyError, ValueError, TypeError):
            continue
        if valid_from <= period.end and valid_until >= period.start:
            out.append(jws)
    return out


# --- schedule slots ----------------------------------------------------------------------


def scheduled_slots(schedules: Iterable[Mapping[str, Any]], period: Period,
                    program: str = PROGRAM) -> dict[str, set[datetime]]:
    """Per station, the instants of its slots of ``program`` (the counted programme) inside
    the period.

    For each station and each month of the period the latest schedule (highest
    version) valid in that month applies; its slots within the month, its validity and
    the period are taken. Malformed slots are skipped. Rule expansions are cached so a
    catalogue shared by many stations is expanded once.
    """
    tz = period.tz
    by_station: dict[str, list[tuple[int, date, date, Mapping[str, Any]]]] = {}
    for s in schedules:
        try:
            entry = (int(s["version"]), parse_date(s["valid_from"]), parse_date(s["valid_until"]), s)
        except (KeyError, ValueError, TypeError):
            continue
        by_station.setdefault(str(s.get("station")), []).append(entry)
    cache: dict[tuple[str, str, str, datetime, datetime], tuple[datetime, ...]] = {}
    out: dict[str, set[datetime]] = {}
    for station, items in by_station.items():
        items.sort(key=lambda e: e[0], reverse=True)
        for month_first, month_last in _months(period):
            chosen = next((e for e in items if e[1] <= month_last and e[2] >= month_first), None)
            if chosen is None:
                continue
            _version, valid_from, valid_until, sched = chosen
            lo = max(month_first, valid_from, period.start)
            hi = min(month_last, valid_until, period.end)
            lo_at = datetime.combine(lo, time(0), tz)
            hi_at = datetime.combine(hi + timedelta(days=1), time(0), tz)
            out.setdefault(station, set()).update(_expand(sched, lo_at, hi_at, cache, program))
    return out


def _months(period: Period) -> Iterator[tuple[date, date]]:
    first = period.start.replace(day=1)
    while first <= period.end:
        nxt = (first + timedelta(days=32)).replace(day=1)
        yield first, nxt - timedelta(days=1)
        first = nxt


def _expand(sched: Mapping[str, Any], lo_at: datetime, hi_at: datetime,
            cache: dict[tuple[str, str, str, datetime, datetime], tuple[datetime, ...]],
            program: str) -> set[datetime]:
    segments = sched.get("segments") if isinstance(sched.get("segments"), list) else []
    programme = {s.get("id") for s in segments or [] if isinstance(s, dict) and s.get("program") == program}
    tz_name = str(sched.get("timezone"))  # rules run in the schedule's own timezone (docs/protocol.md)
    try:
        zone(tz_name)
    except ValueError:
        tz_name = str(lo_at.tzinfo)
    found: set[datetime] = set()
    slots = sched.get("slots")
    for slot in slots if isinstance(slots, list) else []:
        if not isinstance(slot, dict) or slot.get("segment") not in programme:
            continue
        try:
            if "at" in slot:
                at = parse_rfc3339(slot["at"])
                if lo_at <= at < hi_at:
                    found.add(at)
                continue
            key = (str(slot["rrule"]), str(slot["dtstart"]), tz_name, lo_at, hi_at)
            if key not in cache:
                rule = build_rule(key[0], parse_rfc3339(key[1]).astimezone(zone(tz_name)))
                cache[key] = tuple(rule_occurrences(rule, lo_at, hi_at))
            found.update(cache[key])
        except (KeyError, ValueError, TypeError, IndexError):
            continue
    return found


# --- the report --------------------------------------------------------------------------


def build_report(
    facts: Iterable[EventFacts],
    registry: Registry,
    period: Period,
    schedules: Iterable[Mapping[str, Any]] = (),
    criteria: CriteriaSet | None = None,
) -> dict[str, Any]:
    """The report dict for ``period`` (deterministic from its inputs; no generation time),
    scored with ``criteria`` (default: the letter's set)."""
    if not registry.stations:
        raise ScoringError("the registry has no stations: add stations (with their commune) to the config")
    selected = select_period_events(facts, period)
    program = criteria.program if criteria is not None else PROGRAM
    return score(selected, registry, period, scheduled_slots(schedules, period, program), criteria)


def report_json(report: Mapping[str, Any]) -> bytes:
    """The report as the bytes of ``report.json`` (UTF-8, indented, newline-terminated)."""
    return (json.dumps(report, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


CSV_COLUMNS = ("level", "code", "name", "stations", "tier", "required_weeks", "weeks_aired",
               "required_months", "months_aired", "airings", "excluded", "conflicts",
               "scheduled", "scheduled_aired", "points", "missing_weeks", "missing_months")


def report_csv(report: Mapping[str, Any]) -> str:
    """One row for the district (the whole region), then one per commune; points: the sum of
    the criteria points of the row (letter's set: 1.6 + 1.7, resp. 1.5)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    d = report["district"]
    w.writerow(["district", d["id"], d["name"], "", d["tier"], d["required_weeks"], d["weeks_aired"],
                d["required_months"], d["months_aired"], d["airings"], d["excluded"], "",
                d["schedule"]["scheduled"], d["schedule"]["aired"],
                sum(d["criteria"].values()),
                " ".join(d["missing_weeks"]), " ".join(d["missing_months"])])
    for c in report["communes"]:
        w.writerow(["commune", c["code"], c["name"], " ".join(c["stations"]), c["tier"],
                    c["required_weeks"], c["weeks_aired"], c["required_months"], c["months_aired"],
                    c["airings"], c["excluded"], c["conflicts"], c["schedule"]["scheduled"],
                    c["schedule"]["aired"], sum(c["criteria"].values()), " ".join(c["missing_weeks"]),
                    " ".join(c["missing_months"])])
    return buf.getvalue()


def _short_weeks(weeks: list[str], limit: int = 8) -> str:
    if not weeks:
        return "-"
    shown = ", ".join(w[5:] if w[:4] == weeks[0][:4] else w for w in weeks[:limit])
    return shown + (f" (+{len(weeks) - limit})" if len(weeks) > limit else "")


def report_table(report: Mapping[str, Any], level: str | None = None) -> str:
    """A readable terminal table: commune, weeks and months aired / required, tier, points
    (one column per commune criterion). ``level``: the region's level code (``district.level``;
    None: read from its name), whose English word heads the region's line."""
    p, d = report["period"], report["district"]
    region = region_level(str(d["name"]), level).english
    points = ", ".join(f"{cid} = {value}" for cid, value in d["criteria"].items())
    lines = [
        f"{d['name']} ({d['id']})  {p['from']} .. {p['to']}  ({p['timezone']})",
        f"{region[:1].upper()}{region[1:]}: tier {d['tier']}, weeks {d['weeks_aired']}/{d['required_weeks']}, "
        f"months {d['months_aired']}/{d['required_months']}, airings {d['airings']}"
        + (f", points {points}" if points else ""),
        "",
    ]
    ids = list(report["communes"][0]["criteria"]) if report["communes"] else []
    rows = [("Commune", "Code", "Weeks", "Months", "Tier", *ids, "Airings", "Excl.", "Schedule",
             "Missing weeks")]
    for c in report["communes"]:
        rows.append((c["name"], c["code"], f"{c['weeks_aired']}/{c['required_weeks']}",
                     f"{c['months_aired']}/{c['required_months']}", c["tier"],
                     *(str(c["criteria"].get(cid, 0)) for cid in ids),
                     str(c["airings"]), str(c["excluded"]),
                     f"{c['schedule']['aired']}/{c['schedule']['scheduled']}", _short_weeks(c["missing_weeks"])))
    if len(rows) == 1:
        lines.append("No commune-level station is registered: no commune to score.")
    else:
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
        for r in rows:
            lines.append("  ".join(v.ljust(widths[i]) for i, v in enumerate(r[:-1])) + "  " + r[-1])
    if report["findings"]:
        lines += ["", "Findings:"] + [f"  - {f}" for f in report["findings"]]
    return "\n".join(lines) + "\n"
