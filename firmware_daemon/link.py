"""The station's MQTT link to the district (PROTOCOL.md, "Topics" and "Delivery rule").

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

Delivery: on every connect, and again whenever the oldest unacked seq has not moved
for ``republish_s``, a *round* walks the unacked events in seq order in batches of
``batch`` (at most ``batch`` publishes in flight, waiting for PUBACKs before the next
batch), so a backlog of 10,000 events never sits in memory at once. A PUBACK proves
nothing durable; only a signed district ``ack`` removes an event from the pending set.

Acks are verified with the pinned district keys (``typ cr-ack+json``, ``station`` ours);
anything else is logged and changes nothing. Schedule messages are handed, as raw
bytes, to ``on_schedule`` (run in the link thread: hand long work off). Messages over
256 KiB are dropped with a log line.

Status: retained, signed ``status`` (``online``) on each connect and when the amp,
schedule or clock state changes (at most every ``status_min_interval_s``), and when
only the outbox counters changed (at most every ``status_counters_interval_s``), and
at least every ``status_heartbeat_s``. The
Last Will is a signed ``offline`` status, re-signed before every (re)connect. On a
clean stop the link publishes ``offline`` itself (a clean DISCONNECT suppresses the will).
"""

from __future__ import annotations

import inspect
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from radio_protocol.clock import Clock
from radio_protocol.errors import ConfigError, JoseError
from radio_protocol.jose import KeyRing, verify
from radio_protocol.topics import topic

from .status import StatusBuilder

if TYPE_CHECKING:
    from .config import StationConfig

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 256 * 1024
MIN_SESSION_EXPIRY_S = 7 * 24 * 3600
ACK_TYP = "cr-ack+json"
MAX_ACK_ALSO = 100_000
MAX_AHEAD = 2_000  # default LinkSettings.max_ahead


class LinkOutbox(Protocol):
    """What the link needs from ``firmware_daemon.outbox.Outbox``."""

    def unacked(self, limit: int) -> list[tuple[int, bytes]]: ...

    def apply_ack(self, through: int, also: Sequence[int]) -> int: ...

    def last_seq(self) -> int: ...

    def pending_count(self) -> int: ...


@dataclass(frozen=True)
class LinkSettings:
    """Everything the link needs, already validated (see :func:`settings_from_config`)."""

    district: str
    station: str
    host: str
    port: int = 8883
    username: str | None = None
    password: str | None = None
    tls: bool = False
    tls_ca: Path | None = None  # None with tls: the system's CA store
    tls_insecure: bool = False  # skip host name checking (test brokers only)
    keepalive_s: int = 60
    session_expiry_s: int = MIN_SESSION_EXPIRY_S
    republish_s: float = 300.0
    batch: int = 200
    max_ahead: int = MAX_AHEAD  # rows read at most per page when the outbox cannot page by seq
    status_min_interval_s: float = 2.0
    status_counters_interval_s: float = 30.0
    status_heartbeat_s: float = 900.0  # a fresh status at least this often (uptime, at)
    poll_s: float = 0.5
    reconnect_min_s: int = 1
    reconnect_max_s: int = 30

    def __repr__(self) -> str:  # never show the password
        return (f"LinkSettings(station={self.station}, host={self.host}, port={self.port}, "
                f"username={self.username}, tls={'on' if self.tls else 'off'})")


