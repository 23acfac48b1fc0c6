"""Which criteria set scores which period: the ``criteria`` list of ``district.yaml``.

::

    criteria:
      - from: 2025-07-01            # periods that end on or after this day...
        file: criteria-2025.yaml    # ...are scored with this set (relative to district.yaml)

The set of a period is that of the entry with the latest ``from`` on or before the
period's last day (an index year is judged by the rules in force when it is reported);
before every ``from``, or without the list, the letter's set (``default.yaml``). Every file
is read and checked when the config is loaded, its problems listed with the config's, so a
wrong criteria file stops the collector at startup, not at the December report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from district_collector.scoring.criteria.sets import CriteriaSet, default_criteria, load_criteria
from radio_protocol.configschema import ConfigReader, config_path
from radio_protocol.errors import ConfigError


@dataclass(frozen=True)
class CriteriaPeriod:
    """One entry: the set ``criteria`` (read from ``file``) scores periods ending on or
    after ``start``."""

    start: date
    file: Path
    criteria: CriteriaSet


def _day(r: ConfigReader, value: object, key: str) -> date | None:
    if isinstance(value, date):  # YAML reads an unquoted 2025-07-01 as a date
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    r.error(key, f"must be a date YYYY-MM-DD, got {value!r}")
    return None


def read_criteria_periods(r: ConfigReader, data: object, base: Path) -> tuple[CriteriaPeriod, ...]:
    """The config's ``criteria`` list (None: empty), each file loaded; problems go to ``r``
    (those inside a criteria file name that file and its key)."""
    if data is None:
        return ()
    if not isinstance(data, list):
        r.error("criteria", f"must be a list of {{from: YYYY-MM-DD, file: PATH}}, got {type(data).__name__}")
        return ()
    out: list[CriteriaPeriod] = []
    for i, item in enumerate(data):
        key = f"criteria[{i}]"
        entry = r.mapping(item, key, ("from", "file"))
        if not entry:
            continue
        start = _day(r, entry.get("from"), f"{key}.from") if "from" in entry else None
        if "from" not in entry:
            r.error(f"{key}.from", "missing (required)")
        name = r.get(entry, key, "file", str)
        path = config_path(base, name) if name else None
        if path is None:
            continue
        try:
            rules = load_criteria(path)
        except ConfigError as exc:
            r.problems += [f"{p} (criteria file of {r.source}: {key}.file)" for p in exc.problems]
            continue
        if start is None:
            continue
        if any(p.start == start for p in out):
            r.error(f"{key}.from", f"{start} is also the start of another entry")
            continue
        out.append(CriteriaPeriod(start, path, rules))
    return tuple(sorted(out, key=lambda p: p.start))


def criteria_for(periods: Sequence[CriteriaPeriod], last_day: date) -> CriteriaSet:
    """The set scoring a period whose last day is ``last_day`` (see the module docstring)."""
    chosen = default_criteria()
    for entry in sorted(periods, key=lambda p: p.start):
        if entry.start <= last_day:
            chosen = entry.criteria
    return chosen
