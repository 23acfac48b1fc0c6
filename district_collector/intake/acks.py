"""The collector's acks, strict with any number of workers (docs/protocol.md, "Acks with
several workers").

:class:`AckPublisher` publishes the acks of a set of stations in ack sections of the
store (:meth:`~district_collector.store.base_acks.AcksStore.ack_section`): per section
(at most ``ACK_SECTION_MAX`` stations, in station order) it reads the positions under
the stations' locks, signs and publishes every ack (retained, QoS 1) and waits for all
their PUBACKs before it leaves. A station's retained ack therefore never goes backwards
on the broker, also when two workers commit its events at once.

``confirm=False`` (a lone collector, no ``--worker-group``): the sections are kept but
the PUBACK wait is skipped. One process is then the only publisher of acks, its one
worker thread reads positions that only grow and publishes them in that order on one
MQTT connection, which the broker applies in order: strict without waiting, and the
batch loop does not pay a broker round trip per batch.

While the broker is away paho keeps the unconfirmed acks and sends them again on
reconnect: the section waits for them (a lock held across an outage only delays other
workers' acks of those stations). When the collector stops, the wait ends after
``stop_grace_s``; the process then exits with its unsent acks, which never go out late.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection
from datetime import tzinfo

import paho.mqtt.client as mqtt

from district_collector.store.base import Store
from district_collector.store.base_acks import ACK_SECTION_MAX
from radio_protocol.clock import Clock
from radio_protocol.jose import Signer
from radio_protocol.messages.ack import Ack, build_ack
from radio_protocol.names import ACK_TYP
from radio_protocol.topics import topic

log = logging.getLogger(__name__)


class AckPublisher:
    """Publish stations' acks through ``client``; see the module doc."""

    def __init__(self, client: mqtt.Client, signer: Signer, clock: Clock, tz: tzinfo, district: str,
                 max_also: int, stop: threading.Event, stop_grace_s: float = 2.0,
                 confirm: bool = True) -> None:
        self.client = client
        self.signer = signer
        self.clock = clock
        self.tz = tz
        self.district = district
        self.max_also = max_also
        self.stop = stop
        self.stop_grace_s = stop_grace_s
        self.confirm = confirm
        self.published = 0

    def publish(self, store: Store, stations: Collection[str]) -> int:
        """Publish the acks of ``stations``, confirmed section by section; how many."""
        names = sorted(stations)
        done = 0
        for start in range(0, len(names), ACK_SECTION_MAX):
            part = names[start:start + ACK_SECTION_MAX]
            with store.ack_section(part, self.max_also) as positions:
                now = self.clock.now()
                infos = []
                for station in part:
                    through, also = positions[station]
                    payload = build_ack(Ack(station, through, tuple(also), now), self.tz)
                    jws = self.signer.sign(payload, ACK_TYP)
                    infos.append(self.client.publish(topic(self.district, station, "ack"), jws, qos=1,
                                                     retain=True))
                    log.debug("ack published station=%s through=%d also=%d", station, through, len(also))
                if self.confirm:
                    self._confirmed(infos)
            done += len(part)
            self.published += len(part)
        return done

    def _confirmed(self, infos: list[mqtt.MQTTMessageInfo]) -> bool:
        """Wait until the broker confirmed every ack (PUBACK); False only when the
        collector is stopping and ``stop_grace_s`` passed first."""
        stop_seen: float | None = None
        warned = time.monotonic()
        for info in infos:
            if info.rc == mqtt.MQTT_ERR_NO_CONN:
                info.rc = mqtt.MQTT_ERR_SUCCESS  # paho keeps it queued and sends it on reconnect
            while not info.is_published():
                info.wait_for_publish(timeout=0.5)
                now = time.monotonic()
                if self.stop.is_set():
                    stop_seen = stop_seen if stop_seen is not None else now
                    if now - stop_seen > self.stop_grace_s:
                        log.warning("collector stopping: %d ack(s) not confirmed by the broker; "
                                    "the stations keep their events until an ack covers them",
                                    sum(1 for i in infos if not i.is_published()))
                        return False
                if now - warned > 30.0:
                    warned = now
                    log.warning("acks waiting for the broker's PUBACK (their stations' ack lock held)")
        return True
