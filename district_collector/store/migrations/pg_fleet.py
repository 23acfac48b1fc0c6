"""The ``fleet`` part's PostgreSQL schema: the tables ``add_batch`` keeps for the fleet
view (the same tables and columns as the SQLite store's
:data:`~district_collector.store.sqlite_fleet.SEQ_PROBLEMS_SCHEMA` and
:data:`~district_collector.store.sqlite_fleet.STATION_LAST_SCHEMA`, so ``db copy`` moves them).

- 1: ``seq_problems`` (chain breaks and conflicting seqs) and ``station_last`` (each
  station's last airing), both filled from the stored events (:func:`fill_fleet`, also
  used by ``db copy`` when its SQLite source predates them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from district_collector.store.migrations.step import Step

if TYPE_CHECKING:
    import psycopg

T = 'TEXT COLLATE "C"'

V1 = f"""
CREATE TABLE seq_problems (
    station {T} NOT NULL, seq BIGINT NOT NULL, kind {T} NOT NULL,
    PRIMARY KEY (station, seq, kind)
);
CREATE TABLE station_last (
    station {T} PRIMARY KEY, seq BIGINT NOT NULL, payload_sha256 {T} NOT NULL,
    started_at {T}, outcome {T}, program {T}, title {T}
)
"""

# A seq is a chain break when one of its events does not follow the seq before it: seq 1
# with a prev, or a stored seq - 1 none of whose events has the payload hash ``prev``
# (the rules of seq_summary). ``c(station, seq)``: the candidates.
BREAK_WHERE = """
CASE WHEN e.seq = 1 THEN e.prev IS NOT NULL ELSE
  EXISTS (SELECT 1 FROM events p WHERE p.station = e.station AND p.seq = e.seq - 1)
  AND NOT EXISTS (SELECT 1 FROM events p WHERE p.station = e.station AND p.seq = e.seq - 1
                  AND p.payload_sha256 = e.prev) END
"""
_FILL_PROBLEMS = f"""
INSERT INTO seq_problems(station, seq, kind)
SELECT DISTINCT e.station, e.seq, 'break' FROM events e WHERE {BREAK_WHERE}
UNION ALL
SELECT station, seq, 'conflict' FROM events GROUP BY station, seq HAVING COUNT(*) > 1
"""
# Each station's highest-seq event with a started_at, the lowest payload hash among conflicting
# ones (stations with an ack position, as on SQLite).
_FILL_LAST = """
INSERT INTO station_last(station, seq, payload_sha256, started_at, outcome, program, title)
SELECT DISTINCT ON (f.station) f.station, f.seq, f.payload_sha256, f.started_at, f.outcome, f.program, f.title
FROM event_facts f WHERE f.started_at IS NOT NULL AND EXISTS (SELECT 1 FROM ack_state a WHERE a.station = f.station)
ORDER BY f.station, f.seq DESC, f.payload_sha256
"""


def fill_fleet(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    """Fill the (empty) ``seq_problems`` and ``station_last`` from the stored events:
    how many rows were written."""
    problems = conn.execute(_FILL_PROBLEMS).rowcount
    last = conn.execute(_FILL_LAST).rowcount
    return max(problems, 0) + max(last, 0)


STEPS = [
    Step("fleet", 1, "seq_problems and station_last, filled from the stored events", V1, fill_fleet),
]
