"""The paho side of the station link: the MQTT 5 client, its session, and its callbacks.

paho-mqtt 2.x, MQTT 5, ``CallbackAPIVersion.VERSION2``, ``connect_async`` +
``loop_start``; client id = station id; Clean Start 0 with a Session Expiry Interval of
at least 7 days (:data:`~firmware_daemon.link.settings.MIN_SESSION_EXPIRY_S`), so the
broker keeps our subscriptions and queues acks and schedules while we are away.

:class:`NetworkCallbacks` are what paho's network thread runs. They only put small
tuples on the link's work queue (and never raise: every callback is wrapped, and paho's
``suppress_exceptions`` is set as a second guard); the one exception is the subscription,
made at once inside ``on_connect`` so a reconnect always resubscribes.

paho's network thread retries a failed connect by itself and hands ``on_connect_fail``
no reason; :class:`StationClient` keeps the exception its ``reconnect`` raised (then
re-raises it, so paho goes on retrying with its back-off) for ``on_connect_fail`` to
translate. The items are:

- ``("connected", session_present: bool)``: the broker accepted us
- ``("connect-failed", failure: LinkFailure)``: an attempt failed (the exception paho's
  reconnect raised, a CONNACK refusal, or the broker closing before any CONNACK), translated
  by :mod:`firmware_daemon.link.failure`
- ``("disconnected", reason: str)``: an accepted connection dropped
- ``("published", mid: int)``
- ``("message", topic: str, payload: bytes)``: a payload over :data:`MAX_MESSAGE_BYTES`
  is dropped with a log line, except on the schedule topic, where it is cut to an
  :class:`~firmware_daemon.link.delivery.OversizedMessage` so the store rejects it as
  ``too-large`` and the status reports it.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from firmware_daemon.link.delivery import LinkStats, OversizedMessage
from firmware_daemon.link.failure import (
    LinkFailure,
    closed_before_connack,
    from_connack,
    from_exception,
)
from firmware_daemon.link.settings import LinkSettings, configure_tls
from radio_protocol.names import MAX_SCHEDULE_BYTES

__all__ = ["MAX_MESSAGE_BYTES", "NetworkCallbacks", "StationClient", "WorkItem", "connect_session",
           "new_client"]

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = MAX_SCHEDULE_BYTES
"""Largest message the link hands on (the schedule is the largest the protocol allows)."""

WorkItem = tuple[Any, ...]
"""One item of the link's work queue: a kind (see the module docstring) and its values."""


class StationClient(mqtt.Client):
    """paho's client, keeping the exception of the last failed connect attempt.

    paho's network thread calls ``reconnect()`` and, when it raises ``OSError`` (TLS, DNS,
    refused, timeout...), calls ``on_connect_fail`` without the exception and retries.
    ``last_connect_error`` holds it for that callback (network thread only).
    """

    last_connect_error: BaseException | None = None

    def reconnect(self) -> mqtt.MQTTErrorCode:
        """paho's reconnect; keeps what it raised. A non-OSError (e.g. a host name that IDNA
        cannot encode) is re-raised as ConnectionError, so paho retries instead of its
        network thread dying silently."""
        self.last_connect_error = None
        try:
            return super().reconnect()
        except OSError as exc:
            self.last_connect_error = exc
            raise
        except Exception as exc:
            self.last_connect_error = exc
            raise ConnectionError(f"{type(exc).__name__}: {exc}") from exc


