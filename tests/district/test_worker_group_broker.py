"""What Mosquitto 2.0 does with a worker group's shared subscription (docs/DEPLOY.md,
"Several collector workers"), measured on the real broker: it spreads the messages
round-robin over the member sessions, connected or not; a worker that dies keeps its
unacknowledged in-flight messages, delivered again (DUP) when it comes back under its
client id, never handed to another member; a clean start under that id discards the
session, and then the others take everything."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
from mqtt_broker import BrokerEnv
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions
from waiting import wait_until

SHARED = "$share/g/cr/v1/kon-ray/station/+/event"
EVENT = "cr/v1/kon-ray/station/dak-koi-01/event"


class Worker:
    """A bare collector session of group g that PUBACKs only when told (``manual``)."""

    def __init__(self, env: BrokerEnv, n: int, *, manual: bool = False, clean_start: bool = False) -> None:
        self.got: list[tuple[bytes, bool]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"collector-kon-ray-g-{n}",
                                  protocol=mqtt.MQTTv5)
        self.client.username_pw_set("collector", env.collector_password)
        self.client.manual_ack_set(manual)
        self.client.on_message = self._message  # before connecting: a resumed session delivers at once
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_a: subscribed.set()
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0 if clean_start else 600
        self.client.connect("127.0.0.1", env.broker.collector_port, clean_start=clean_start, properties=props)
        self.client.loop_start()
        self.client.subscribe([(SHARED, SubscribeOptions(qos=1))])
        assert subscribed.wait(10)

    def _message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.got.append((bytes(msg.payload), bool(msg.dup)))

    def payloads(self) -> list[bytes]:
        with self.lock:
            return [p for p, _ in self.got]

    def die(self) -> None:
        """Like a kill -9: the socket closes without DISCONNECT."""
        sock = self.client.socket()
        self.client.loop_stop()
        if sock is not None:
            sock.close()

    def leave(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _publish(station: mqtt.Client, prefix: str, count: int) -> list[bytes]:
    sent = [f"{prefix}{i}".encode() for i in range(count)]
    for body in sent:
        station.publish(EVENT, body, qos=1).wait_for_publish(10)
    return sent


def test_mosquitto_keeps_a_dead_workers_share_for_its_session(mqtt_env: BrokerEnv) -> None:
    w1 = Worker(mqtt_env, 1)
    w2 = Worker(mqtt_env, 2, manual=True)
    station = mqtt_env.client("dak-koi-01", client_id="dak-koi-01")
    first = _publish(station, "a", 6)
    wait_until(lambda: len(w1.payloads()) + len(w2.payloads()) == 6, 20, "the first six delivered")
    assert sorted(w1.payloads() + w2.payloads()) == sorted(first) and w1.payloads() and w2.payloads()
    in_flight = w2.payloads()  # delivered to w2, never PUBACKed
    w2.die()
    log = mqtt_env.broker_dir / "mosquitto.log"
    wait_until(lambda: "collector-kon-ray-g-2 closed its connection" in log.read_text(errors="replace"),
               20, "the broker seeing w2 gone")
    second = _publish(station, "b", 6)
    wait_until(lambda: len(w1.payloads()) == len(first) - len(in_flight) + 3, 20, "w1's half of the next six")
    w2_back = Worker(mqtt_env, 2)  # the same client id, Clean Start 0: its session resumes
    wait_until(lambda: len(w2_back.payloads()) == len(in_flight) + 3, 20, "w2's session delivered")
    assert w2_back.payloads()[:len(in_flight)] == in_flight
    assert all(dup for _, dup in w2_back.got[:len(in_flight)])  # redelivered in flight, DUP set
    assert set(w2_back.payloads()[len(in_flight):]) | set(w1.payloads()) >= set(second)
    w2_back.leave()
    Worker(mqtt_env, 2, clean_start=True).leave()  # discards w2's session
    third = _publish(station, "c", 4)
    wait_until(lambda: set(third) <= set(w1.payloads()), 20, "w1 taking everything once w2's session is gone")
    w1.leave()
