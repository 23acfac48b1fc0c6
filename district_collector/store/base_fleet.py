"""The store's part for the fleet view: every station's aggregates in a few set-based reads.

A console showing 10,000 stations cannot ask per station; these methods answer for all
stations at once (each one statement, or a few, whatever the fleet's size).

- :meth:`FleetStore.station_aggregates`: per station with anything stored, its last seq,
  its last airing (the highest-seq event that has a ``started_at``), and its evidence
  problems: missing seq ranges (gaps), chain breaks, conflicting seqs, quarantined
  messages, with the same meanings as :class:`~district_collector.store.records.SeqSummary`.
- :meth:`FleetStore.latest_statuses`, :meth:`FleetStore.latest_schedule_versions`: the
  ``status`` and ``schedules`` tables, all stations at once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import NamedTuple

from district_collector.store.records import StatusRow


class StationAggregate(NamedTuple):
    """One station's aggregates. ``last_*`` describe its last airing (None without one);
    ``last_jws`` is that event's JWS when its outcome is not ``completed`` (to read its
    ``reason``), else None. ``gaps``: missing seq ranges below ``last_seq``;
    ``chain_breaks``/``conflicts``: seqs; ``quarantined``: messages kept for it."""

    station: str
    last_seq: int
    last_started_at: str | None
    last_outcome: str | None
    last_program: str | None
    last_title: str | None
    last_jws: bytes | None
    gaps: int
    chain_breaks: int
    conflicts: int
    quarantined: int


class FleetStore(ABC):
    """Whole-fleet reads for the console."""

    @abstractmethod
    def station_aggregates(self) -> dict[str, StationAggregate]:
        """Aggregates of every station with a stored event or quarantined message, by id."""

    @abstractmethod
    def latest_statuses(self) -> dict[str, StatusRow]:
        """Every station's latest stored status, by station id."""

    @abstractmethod
    def latest_schedule_versions(self) -> dict[str, int]:
        """Every station's highest published schedule version, by station id."""
