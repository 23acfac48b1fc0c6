"""The store's part in strict acks: a per-station ack section (docs/protocol.md, "Acks
with several workers").

Several collector workers may commit events of one station at once. Each computes the
station's ack from the store and publishes it retained; two workers that compute and
then publish without more could invert on the wire (A reads through=5, B reads 10, B
publishes, A publishes 5 last: the retained ack went backwards). An ack section makes
the read and the publish one step per station: the worker holds the stations' ack locks,
reads their positions AFTER the locks were granted, publishes the acks and waits for the
broker's PUBACKs, then leaves the section. Since a station's ``through`` only grows, and
each section reads after the previous holder's acks were confirmed, the retained ack of
a station never goes backwards, whatever the number of workers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection
from contextlib import AbstractContextManager

AckPositions = dict[str, tuple[int, list[int]]]
"""station -> ``(through, also)`` as :meth:`Store.ack_position` gives it."""

ACK_SECTION_MAX = 256
"""Most stations one section may hold (PostgreSQL keeps one lock per station)."""


class AcksStore(ABC):
    """Ack sections; see the module doc."""

    @abstractmethod
    def ack_section(self, stations: Collection[str], max_also: int = 1000) -> AbstractContextManager[AckPositions]:
        """Hold the ack lock of every station of ``stations`` (at most
        :data:`ACK_SECTION_MAX`) for the ``with`` block and give each one's
        ``(through, also)``, read after every lock was granted (one round trip).

        Contract: a second section holding any of these stations, in this process or
        another, waits until the block ends (locks are taken in one order: no deadlock
        between sections). The caller publishes the acks inside the block and leaves it
        once the broker confirmed them. The locks are released when the block ends, on an
        exception too, and when the process dies (the database drops a dead client's
        locks). Positions only grow: a later section reads at least what an earlier one
        read. Whether :meth:`Store.add_batch` of these stations goes on meanwhile is the
        backend's (PostgreSQL: yes, the ack locks are not the batch locks; SQLite: no, a
        section holds the database's one write lock). StoreError when the store fails."""