class NetworkCallbacks:
    """paho's callbacks (network thread): they only enqueue on ``work``, never raise.

    ``connected`` is set once the broker accepted us (and the subscriptions were asked
    for), cleared on a disconnect; other threads may wait on it.
    """

    def __init__(self, settings: LinkSettings, work: queue.SimpleQueue[WorkItem], stats: LinkStats, *,
                 topic_schedule: str, topic_ack: str) -> None:
        self.settings = settings
        self.work = work
        self.stats = stats
        self.topic_schedule = topic_schedule
        self.topic_ack = topic_ack
        self.connected = threading.Event()
        self._answered = False  # a CONNACK came for the current connection (network thread)

    def attach(self, client: mqtt.Client) -> None:
        """Make these the callbacks of ``client``."""
        client.on_connect = self.on_connect
        client.on_disconnect = self.on_disconnect
        client.on_publish = self.on_publish
        client.on_message = self.on_message
        client.on_connect_fail = self.on_connect_fail

    def on_connect(self, client: mqtt.Client, userdata: Any, flags: mqtt.ConnectFlags,
                   reason_code: ReasonCode, properties: Any) -> None:
        try:
            self._answered = True
            if reason_code.is_failure:
                s = self.settings
                self.work.put(("connect-failed", from_connack(reason_code, s.host, s.port, s.username)))
                return
            # subscribe at once, inside on_connect (docs/ARCHITECTURE.md: the link)
            client.subscribe([(self.topic_schedule, 1), (self.topic_ack, 1)])
            self.connected.set()
            self.work.put(("connected", flags.session_present))
        except Exception:
            log.exception("link on_connect callback failed")

    def on_connect_fail(self, client: Any, userdata: Any) -> None:
        try:
            s = self.settings
            exc = getattr(client, "last_connect_error", None)
            if exc is None:
                failure = LinkFailure("network", f"cannot connect to {s.host}:{s.port} (no reason given)")
            else:
                failure = from_exception(exc, s.host, s.port)
            self.work.put(("connect-failed", failure))
        except Exception:
            log.exception("link on_connect_fail callback failed")

    def on_disconnect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        try:
            was_up, answered = self.connected.is_set(), self._answered
            self.connected.clear()
            self._answered = False
            if was_up:
                self.work.put(("disconnected", str(reason_code)))
            elif not answered:  # closed before any CONNACK (a refusal was reported already)
                s = self.settings
                self.work.put(("connect-failed", closed_before_connack(str(reason_code), s.host, s.port, s.tls)))
        except Exception:
            log.exception("link on_disconnect callback failed")

    def on_publish(self, client: Any, userdata: Any, mid: int, reason_code: Any, properties: Any) -> None:
        try:
            self.work.put(("published", mid))
        except Exception:
            log.exception("link on_publish callback failed")

    def on_message(self, client: Any, userdata: Any, message: Any) -> None:
        try:
            payload = bytes(message.payload)
            if len(payload) > MAX_MESSAGE_BYTES:
                self.stats.messages_dropped += 1
                log.warning("mqtt message dropped topic=%s bytes=%d limit=%d",
                            message.topic, len(payload), MAX_MESSAGE_BYTES)
                if str(message.topic) != self.topic_schedule:
                    return
                payload = OversizedMessage.cut(payload, MAX_MESSAGE_BYTES)  # reported as too-large
            self.work.put(("message", str(message.topic), payload))
        except Exception:
            log.exception("link on_message callback failed")


def new_client(settings: LinkSettings, callbacks: NetworkCallbacks) -> mqtt.Client:
    """A paho MQTT 5 client for ``settings`` (credentials, TLS, reconnect back-off, in-flight
    window of at least ``batch``) with ``callbacks`` attached; not connected yet.

    Raises ConfigError when the TLS settings cannot be applied.
    """
    client = StationClient(
        CallbackAPIVersion.VERSION2,
        client_id=settings.station,
        protocol=mqtt.MQTTv5,
    )
    client.suppress_exceptions = True
    if settings.username:
        client.username_pw_set(settings.username, settings.password)
    configure_tls(client, settings)
    client.reconnect_delay_set(settings.reconnect_min_s, settings.reconnect_max_s)
    client.max_inflight_messages_set(max(20, settings.batch))
    callbacks.attach(client)
    return client


def connect_session(client: mqtt.Client, settings: LinkSettings) -> None:
    """Connect in the background (Clean Start 0, Session Expiry ``session_expiry_s``) and
    start paho's network thread; returns at once, paho retries while the broker is down."""
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = settings.session_expiry_s
    client.connect_async(settings.host, settings.port, keepalive=settings.keepalive_s,
                         clean_start=False, properties=props)
    client.loop_start()
