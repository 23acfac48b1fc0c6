"""The report queries of :mod:`district_collector.store.facts`, ported to PostgreSQL.

Same selection, same columns, same ORDER BY, so both stores give the same rows in the same
order (text is ``COLLATE "C"``, bytewise as in SQLite). Where SQLite fills temp tables,
these pass the period's ranges and registered kids as CTEs (the pool hands out any
connection, so nothing lives in a session). Rows stream from a server-side cursor.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from district_collector.scoring.facts import FactsRow
from district_collector.store.facts import _DAY_US, MAX_GRID, PeriodEventRow, StationSummary

if TYPE_CHECKING:
    import psycopg

_CTES = """
WITH r AS (SELECT station, MIN(seq) - 1 AS lo, MAX(seq) + 1 AS hi FROM event_facts
           WHERE started_utc_us >= %(start)s AND started_utc_us < %(end)s GROUP BY station),
k AS (SELECT * FROM unnest(%(k_station)s::text[], %(k_kid)s::text[]) AS k(station, kid))
"""
_PERIOD_QUERY = _CTES + """
SELECT f.station, f.seq, f.payload_sha256,
       EXISTS (SELECT 1 FROM k WHERE k.station = f.station AND k.kid = f.kid)::int,
       f.commune, f.started_at, f.program, f.outcome, f.clock_synced, f.slot, f.prev,
       f.segment_id, f.title, f.played_s, f.started_utc_us{events}
FROM r JOIN event_facts f ON f.station = r.station AND f.seq BETWEEN r.lo AND r.hi{join}
WHERE r.station <> ALL(%(skip)s::text[])
ORDER BY f.station, f.seq, f.payload_sha256
"""
_EVENTS_COLUMNS = ", f.kid, e.jws, e.received_at, e.source, e.schedule_version"
_EVENTS_JOIN = " JOIN events e ON e.station = f.station AND e.seq = f.seq AND e.payload_sha256 = f.payload_sha256"

_COUNTED = ("(f.started_utc_us >= %(start)s AND f.started_utc_us < %(end)s"
            " AND f.program IS NOT DISTINCT FROM %(program)s AND f.outcome IS NOT DISTINCT FROM 'completed'"
            " AND f.clock_synced IS NOT NULL AND f.clock_synced <> 0)")
_GROUPED_QUERY = _CTES + """
SELECT r.station, COUNT(*), MIN(f.seq), MAX(f.seq), MIN(f.kid), MAX(f.kid), COUNT(p.seq),
       SUM((f.seq = 1 AND f.prev IS NOT NULL)::int),
       SUM(DISTINCT CASE WHEN {counted} THEN 1::bigint << ((f.started_utc_us - %(monday_us)s) / 604800000000)::int
                         ELSE 0 END)::bigint,
       SUM(DISTINCT CASE WHEN {counted} THEN 1::bigint << ({month}) ELSE 0 END)::bigint,
       SUM({counted}::int)
FROM r JOIN event_facts f ON f.station = r.station AND f.seq BETWEEN r.lo AND r.hi
LEFT JOIN event_facts p ON p.station = f.station AND p.seq = f.seq - 1 AND p.payload_sha256 = f.prev
                           AND p.seq >= r.lo
GROUP BY r.station
ORDER BY r.station
"""
_EXCLUDED_QUERY = _CTES + f"""
SELECT f.station, f.seq, f.payload_sha256, f.started_at, f.program, f.outcome, f.started_utc_us
FROM r JOIN event_facts f ON f.station = r.station AND f.seq BETWEEN r.lo AND r.hi
WHERE r.station = ANY(%(clean)s::text[])
  AND f.started_utc_us >= %(start)s AND f.started_utc_us < %(end)s AND NOT {_COUNTED}
ORDER BY f.station, f.seq, f.payload_sha256
"""


def _params(start_us: int, end_us: int, kids: Mapping[str, Collection[str]]) -> dict[str, Any]:
    pairs = sorted((station, kid) for station, ks in kids.items() for kid in set(ks))
    return {"start": start_us, "end": end_us, "k_station": [p[0] for p in pairs], "k_kid": [p[1] for p in pairs],
            "skip": []}


def _stream(conn: psycopg.Connection[Any], query: str, params: dict[str, Any], chunk: int) -> Iterator[Any]:
    """Rows of ``query`` from a server-side cursor (memory stays flat)."""
    with conn.cursor(name="period") as cur:
        cur.itersize = chunk
        cur.execute(query.encode(), params)
        while rows := cur.fetchmany(chunk):
            yield from rows


def period_rows(conn: psycopg.Connection[Any], start_us: int, end_us: int, kids: Mapping[str, Collection[str]],
                chunk: int = 2000) -> Iterator[FactsRow]:
    """See :func:`district_collector.store.facts.period_rows`."""
    return _stream(conn, _PERIOD_QUERY.format(events="", join=""), _params(start_us, end_us, kids), chunk)


def period_events(conn: psycopg.Connection[Any], start_us: int, end_us: int, kids: Mapping[str, Collection[str]],
                  chunk: int = 2000) -> Iterator[PeriodEventRow]:
    """See :func:`district_collector.store.facts.period_events`."""
    query = _PERIOD_QUERY.format(events=_EVENTS_COLUMNS, join=_EVENTS_JOIN)
    return _stream(conn, query, _params(start_us, end_us, kids), chunk)


def grouped_period(
    conn: psycopg.Connection[Any],
    start_us: int,
    end_us: int,
    kids: Mapping[str, Collection[str]],
    offset_us: int,
    first_monday: int,
    month_starts: list[int],
    eligible: Collection[str],
    program: str,
    chunk: int = 2000,
) -> tuple[list[StationSummary], Iterator[FactsRow]]:
    """See :func:`district_collector.store.facts.grouped_period` (same contract, same checks)."""
    if start_us + offset_us < 0 or first_monday < 0:
        raise ValueError("grouped_period needs local days after 1970-01-01")
    if ((end_us - 1 + offset_us) // _DAY_US - first_monday) // 7 >= MAX_GRID or len(month_starts) >= MAX_GRID:
        raise ValueError(f"grouped_period holds at most {MAX_GRID} weeks and months")
    month = "CASE " + " ".join(f"WHEN f.started_utc_us < {int(b) * _DAY_US - offset_us} THEN {i}"
                               for i, b in enumerate(month_starts)) + \
        f" ELSE {len(month_starts)} END" if month_starts else "0"
    params = _params(start_us, end_us, kids)
    params.update(monday_us=first_monday * _DAY_US - offset_us, program=program)
    eligible = set(eligible)
    summaries: dict[str, StationSummary] = {}
    query = _GROUPED_QUERY.format(month=month, counted=_COUNTED)
    for station, n, lo, hi, kid_lo, kid_hi, chained, seq1_prev, weeks, months, airings in conn.execute(
            query.encode(), params):
        if (station in eligible and kid_lo == kid_hi and kid_lo in kids.get(station, ()) and lo >= 1
                and n == hi - lo + 1 and chained == n - 1 and not seq1_prev):
            summaries[station] = StationSummary(station, n, lo, hi, weeks, months, airings or 0)
    clean = sorted(summaries)
    for row in conn.execute(_EXCLUDED_QUERY.encode(), {**params, "clean": clean}):
        summaries[row[0]].excluded.append(row[1:])
    rest = _stream(conn, _PERIOD_QUERY.format(events="", join=""), {**params, "skip": clean}, chunk)
    return list(summaries.values()), rest
