"""The station's MQTT link to the district (docs/protocol.md, "Topics" and "Delivery rule").

Threads:

- paho's network thread runs the callbacks (:mod:`firmware_daemon.link.session`: the
  client, its persistent MQTT 5 session, and callbacks that only enqueue work).
- the link's worker thread (``station-link``) consumes that queue. It owns its own
  outbox connection (``outbox_factory()`` is called inside the thread, so SQLite
  objects never cross threads), applies verified acks, publishes statuses and
  re-publishes every unacked event. It keeps running while the daemon's main thread
  is busy airing.

Delivery (:mod:`firmware_daemon.link.delivery`): on every connect, and again whenever
the oldest unacked seq has not moved for ``republish_s``, a *round* walks the unacked
events in seq order in batches of ``batch`` (at most ``batch`` publishes in flight), so a
backlog of 10,000 events never sits in memory at once. A PUBACK proves nothing durable;
only a signed district ``ack`` removes an event from the pending set.

Acks (:mod:`firmware_daemon.link.ack`) are verified with the pinned district keys (``typ
cr-ack+json``, ``station`` ours); anything else is logged and changes nothing. Settings,
password file and TLS: :mod:`firmware_daemon.link.settings`. Schedule messages are handed, as raw
bytes, to ``on_schedule`` (run in the link thread: hand long work off); an oversized one
arrives as an ``OversizedMessage`` (see :mod:`firmware_daemon.link.session`).

Status: retained, signed ``status`` (``online``) on each connect and when the amp,
schedule or clock state changes (at most every ``status_min_interval_s``), and when
only the outbox counters changed (at most every ``status_counters_interval_s``), and
at least every ``status_heartbeat_s``. The
Last Will is a signed ``offline`` status, re-signed before every (re)connect. On a
clean stop the link publishes ``offline`` itself (a clean DISCONNECT suppresses the will).

Health (:mod:`firmware_daemon.link.health`): ``link.health`` holds the link's state
(connecting, connected, down, stopped), the last connect failure classified by
:mod:`firmware_daemon.link.failure` (TLS handshake, refused credentials, DNS, connection
refused, timeout...) and logs it at the first failure and then at most every
``REPORT_EVERY_S`` while it repeats. Its clock is real time (``health_clock``), whatever
the daemon's clock: connection attempts happen in real time.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from firmware_daemon.link.ack import read_ack
from firmware_daemon.link.delivery import DeliveryRounds, LinkOutbox, LinkStats
from firmware_daemon.link.health import LinkHealth
from firmware_daemon.link.session import NetworkCallbacks, WorkItem, connect_session, new_client
from firmware_daemon.link.settings import MIN_SESSION_EXPIRY_S, LinkSettings
from firmware_daemon.service.status import StatusBuilder
from radio_protocol.clock import Clock, SystemClock
from radio_protocol.errors import AckError, JoseError
from radio_protocol.jose import KeyRing
from radio_protocol.messages.ack import within_recorded
from radio_protocol.topics import topic

__all__ = ["StationLink"]

log = logging.getLogger(__name__)


def _default_on_schedule(raw: bytes) -> None:
    log.info("schedule received bytes=%d (no scheduler attached; ignored)", len(raw))


class StationLink:
    """The MQTT link; :meth:`start` once, :meth:`stop` once (idempotent)."""

    def __init__(
        self,
        settings: LinkSettings,
        *,
        district_keys: KeyRing,
        outbox_factory: Callable[[], LinkOutbox],
        status: StatusBuilder,
        clock: Clock,
        on_schedule: Callable[[bytes], None] | None = None,
        outbox_close: Callable[[LinkOutbox], None] | None = None,
        on_ack_ahead: Callable[[int], None] | None = None,
        health_clock: Clock | None = None,
    ) -> None:
        """``on_ack_ahead(through)``: called (link thread) when a verified ack covers seqs
        ``1..through`` while this station's outbox holds no event at all: the outbox and its
        marker were both replaced, and the chain must continue after the district's record."""
        if settings.session_expiry_s < MIN_SESSION_EXPIRY_S:
            raise ValueError("session_expiry_s must be at least 7 days (docs/protocol.md)")
        self.settings = settings
        self.district_keys = district_keys
        self.status = status
        self.clock = clock
        self.on_schedule = on_schedule or _default_on_schedule
        self.on_ack_ahead = on_ack_ahead
        self.stats = LinkStats()
        self.health = LinkHealth(station=settings.station, host=settings.host, port=settings.port,
                                 tls=settings.tls, clock=health_clock or SystemClock())
        self._outbox_factory = outbox_factory
        self._outbox_close = outbox_close
        self._work: queue.SimpleQueue[WorkItem] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.topic_event = topic(settings.district, settings.station, "event")
        self.topic_status = topic(settings.district, settings.station, "status")
        self.topic_schedule = topic(settings.district, settings.station, "schedule")
        self.topic_ack = topic(settings.district, settings.station, "ack")
        self._network = NetworkCallbacks(settings, self._work, self.stats,
                                         topic_schedule=self.topic_schedule, topic_ack=self.topic_ack)
        self._connected = self._network.connected
        self._client = new_client(settings, self._network)
        # link thread only: delivery rounds, status pacing, the connection as it saw it
        self._delivery = DeliveryRounds(settings, self.stats)
        self._status_key: tuple[Any, ...] | None = None
        self._status_counters: tuple[int, int] | None = None
        self._status_mono = float("-inf")
        self._up = False  # the worker's view of the connection (set when it handles on_connect)

    # --- public API ----------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        """Start the worker thread and the network loop; returns at once (broker may be down)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="station-link", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            log.warning("link worker slow to open its outbox")

    def notify(self) -> None:
        """Wake the link (a new event was appended or the status changed). Thread safe."""
        self._work.put(("wake",))

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """Publish a signed ``offline`` status if connected, disconnect, join the threads."""
        if self._thread is None or self._stop.is_set():
            return
        self._stop.set()
        self._work.put(("wake",))
        self._thread.join(timeout + 5.0)
        if self._thread.is_alive():
            log.error("link worker did not stop within %.0f s", timeout + 5.0)

    # --- worker thread --------------------------------------------------------------

    def _run(self) -> None:
        outbox: LinkOutbox | None = None
        try:
            outbox = self._outbox_factory()
            self._ready.set()
            self._set_will(outbox)
            connect_session(self._client, self.settings)
            log.info("mqtt link started station=%s host=%s port=%d tls=%s", self.settings.station,
                     self.settings.host, self.settings.port, "on" if self.settings.tls else "off")
            while not self._stop.is_set():
                self._drain(outbox, self.settings.poll_s)
                if self._stop.is_set():
                    break
                try:
                    self._service(outbox)
                except Exception:
                    log.exception("link service step failed; retrying")
                    self._stop.wait(1.0)
            self._shutdown(outbox)
        except Exception:
            log.exception("link worker failed")
        finally:
            self._ready.set()
            try:
                self._client.loop_stop()
            except Exception:
                log.exception("mqtt loop_stop failed")
            self._connected.clear()
            self.health.stopped()
            if outbox is not None and self._outbox_close is not None:
                try:
                    self._outbox_close(outbox)
                except Exception:
                    log.exception("closing the link's outbox failed")

    def _drain(self, outbox: LinkOutbox, timeout: float) -> None:
        """Handle queued work: wait up to ``timeout`` for the first item, then take what is there."""
        try:
            item = self._work.get(timeout=timeout)
        except queue.Empty:
            return
        for _ in range(10_000):
            try:
                self._handle(outbox, item)
            except Exception:
                log.exception("link failed handling %s", item[0])
            try:
                item = self._work.get_nowait()
            except queue.Empty:
                return

    def _handle(self, outbox: LinkOutbox, item: WorkItem) -> None:
        kind = item[0]
        if kind == "published":
            self._delivery.published(item[1])
        elif kind == "message":
            self._on_message(outbox, item[1], item[2])
        elif kind == "connect-failed":
            self.health.attempt_failed(item[1])
        elif kind == "connected":
            self._up = True
            self.stats.connects += 1
            self.health.connected(item[1])
            self._delivery.connected()
            self._publish_status(outbox, "online")
            self._delivery.start_round()
        elif kind == "disconnected":
            log.warning("mqtt disconnected station=%s reason=%s", self.settings.station, item[1])
            self._up = False
            self.health.disconnected()
            self._delivery.disconnected()
            self._set_will(outbox)

    def _service(self, outbox: LinkOutbox) -> None:
        if not self._up:
            return
        now_mono = self.clock.monotonic()
        self._maybe_status(outbox, now_mono)
        self._delivery.publish_backlog(outbox, self._publish_event)
        self._delivery.maybe_republish(outbox, now_mono)

    # --- events ---------------------------------------------------------------------

    def _publish_event(self, jws: bytes) -> mqtt.MQTTMessageInfo:
        return self._client.publish(self.topic_event, jws, qos=1, retain=False)

    # --- incoming -------------------------------------------------------------------

    def _on_message(self, outbox: LinkOutbox, name: str, payload: bytes) -> None:
        if name == self.topic_ack:
            self._on_ack(outbox, payload)
        elif name == self.topic_schedule:
            self.stats.schedules_received += 1
            try:
                self.on_schedule(payload)
            except Exception:
                log.exception("schedule handler failed bytes=%d", len(payload))
        else:
            log.warning("mqtt message on unexpected topic=%s ignored", name)

    def _on_ack(self, outbox: LinkOutbox, raw: bytes) -> None:
        station = self.settings.station
        try:
            ack = read_ack(raw, self.district_keys, station)
        except (JoseError, AckError) as exc:
            self.stats.acks_rejected += 1
            log.warning("ack rejected station=%s reason=%s", station, exc)
            return
        through, also = ack.through, list(ack.also)
        last = outbox.last_seq()
        within = within_recorded(through, also, last)
        if last == 0 and through > 0 and self.on_ack_ahead is not None:
            log.error("ack covers seqs 1..%d but this station's outbox is empty station=%s "
                      "(outbox and marker replaced?); continuing the chain after them", through, station)
            self.on_ack_ahead(through)
            return
        if within is not None:
            log.warning("ack covers seqs this station never recorded station=%s through=%d "
                        "last_seq=%d (outbox replaced?); applying only up to last_seq", station, through, last)
            through, also = within
        newly = outbox.apply_ack(through, also)
        self.stats.acks_applied += 1
        self.stats.events_acked += newly
        log.info("ack applied station=%s through=%d also=%d newly_acked=%d", station, through, len(also), newly)

    # --- status ---------------------------------------------------------------------

    def _counters(self, outbox: LinkOutbox) -> tuple[int, int]:
        return outbox.pending_count(), outbox.last_seq()

    def _set_will(self, outbox: LinkOutbox) -> None:
        pending, last = self._counters(outbox)
        will = self.status.signed("offline", outbox_pending=pending, last_seq=last)
        self._client.will_set(self.topic_status, will, qos=1, retain=True)

    def _publish_status(self, outbox: LinkOutbox, state: str) -> mqtt.MQTTMessageInfo:
        pending, last = self._counters(outbox)
        key = self.status.change_key()
        jws = self.status.signed(state, outbox_pending=pending, last_seq=last)
        info = self._client.publish(self.topic_status, jws, qos=1, retain=True)
        self._status_key = key
        self._status_counters = (pending, last)
        self._status_mono = self.clock.monotonic()
        self.stats.statuses_published += 1
        log.debug("status published station=%s state=%s pending=%d last_seq=%d", self.settings.station, state, pending, last)
        return info

    def _maybe_status(self, outbox: LinkOutbox, now_mono: float) -> None:
        since = now_mono - self._status_mono
        if since < self.settings.status_min_interval_s:
            return
        if self.status.change_key() != self._status_key:
            self._publish_status(outbox, "online")
        elif since >= self.settings.status_heartbeat_s:
            self._publish_status(outbox, "online")
        elif since >= self.settings.status_counters_interval_s and self._counters(outbox) != self._status_counters:
            self._publish_status(outbox, "online")

    def _shutdown(self, outbox: LinkOutbox) -> None:
        if not (self._up and self._connected.is_set()):
            return
        try:
            info = self._publish_status(outbox, "offline")
            info.wait_for_publish(2.0)
        except Exception:
            log.exception("publishing the offline status failed")
        self._client.disconnect()
        log.info("mqtt link stopped station=%s", self.settings.station)

