"""``radio-district run``: subscribe, verify, commit, then ack (docs/protocol.md).

Threads: paho's network thread (``connect_async`` + ``loop_start``; paho reconnects
with backoff ``mqtt.reconnect_min_s``..``reconnect_max_s`` when the broker vanishes) and
one worker. Paho callbacks only put ``(topic, payload, mid)`` on a queue; an exception
in a callback is logged and never reaches paho. The worker drains the queue in batches
(group commit: whatever is queued, at most ``ack.max_batch``; no waiting), verifies and
COMMITS the batch in one transaction, THEN acknowledges the MQTT deliveries (manual
PUBACK, so the broker keeps a message until it is committed) and publishes at most one
ack per station per batch: retained, QoS 1, signed ``cr-ack+json``,
``{"v":1,"type":"ack","station":S,"through":N,"also":[...],"at":T}`` where ``through``
is the highest N with every seq 1..N stored and ``also`` the lowest ``ack.max_also``
stored seqs above N. On every (re)connect the acks of every known station are
published again (a broker crash may have lost the retained ones).

The session is persistent (Clean Start 0, Session Expiry ``mqtt.session_expiry_s``)
so the broker queues events while the collector is down.

With a :class:`~district_collector.intake.workers.WorkerGroup` (``run --worker-group``)
the subscriptions are the group's shared ones (``$share/NAME/...``) under the worker's own
client id, and acks go through :class:`~district_collector.intake.acks.AckPublisher`
(per-station ack sections, each ack confirmed by PUBACK before the next section of its
station: strict with any number of workers; a lone collector skips the wait).
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from district_collector.alerts.runner import AlertRunner, start_alerts
from district_collector.config import DistrictConfig
from district_collector.intake.acks import AckPublisher
from district_collector.intake.ingest import Ingestor
from district_collector.intake.workers import WorkerGroup
from district_collector.store.base import Store, StoreError
from district_collector.store.opening import open_store
from radio_protocol.clock import Clock, SystemClock
from radio_protocol.errors import CommuneRadioError
from radio_protocol.jose import Signer
from radio_protocol.timefmt import zone
from radio_protocol.topics import district_filter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Message:
    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int


@dataclass(frozen=True)
class _Connected:
    generation: int


class CollectorService:
    """The collector's MQTT run loop. ``start()`` returns at once; ``stop()`` drains."""

    def __init__(self, config: DistrictConfig, signer: Signer, clock: Clock | None = None,
                 group: WorkerGroup | None = None) -> None:
        if config.mqtt is None:
            raise CommuneRadioError(f"{config.source}: no mqtt section: the collector cannot run")
        self.config = config
        self.mqtt_config = config.mqtt
        self.signer = signer
        self.clock: Clock = clock or SystemClock()
        self.tz = zone(config.district.timezone)
        self.group = group
        self.counts: Counter[str] = Counter()
        self.dropped_at_stop = 0
        self.connected = threading.Event()
        self._queue: queue.Queue[_Message | _Connected] = queue.Queue()
        self._stop = threading.Event()
        self._generation = 0
        self._worker: threading.Thread | None = None
        self._alerts: AlertRunner | None = None
        self._client = self._make_client()
        self._acks = AckPublisher(self._client, signer, self.clock, self.tz, config.district.id,
                                  config.ack.max_also, self._stop, confirm=group is not None)

    @property
    def acks_published(self) -> int:
        return self._acks.published

    @property
    def client_id(self) -> str:
        """This process's MQTT client id (a worker's own one in a group)."""
        base = self.mqtt_config.client_id
        return self.group.client_id(base) if self.group is not None else base

    # --- paho side (network thread) -----------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        m = self.mqtt_config
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5)
        client.suppress_exceptions = True
        client.manual_ack_set(True)
        client.reconnect_delay_set(min_delay=m.reconnect_min_s, max_delay=m.reconnect_max_s)  # type: ignore[arg-type]
        m.apply_login(client)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_connect_fail = self._on_connect_fail
        client.on_message = self._on_message
        return client

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: mqtt.ConnectFlags,
                    reason_code: ReasonCode, properties: Properties | None) -> None:
        try:
            if reason_code.is_failure:
                log.error("mqtt connect refused reason=%s", reason_code)
                return
            self._generation += 1
            opts = SubscribeOptions(qos=1)
            district = self.config.district.id
            filters = [district_filter(district, "event"), district_filter(district, "status")]
            if self.group is not None:
                filters = [self.group.share(f) for f in filters]
            client.subscribe([(f, opts) for f in filters])
            self._queue.put(_Connected(self._generation))
            log.info("mqtt connected host=%s port=%d client_id=%s session_present=%s", self.mqtt_config.host,
                     self.mqtt_config.port, self.client_id, getattr(flags, "session_present", None))
        except Exception:  # never let an exception reach paho's thread
            log.exception("on_connect failed")

    def _on_connect_fail(self, client: mqtt.Client, userdata: object) -> None:
        try:  # paho retries with backoff (reconnect_min_s..reconnect_max_s): one line per try
            log.warning("mqtt broker unreachable host=%s port=%d; retrying", self.mqtt_config.host,
                        self.mqtt_config.port)
        except Exception:
            log.exception("on_connect_fail failed")

    def _on_subscribe(self, client: mqtt.Client, userdata: object, mid: int,
                      reason_codes: list[ReasonCode], properties: Properties | None) -> None:
        """``connected`` is set once the broker granted the subscriptions (SUBACK), so
        a message published after ``connected.wait()`` reaches us even on a first session."""
        try:
            refused = [rc for rc in reason_codes if rc.is_failure]
            if refused:
                log.error("mqtt subscription refused reasons=%s (check the broker ACL for %s)",
                          refused, self.mqtt_config.username)
                return
            self.connected.set()
            log.info("mqtt subscribed filters=%d", len(reason_codes))
        except Exception:
            log.exception("on_subscribe failed")

    def _on_disconnect(self, client: mqtt.Client, userdata: object, flags: mqtt.DisconnectFlags,
                       reason_code: ReasonCode, properties: Properties | None) -> None:
        try:
            self.connected.clear()
            if not self._stop.is_set():
                log.warning("mqtt disconnected reason=%s; reconnecting", reason_code)
        except Exception:
            log.exception("on_disconnect failed")

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        try:
            if self._stop.is_set():
                # Stopping: take nothing new, so the drain ends even while stations stream.
                # Not PUBACKed, the broker delivers it again to our persistent session.
                self.dropped_at_stop += 1
                return
            self._queue.put(_Message(message.topic, bytes(message.payload), message.mid,
                                     message.qos, self._generation))
        except Exception:
            log.exception("on_message failed")

    # --- worker side --------------------------------------------------------------------

    def _take_batch(self) -> list[_Message | _Connected] | None:
        """The next batch: what is queued now, up to ``ack.max_batch``, taken at once.

        Group commit: a batch never waits for more messages. The first one is committed
        as soon as the queue is empty, so a lone event is acked after one commit; under
        load messages pile up while the previous batch commits, and the next batch takes
        them all.
        """
        try:
            first = self._queue.get(timeout=0.2)
        except queue.Empty:
            return None if self._stop.is_set() else []
        batch: list[_Message | _Connected] = [first]
        while len(batch) < self.config.ack.max_batch:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _work(self) -> None:
        store: Store = open_store(self.config)
        ingestor = Ingestor(self.config, store)
        try:
            while True:
                batch = self._take_batch()
                if batch is None:
                    return
                if batch:
                    try:
                        self._process(batch, store, ingestor)
                    except StoreError:
                        log.exception("batch not committed; nothing acked (stations will resend)")
                        self._stop.wait(1.0)
                    except Exception:
                        log.exception("batch processing failed; nothing acked")
        finally:
            store.close()

    def _process(self, batch: list[_Message | _Connected], store: Store, ingestor: Ingestor) -> None:
        messages = [m for m in batch if isinstance(m, _Message)]
        reconnected = any(isinstance(m, _Connected) for m in batch)
        result = ingestor.ingest([(m.topic, m.payload, "mqtt") for m in messages], self.clock.now())
        self.counts.update(result.counts)  # committed from here on
        generation = self._generation
        for m in messages:
            if m.qos > 0 and m.generation == generation:
                self._client.ack(m.mid, m.qos)
        stations = set(store.acked_stations()) if reconnected else result.event_stations
        self._acks.publish(store, stations)
        if result.counts:
            log.info("batch committed messages=%d %s acks=%d", len(messages),
                     " ".join(f"{k}={v}" for k, v in sorted(result.counts.items())), len(stations))

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background and start the worker; returns at once."""
        m = self.mqtt_config
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = m.session_expiry_s
        self._worker = threading.Thread(target=self._work, name="collector-worker", daemon=True)
        self._worker.start()
        self._client.connect_async(m.host, m.port, keepalive=m.keepalive_s, clean_start=False,
                                   properties=props)
        self._client.loop_start()
        self._alerts = start_alerts(self.config, self.clock)  # its own thread and store; never blocks ingest
        log.info("collector started district=%s broker=%s:%d", self.config.district.id, m.host, m.port)

    def stop(self, timeout_s: float = 6.0) -> None:
        """Commit and ack what is already queued, then disconnect. Messages arriving once
        stop() began are not queued nor PUBACKed: the broker delivers them again to the
        persistent session, so a stop under a steady stream still ends promptly.

        Bounded: the worker gets ``timeout_s`` to finish its batch and the MQTT network
        thread as long again to close; whatever is still running then is named in the log
        and left behind (both are daemon threads, the process exits; an uncommitted batch
        was never acked, so the broker delivers it again)."""
        began = time.monotonic()
        self._stop.set()
        if self._alerts is not None:
            self._alerts.stop(timeout_s)
        if self._worker is not None:
            self._worker.join(timeout_s)
            if self._worker.is_alive():
                log.warning("collector stop: worker still busy after %.1f s; leaving it "
                            "(its batch is not acked and will be delivered again)", timeout_s)
        self._client.disconnect()
        closer = threading.Thread(target=self._client.loop_stop, name="collector-mqtt-stop",
                                  daemon=True)
        closer.start()
        closer.join(timeout_s)
        if closer.is_alive():
            log.warning("collector stop: MQTT network thread did not end within %.1f s; "
                        "leaving it", timeout_s)
        self.connected.clear()
        counts = "".join(f"{k}={v} " for k, v in sorted(self.counts.items()))
        log.info("collector stopped %sleft_for_redelivery=%d in %.1f s", counts,
                 self.dropped_at_stop, time.monotonic() - began)

    def run_until_signal(self) -> int:
        """``radio-district run``: start, wait for SIGTERM/SIGINT, stop cleanly; exit code."""
        done = threading.Event()

        def handler(signum: int, frame: object) -> None:
            log.info("signal %d received; stopping", signum)
            done.set()

        old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            while not done.wait(1.0):
                pass
        finally:
            self.stop()
            for s, h in old.items():
                signal.signal(s, h)
        return 0
