"""The face of the district's evidence store: what any backend must do, and promise.

:class:`Store` is what the collector, the views and the reports use; the SQLite backend
(:class:`~district_collector.store.sqlite.SqliteStore`) implements it, and another
database (PostgreSQL) implements the same methods with the same contracts. Records and
rows are in :mod:`district_collector.store.records`.

Contracts every backend keeps:

- **Identity.** An event is keyed ``(station, seq, payload_sha256)``. The same key again
  is a *duplicate* (nothing written); the same ``(station, seq)`` with another payload
  hash is a *conflict*, stored as a second event (both payloads are evidence).
- **Durability.** A write method commits before it returns: everything it wrote then
  survives a power cut; when it raises :class:`StoreError`, nothing of the call is
  stored.
- **Acks.** ``through`` (see :meth:`Store.ack_position`) is committed with the events, so
  an ack never claims more than what is stored.
- **Times** given to the store are aware datetimes; times read back as text are RFC 3339
  with milliseconds, as written.
- **Threads.** One instance per thread.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime

from district_collector.scoring.facts import FactsRow
from district_collector.store.base_accounts import AccountsStore
from district_collector.store.base_acks import AcksStore
from district_collector.store.base_alerts import AlertsStore
from district_collector.store.base_fleet import FleetStore
from district_collector.store.base_status_log import StatusLogStore
from district_collector.store.facts import StationSummary
from district_collector.store.records import (
    Outcome,
    QuarantineRecord,
    QuarantineRow,
    SeqSummary,
    StatusRecord,
    StatusRow,
    StoredEvent,
)
from radio_protocol.errors import CommuneRadioError


class StoreError(CommuneRadioError):
    """The store cannot be opened or written (the call stored nothing)."""


class RecordRefused(StoreError):
    """The store cannot hold a value of the batch (an integer beyond 64 bits, a missing
    required value...): the batch was rolled back and nothing of it is stored, but the
    store itself works. Storing the batch's records one by one finds the one at fault."""


