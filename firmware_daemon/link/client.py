"""The station's MQTT link to the district (docs/protocol.md, "Topics" and "Delivery rule").

paho-mqtt 2.x, MQTT 5, ``CallbackAPIVersion.VERSION2``, ``connect_async`` +
``loop_start``; client id = station id; Clean Start 0 with a Session Expiry
Interval of at least 7 days, so the broker keeps our subscriptions and queues acks
and schedules while we are away.

Threads:

- paho's network thread runs the callbacks. They only put small tuples on
  ``self._work`` (and never raise: every callback is wrapped, and paho's
  ``suppress_exceptions`` is set as a second guard).
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
bytes, to ``on_schedule`` (run in the link thread: hand long work off). Messages over
256 KiB are dropped with a log line, except on the schedule topic: there the handler gets
an ``OversizedMessage`` (the first 256 KiB + 1 bytes and the real ``size``), so the
store rejects it as ``too-large`` and the status reports it.

Status: retained, signed ``status`` (``online``) on each connect and when the amp,
schedule or clock state changes (at most every ``status_min_interval_s``), and when
only the outbox counters changed (at most every ``status_counters_interval_s``), and
at least every ``status_heartbeat_s``. The
Last Will is a signed ``offline`` status, re-signed before every (re)connect. On a
clean stop the link publishes ``offline`` itself (a clean DISCONNECT suppresses the will).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from firmware_daemon.link.ack import (
    ACK_TYP,
    MAX_ACK_ALSO,
    AckError,
    parse_ack,
    read_ack,
    within_recorded,
)
from firmware_daemon.link.delivery import DeliveryRounds, LinkOutbox, LinkStats, OversizedMessage
from firmware_daemon.link.settings import (
    MIN_SESSION_EXPIRY_S,
    LinkSettings,
    configure_tls,
    read_password_file,
    settings_from_config,
)
from firmware_daemon.service.status import StatusBuilder
from radio_protocol.clock import Clock
from radio_protocol.errors import JoseError
from radio_protocol.jose import KeyRing
from radio_protocol.topics import topic

# Names other modules and tests have imported from here since before the split.
__all__ = [
    "ACK_TYP", "MAX_ACK_ALSO", "MAX_MESSAGE_BYTES", "MIN_SESSION_EXPIRY_S", "AckError",
    "LinkOutbox", "LinkSettings", "LinkStats", "OversizedMessage", "StationLink", "parse_ack", "read_password_file",
    "settings_from_config",
]

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 256 * 1024


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
    ) -> None:
        if settings.session_expiry_s < MIN_SESSION_EXPIRY_S:
            raise ValueError("session_expiry_s must be at least 7 days (docs/protocol.md)")
        self.settings = settings
        self.district_keys = district_keys
        self.status = status
        self.clock = clock
        self.on_schedule = on_schedule or _default_on_schedule
        self.stats = LinkStats()
        self._outbox_factory = outbox_factory
        self._outbox_close = outbox_close
        self._work: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connected = threading.Event()
        self._ready = threading.Event()
        self.topic_event = topic(settings.district, settings.station, "event")
        self.topic_status = topic(settings.district, settings.station, "status")
        self.topic_schedule = topic(settings.district, settings.station, "schedule")
        self.topic_ack = topic(settings.district, settings.station, "ack")
        self._client = self._make_client()
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

    # --- paho callbacks (network thread): only enqueue, never raise -----------------

    def _make_client(self) -> mqtt.Client:
        s = self.settings
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=s.station,
            protocol=mqtt.MQTTv5,
        )
        client.suppress_exceptions = True
        if s.username:
            client.username_pw_set(s.username, s.password)
        configure_tls(client, s)
        client.reconnect_delay_set(s.reconnect_min_s, s.reconnect_max_s)
        client.max_inflight_messages_set(max(20, s.batch))
        client.on_connect = self._cb_connect
        client.on_disconnect = self._cb_disconnect
        client.on_publish = self._cb_publish
        client.on_message = self._cb_message
        client.on_connect_fail = self._cb_connect_fail
        return client

    def _cb_connect(self, client: mqtt.Client, userdata: Any, flags: mqtt.ConnectFlags, reason_code: ReasonCode, properties: Any) -> None:
        try:
            failed = reason_code.is_failure
            if not failed:
                # subscribe at once, inside on_connect (docs/ARCHITECTURE.md: the link)
                client.subscribe([(self.topic_schedule, 1), (self.topic_ack, 1)])
                self._connected.set()
            self._work.put(("connected", failed, str(reason_code), flags.session_present))
        except Exception:
            log.exception("link on_connect callback failed")

    def _cb_connect_fail(self, client: Any, userdata: Any) -> None:
        try:
            log.debug("mqtt connect attempt failed host=%s port=%d", self.settings.host, self.settings.port)
        except Exception:
            pass

    def _cb_disconnect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        try:
            self._connected.clear()
            self._work.put(("disconnected", str(reason_code)))
        except Exception:
            log.exception("link on_disconnect callback failed")

    def _cb_publish(self, client: Any, userdata: Any, mid: int, reason_code: Any, properties: Any) -> None:
        try:
            self._work.put(("published", mid))
        except Exception:
            log.exception("link on_publish callback failed")

    def _cb_message(self, client: Any, userdata: Any, message: Any) -> None:
        try:
            payload = bytes(message.payload)
            if len(payload) > MAX_MESSAGE_BYTES:
                self.stats.messages_dropped += 1
                log.warning("mqtt message dropped topic=%s bytes=%d limit=%d",
                            message.topic, len(payload), MAX_MESSAGE_BYTES)
                if str(message.topic) != self.topic_schedule:
                    return
                payload = OversizedMessage.cut(payload, MAX_MESSAGE_BYTES)  # reported as too-large
            self._work.put(("message", str(message.topic), payload))
        except Exception:
            log.exception("link on_message callback failed")

    # --- worker thread --------------------------------------------------------------

    def _run(self) -> None:
        outbox: LinkOutbox | None = None
        try:
            outbox = self._outbox_factory()
            self._ready.set()
            self._set_will(outbox)
            self._connect_props = Properties(PacketTypes.CONNECT)
            self._connect_props.SessionExpiryInterval = self.settings.session_expiry_s
            self._client.connect_async(
                self.settings.host, self.settings.port, keepalive=self.settings.keepalive_s,
                clean_start=False, properties=self._connect_props,
            )
            self._client.loop_start()
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

    def _handle(self, outbox: LinkOutbox, item: tuple[Any, ...]) -> None:
        kind = item[0]
        if kind == "published":
            self._delivery.published(item[1])
        elif kind == "message":
            self._on_message(outbox, item[1], item[2])
        elif kind == "connected":
            _, failed, reason, session_present = item
            if failed:
                log.error("mqtt connect refused station=%s reason=%s", self.settings.station, reason)
                return
            self._up = True
            self.stats.connects += 1
            log.info("mqtt connected station=%s session_present=%s", self.settings.station, session_present)
            self._delivery.connected()
            self._publish_status(outbox, "online")
            self._delivery.start_round()
        elif kind == "disconnected":
            log.warning("mqtt disconnected station=%s reason=%s", self.settings.station, item[1])
            self._up = False
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
            through, also = read_ack(raw, self.district_keys, station)
        except (JoseError, AckError) as exc:
            self.stats.acks_rejected += 1
            log.warning("ack rejected station=%s reason=%s", station, exc)
            return
        last = outbox.last_seq()
        within = within_recorded(through, also, last)
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

