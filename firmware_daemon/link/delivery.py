"""Which unacked events the station link publishes next (docs/protocol.md, "Delivery rule").

A *round* walks the unacked events in seq order, in pages of at most ``batch`` rows, with
at most ``batch`` publishes in flight (refilled once half of them are PUBACKed), so a
backlog of 10,000 events never sits in memory at once. A round starts on every connect,
and again whenever the oldest unacked seq has not moved for ``republish_s``. A PUBACK
proves nothing durable: only a signed district ack (applied to the outbox) removes an
event from what the next round sends.

:class:`DeliveryRounds` holds that state; it is used by the link's worker thread only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from paho.mqtt.client import MQTTMessageInfo
from paho.mqtt.enums import MQTTErrorCode

from firmware_daemon.link.settings import LinkSettings

log = logging.getLogger(__name__)


class LinkOutbox(Protocol):
    """What the link needs from ``firmware_daemon.airing.outbox.Outbox``."""

    def unacked(self, limit: int, after: int = 0) -> list[tuple[int, bytes]]: ...

    def apply_ack(self, through: int, also: Sequence[int]) -> int: ...

    def last_seq(self) -> int: ...

    def pending_count(self) -> int: ...


@dataclass
class LinkStats:
    """Counters for logs and tests (read from any thread; written by the link thread)."""

    connects: int = 0
    events_published: int = 0
    rounds: int = 0
    acks_applied: int = 0
    acks_rejected: int = 0
    events_acked: int = 0
    statuses_published: int = 0
    schedules_received: int = 0
    messages_dropped: int = 0
    max_in_flight: int = 0
    max_rows_read: int = 0


class OversizedMessage(bytes):
    """The first ``limit + 1`` bytes of a message over the size limit, and its real ``size``.

    The link hands this to the schedule handler instead of dropping the message
    silently, so the store rejects it as ``too-large`` and the status says so; only the
    bounded prefix is kept (a handler that checks ``len`` alone still sees it too long).
    """

    size: int

    @classmethod
    def cut(cls, payload: bytes, limit: int) -> OversizedMessage:
        message = cls(payload[:limit + 1])
        message.size = len(payload)
        return message


PublishEvent = Callable[[bytes], MQTTMessageInfo]  # paho's publish: (rc, mid)


class DeliveryRounds:
    """The delivery state of one link: the round's cursor and the publishes in flight."""

    def __init__(self, settings: LinkSettings, stats: LinkStats) -> None:
        self.settings = settings
        self.stats = stats
        self.cursor = 0  # the last seq published in this round
        self.round_active = False
        self.sent_in_round = 0
        self.outstanding: set[int] = set()  # mids of event publishes not yet PUBACKed
        self._oldest_seen: int | None = None
        self._oldest_since_mono = 0.0

    def start_round(self) -> None:
        self.cursor = 0
        self.sent_in_round = 0
        self.round_active = True
        self.stats.rounds += 1

    def published(self, mid: int) -> None:
        """A PUBACK (or a status publish completing: then nothing changes)."""
        self.outstanding.discard(mid)

    def connected(self) -> None:
        """A new connection: nothing is in flight on it yet."""
        self.outstanding.clear()

    def disconnected(self) -> None:
        self.outstanding.clear()
        self.round_active = False

    def _fetch_after(self, outbox: LinkOutbox, after: int, limit: int) -> list[tuple[int, bytes]]:
        """Up to ``limit`` unacked events with seq > ``after``, in seq order (one page)."""
        page = list(outbox.unacked(limit, after=after))
        self.stats.max_rows_read = max(self.stats.max_rows_read, len(page))
        return page

    def publish_backlog(self, outbox: LinkOutbox, publish: PublishEvent) -> None:
        """Publish unacked events past the cursor, keeping at most ``batch`` in flight.

        Refills once half the window has been PUBACKed; rows are read in pages, so
        memory holds one batch, not the backlog. ``publish(jws)`` sends one event.
        """
        batch = self.settings.batch
        while len(self.outstanding) <= batch // 2:
            rows = self._fetch_after(outbox, self.cursor, batch - len(self.outstanding))
            if not rows:
                if self.round_active:
                    self.round_active = False
                    log.debug("delivery round done station=%s sent=%d", self.settings.station, self.sent_in_round)
                return
            self.round_active = True
            for seq, jws in rows:
                info = publish(bytes(jws))
                if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    log.info("event publish deferred station=%s seq=%d rc=%s", self.settings.station, seq, info.rc)
                    return
                self.outstanding.add(info.mid)
                self.stats.max_in_flight = max(self.stats.max_in_flight, len(self.outstanding))
                self.cursor = seq
                self.sent_in_round += 1
                self.stats.events_published += 1

    def maybe_republish(self, outbox: LinkOutbox, now_mono: float) -> None:
        """Start a new round when the oldest unacked seq has not moved for ``republish_s``."""
        if self.round_active:
            return
        first = outbox.unacked(1)
        oldest = first[0][0] if first else None
        if oldest != self._oldest_seen:
            self._oldest_seen = oldest
            self._oldest_since_mono = now_mono
            return
        if oldest is not None and now_mono - self._oldest_since_mono >= self.settings.republish_s:
            log.info("re-publishing unacked events station=%s oldest_seq=%d", self.settings.station, oldest)
            self._oldest_since_mono = now_mono
            self.start_round()