class Store(
    AccountsStore,
    AlertsStore,
    AcksStore,
    StatusLogStore,
    FleetStore,
    ABC,
):
    """The collector's evidence store. A backend overrides every abstract method."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    def close(self) -> None:
        """Release the connection; the instance is not used afterwards."""

    # --- writing ------------------------------------------------------------------------

    @abstractmethod
    def add_batch(
        self,
        events: Sequence[StoredEvent],
        rejects: Sequence[QuarantineRecord] = (),
        statuses: Sequence[StatusRecord] = (),
    ) -> list[Outcome]:
        """Store a batch in ONE transaction, committed when this returns; the per-event
        outcomes, in order.

        ``accepted``: new. ``duplicate``: same station, seq and payload hash already stored
        or earlier in the batch (nothing written). ``conflict``: same station and seq,
        another payload hash: stored as another event. Each station's ``through`` advances
        in the same transaction. A quarantine record identical to a stored one (same
        reason, station and raw bytes) is not stored again, so a re-import changes nothing.
        A status replaces the station's latest unless it is the same JWS again; the
        stored ``received_at`` stays when the state did not change. StoreError: nothing
        of the batch is stored; RecordRefused (a StoreError) when a record is at fault
        rather than the store. On any exception the transaction is rolled back, so the
        next call starts clean.
        """

    @abstractmethod
    def add_schedule(self, station: str, version: int, jws: bytes, payload_sha256: str,
                     published_at: datetime) -> bool:
        """Record a published schedule (committed on return); False, and nothing written,
        when that ``(station, version)`` already exists."""

    # --- the seq space and acks ---------------------------------------------------------

    @abstractmethod
    def ack_position(self, station: str, max_also: int = 1000) -> tuple[int, list[int]]:
        """``(through, also)`` for an ack: every seq 1..through is stored; ``also`` lists
        the lowest ``max_also`` stored seqs above ``through``, ascending (the rest are
        covered by later acks as gaps fill). ``(0, [])`` for a station never stored."""

    @abstractmethod
    def acked_stations(self) -> list[str]:
        """Every station with stored events, by id."""

    @abstractmethod
    def count_events(self, station: str | None = None) -> int:
        """Stored events (conflicts counted), of one station or all."""

    @abstractmethod
    def seqs(self, station: str) -> list[int]:
        """Every stored seq of a station, ascending, repeated for conflicts."""

    @abstractmethod
    def seq_summary(self, station: str) -> SeqSummary:
        """The station's seq space: count, last seq, through, gaps, chain breaks, conflicts."""

    # --- events -------------------------------------------------------------------------

    @abstractmethod
    def iter_events(
        self,
        station: str | None = None,
        start_at: datetime | None = None,
        end_at: datetime | None = None,
    ) -> Iterator[StoredEvent]:
        """Stored events (conflicting ones included), by station, seq, then receipt.

        With ``start_at``/``end_at`` only events whose ``started_at`` lies in ``[start_at,
        end_at)`` (events without one are then skipped). ``facts.signature_ok`` is True
        (every stored event verified at ingest). Streams: memory stays flat.
        """

    @abstractmethod
    def period_rows(self, start_us: int, end_us: int, kids: Mapping[str, Collection[str]]) -> Iterator[FactsRow]:
        """A period's events as scoring rows, in station, seq, payload hash order, without
        decoding any JWS.

        Per station, every event whose seq lies in ``[min(S) - 1, max(S) + 1]``, S the
        seqs of its events with ``start_us <= started_utc_us < end_us`` (integer UTC
        microseconds). Rows are in :class:`~district_collector.scoring.facts.EventFacts`
        field order; ``signature_ok`` is 1 when the event's kid is in ``kids[station]``,
        else 0; ``clock_synced`` is 0/1/None. Streams: memory stays flat.
        """

    @abstractmethod
    def period_events(self, start_us: int, end_us: int,
                      kids: Mapping[str, Collection[str]]) -> Iterator[StoredEvent]:
        """:meth:`period_rows` as event records (same selection and order, the facts as
        there): what an evidence bundle holds."""

    @abstractmethod
    def grouped_period(
        self,
        start_us: int,
        end_us: int,
        kids: Mapping[str, Collection[str]],
        offset_us: int,
        first_monday: int,
        month_starts: list[int],
        eligible: Collection[str],
        program: str,
    ) -> tuple[list[StationSummary], Iterator[FactsRow]]:
        """The period as summaries of the stations whose rows hold no surprise, and the
        :meth:`period_rows` of every other station; the contract of
        :func:`district_collector.store.facts.grouped_period`, which the SQLite store runs."""

    @abstractmethod
    def latest_started_us(self) -> int | None:
        """The latest ``started`` time of any stored event (integer UTC microseconds since
        the Unix epoch, as the facts hold it); None when no event has one."""

    @abstractmethod
    def has_events_between(self, start_us: int, end_us: int) -> bool:
        """Whether any stored event started in ``[start_us, end_us)`` (UTC microseconds)."""

    @abstractmethod
    def last_airing(self, station: str) -> str | None:
        """``started_at`` (as stored) of the station's highest-seq event that has one."""

    # --- statuses, quarantine, schedules ------------------------------------------------

    @abstractmethod
    def status(self, station: str) -> StatusRow | None:
        """The station's latest status, None when it never sent one."""

    @abstractmethod
    def quarantine_rows(self) -> list[QuarantineRow]:
        """Every quarantined message, oldest first."""

    @abstractmethod
    def published_schedules(self) -> list[bytes]:
        """Every published schedule's JWS, in station then version order."""

    @abstractmethod
    def latest_schedule(self, station: str) -> tuple[int, bytes] | None:
        """``(version, jws)`` of the station's highest published schedule version."""