def read_password_file(path: Path, source: str) -> str:
    """The first line of ``path``; ConfigError naming ``mqtt.password_file`` otherwise."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{source}: mqtt.password_file: cannot read {path}: {exc.strerror}"]) from exc
    password = text.splitlines()[0].strip() if text.strip() else ""
    if not password:
        raise ConfigError([f"{source}: mqtt.password_file: {path} is empty"])
    return password


def settings_from_config(config: StationConfig) -> LinkSettings | None:
    """LinkSettings from the station config; None when it has no ``mqtt`` section."""
    m = config.mqtt
    if m is None:
        return None
    password = read_password_file(m.password_file, str(config.source)) if m.password_file else None
    return LinkSettings(
        district=config.station.district,
        station=config.station.id,
        host=m.host,
        port=m.port,
        username=m.username,
        password=password,
        tls=m.tls is not None,
        tls_ca=m.tls.ca if m.tls is not None else None,
        tls_insecure=m.tls.insecure if m.tls is not None else False,
        keepalive_s=m.keepalive_s,
        session_expiry_s=max(MIN_SESSION_EXPIRY_S, m.session_expiry_s),
        republish_s=m.republish_s,
    )


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
            raise ValueError("session_expiry_s must be at least 7 days (PROTOCOL.md)")
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
        # delivery state (link thread only)
        self._cursor = 0
        self._round_active = False
        self._sent_in_round = 0
        self._outstanding: set[int] = set()
        self._oldest_seen: int | None = None
        self._oldest_since_mono = 0.0
        self._status_key: tuple[Any, ...] | None = None
        self._status_counters: tuple[int, int] | None = None
        self._status_mono = float("-inf")
        self._unacked_after: bool | None = None
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
        if s.tls:
            client.tls_set(ca_certs=str(s.tls_ca) if s.tls_ca else None)
            if s.tls_insecure:
                client.tls_insecure_set(True)
        client.reconnect_delay_set(s.reconnect_min_s, s.reconnect_max_s)
        client.max_inflight_messages_set(max(20, s.batch))
        client.on_connect = self._cb_connect
        client.on_disconnect = self._cb_disconnect
        client.on_publish = self._cb_publish
        client.on_message = self._cb_message
        client.on_connect_fail = self._cb_connect_fail
        return client

    def _cb_connect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        try:
            failed = bool(getattr(reason_code, "is_failure", False))
            if not failed:
                # subscribe at once, inside on_connect (STYLE.md: Frigate's habit)
                client.subscribe([(self.topic_schedule, 1), (self.topic_ack, 1)])
                self._connected.set()
            self._work.put(("connected", failed, str(reason_code), bool(getattr(flags, "session_present", False))))
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
                return
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
            self._outstanding.discard(item[1])
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
            self._outstanding.clear()
            self._publish_status(outbox, "online")
            self._start_round()
        elif kind == "disconnected":
            log.warning("mqtt disconnected station=%s reason=%s", self.settings.station, item[1])
            self._up = False
            self._outstanding.clear()
            self._round_active = False
            self._set_will(outbox)

    def _service(self, outbox: LinkOutbox) -> None:
        if not self._up:
            return
        now_mono = self.clock.monotonic()
        self._maybe_status(outbox, now_mono)
        self._publish_backlog(outbox)
        self._maybe_republish(outbox, now_mono)

    # --- events ---------------------------------------------------------------------

    def _start_round(self) -> None:
        self._cursor = 0
        self._sent_in_round = 0
        self._round_active = True
        self.stats.rounds += 1

    def _fetch_after(self, outbox: LinkOutbox, after: int, limit: int) -> list[tuple[int, bytes]]:
        """Up to ``limit`` unacked events with seq > ``after``, in seq order."""
        if self._unacked_after is None:
            try:
                self._unacked_after = "after" in inspect.signature(outbox.unacked).parameters
            except (TypeError, ValueError):
                self._unacked_after = False
        if self._unacked_after:
            return list(outbox.unacked(limit, after=after))  # type: ignore[call-arg]
        # No paging in the outbox: every unacked seq <= after was sent in this round, so
        # this window reaches past the cursor. It is capped (``max_ahead`` rows), so while
        # the district does not ack, a round stops ``max_ahead`` events ahead instead of
        # reading the whole backlog into memory; acks (or the next round) move it on.
        window = min(limit + self._sent_in_round, self.settings.max_ahead)
        rows = outbox.unacked(window)
        self.stats.max_rows_read = max(self.stats.max_rows_read, len(rows))
        return [(seq, jws) for seq, jws in rows if seq > after][:limit]

    def _publish_backlog(self, outbox: LinkOutbox) -> None:
        """Publish unacked events past the cursor, keeping at most ``batch`` in flight.

        Refills once half the window has been PUBACKed; rows are read in pages, so
        memory holds one batch, not the backlog.
        """
        batch = self.settings.batch
        while self._up and len(self._outstanding) <= batch // 2:
            rows = self._fetch_after(outbox, self._cursor, batch - len(self._outstanding))
            if not rows:
                if self._round_active:
                    self._round_active = False
                    log.debug("delivery round done station=%s sent=%d", self.settings.station, self._sent_in_round)
                return
            self._round_active = True
            for seq, jws in rows:
                info = self._client.publish(self.topic_event, bytes(jws), qos=1, retain=False)
                if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    log.info("event publish deferred station=%s seq=%d rc=%s", self.settings.station, seq, info.rc)
                    return
                self._outstanding.add(info.mid)
                self.stats.max_in_flight = max(self.stats.max_in_flight, len(self._outstanding))
                self._cursor = seq
                self._sent_in_round += 1
                self.stats.events_published += 1

    def _maybe_republish(self, outbox: LinkOutbox, now_mono: float) -> None:
        """Start a new round when the oldest unacked seq has not moved for ``republish_s``."""
        if self._round_active:
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
            self._start_round()

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
            verified = verify(raw, self.district_keys, ACK_TYP)
            through, also = parse_ack(verified.payload, station)
        except (JoseError, AckError) as exc:
            self.stats.acks_rejected += 1
            log.warning("ack rejected station=%s reason=%s", station, exc)
            return
        last = outbox.last_seq()
        if through > last or (also and also[-1] > last):
            # e.g. an outbox replaced after an SD card failure: never let an ack for seqs we
            # have not recorded yet cover events we record later.
            log.warning("ack covers seqs this station never recorded station=%s through=%d "
                        "last_seq=%d (outbox replaced?); applying only up to last_seq", station, through, last)
            through = min(through, last)
            also = [seq for seq in also if seq <= last]
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


class AckError(ValueError):
    """An ack that verified but does not say something this station can apply."""


def parse_ack(payload: dict[str, Any], station: str) -> tuple[int, list[int]]:
    """``(through, also)`` from a verified ack payload for ``station``; raises AckError."""
    if payload.get("type") != "ack":
        raise AckError(f"type {payload.get('type')!r} is not ack")
    if payload.get("station") != station:
        raise AckError(f"ack names station {payload.get('station')!r}, not ours")
    through = payload.get("through", 0)
    if not isinstance(through, int) or isinstance(through, bool) or through < 0:
        raise AckError(f"through must be an integer >= 0, got {through!r}")
    also = payload.get("also", [])
    if not isinstance(also, list) or len(also) > MAX_ACK_ALSO:
        raise AckError("also must be a list of seqs")
    for seq in also:
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise AckError(f"also holds a bad seq {seq!r}")
    return through, sorted(set(also))
