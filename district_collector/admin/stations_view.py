"""``radio-district stations``: one line per registered station, for the district office.

Columns: station, commune, state and since when (from the latest status, the Last Will
included), last seq stored, gaps (missing seq ranges), prev-chain breaks, conflicts,
pending (the station's own ``outbox_pending`` from its status), schedule version (from
its status) and the start of the last airing stored.
"""

from __future__ import annotations

from dataclasses import dataclass

from district_collector.config import DistrictConfig
from district_collector.store.base import Store
from radio_protocol.timefmt import format_rfc3339, parse_rfc3339, zone

COLUMNS = ("station", "commune", "state", "since", "last_seq", "gaps", "chain_breaks",
           "conflicts", "pending", "schedule", "last_airing")


@dataclass(frozen=True)
class StationLine:
    station: str
    commune: str
    state: str
    since: str
    last_seq: int
    gaps: str
    chain_breaks: str
    conflicts: str
    pending: str
    schedule: str
    last_airing: str


def _ranges(gaps: tuple[tuple[int, int], ...], limit: int = 5) -> str:
    if not gaps:
        return "-"
    parts = [str(a) if a == b else f"{a}-{b}" for a, b in gaps[:limit]]
    if len(gaps) > limit:
        parts.append(f"(+{len(gaps) - limit} more)")
    return ",".join(parts)


def _list(seqs: tuple[int, ...], limit: int = 5) -> str:
    if not seqs:
        return "-"
    text = ",".join(map(str, seqs[:limit]))
    return text + (f" (+{len(seqs) - limit} more)" if len(seqs) > limit else "")


def _local(text: str, tz_name: str) -> str:
    """A stored time shown in the district's timezone (ms, explicit offset)."""
    try:
        return format_rfc3339(parse_rfc3339(text).astimezone(zone(tz_name)))
    except ValueError:
        return text


def station_lines(config: DistrictConfig, store: Store) -> list[StationLine]:
    """One line per registered station, in registry order; times in the district timezone."""
    lines = []
    for entry in config.stations:
        s = store.seq_summary(entry.id)
        st = store.status(entry.id)
        status = st.status() if st else None  # None also for a stored row that no longer reads
        pending = None if status is None else status.outbox_pending
        version = None if status is None else status.schedule_version
        lines.append(StationLine(
            station=entry.id,
            commune=f"{entry.commune_code} {entry.commune_name}",
            state=st.state if st else "never seen",
            since=_local(st.received_at, config.district.timezone) if st else "-",
            last_seq=s.last_seq,
            gaps=_ranges(s.gaps),
            chain_breaks=_list(s.chain_breaks),
            conflicts=_list(s.conflicts),
            pending="-" if pending is None else str(pending),
            schedule="-" if version is None else str(version),
            last_airing=store.last_airing(entry.id) or "-",
        ))
    return lines


def render_table(lines: list[StationLine]) -> str:
    """A plain aligned text table (one header line, one line per station)."""
    rows = [list(COLUMNS)] + [[str(getattr(line, c)) for c in COLUMNS] for line in lines]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
                     for r in rows)
