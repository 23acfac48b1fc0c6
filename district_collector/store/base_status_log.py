"""The store's part for station status history: when each station went online or offline.

The ``status`` table keeps only a station's latest status; the status log keeps every
change of state. :meth:`~district_collector.store.base.Store.add_batch` appends a log row
in the same transaction whenever a stored status changes a station's state (its first
status included): ``(station, state, at, received_at)``, ``at`` the station's own time
(RFC 3339 as sent, None when it had none) and ``received_at`` the collector's receipt
time (RFC 3339, milliseconds). A retained status delivered again, or a new status with
the same state, adds nothing. Stores created before the log have no history before it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True)
class StatusLogRow:
    """One change of a station's state, as logged."""

    station: str
    state: str
    at: str | None
    received_at: str


class StatusLogStore(ABC):
    """Reading the status history; writing happens inside ``add_batch``."""

    @abstractmethod
    def status_log(self, station: str, limit: int = 1000) -> list[StatusLogRow]:
        """The station's last ``limit`` state changes, oldest first ([] when none logged)."""
