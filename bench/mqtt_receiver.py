"""A QoS 1 receiver run as its own process by :mod:`bench.ingest_parts`: the collector's
MQTT receive path without the ingest (paho MQTT 5, manual acknowledgement; ``on_message``
queues ``(topic, payload, mid, qos)``, a worker thread drains the queue in batches of
up to 500 and PUBACKs each message, as ``district_collector.intake.service`` does).

``python -m bench.mqtt_receiver PORT USER PASSWORD COUNT TOPIC_FILTER [PROTOCOL]`` (password
on stdin when PASSWORD is ``-``; PROTOCOL ``5``, the default, or ``311`` for MQTT 3.1.1, as
:mod:`bench.mqtt_paths` compares): prints ``ready`` once subscribed and ``done BYTES`` after COUNT
messages were acknowledged (BYTES: their payloads' total size).
After ``done`` the process keeps every thread, idle, until it is terminated: a thread
that ended would take its CPU time out of ``/proc/<pid>/task``, where
:mod:`bench.mqtt_paths` reads it.
"""

from __future__ import annotations

import queue
import sys
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def main(argv: list[str]) -> int:
    port, user, password, count, topic_filter = int(argv[0]), argv[1], argv[2], int(argv[3]), argv[4]
    protocol = mqtt.MQTTv311 if argv[5:6] == ["311"] else mqtt.MQTTv5
    if password == "-":
        password = sys.stdin.readline().strip()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-receiver", protocol=protocol)
    client.username_pw_set(user, password)
    client.manual_ack_set(True)
    inbox: queue.Queue[tuple[str, bytes, int, int]] = queue.Queue()
    ready = threading.Event()
    done = threading.Event()
    received = [0]

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        inbox.put((msg.topic, bytes(msg.payload), msg.mid, msg.qos))

    def worker() -> None:
        acked = 0
        size = 0
        while acked < count:
            batch = [inbox.get()]
            while len(batch) < 500:
                try:
                    batch.append(inbox.get_nowait())
                except queue.Empty:
                    break
            for _topic, payload, mid, qos in batch:
                client.ack(mid, qos)
                size += len(payload)
            acked += len(batch)
        received[0] = size
        done.set()
        threading.Event().wait()  # hold the thread (see the module docstring)

    client.on_message = on_message
    client.on_connect = lambda c, _u, _f, _rc, _p: c.subscribe(topic_filter, 1)
    client.on_subscribe = lambda *_a: ready.set()
    threading.Thread(target=worker, daemon=True).start()
    client.connect("127.0.0.1", port)
    client.loop_start()
    if not ready.wait(30):
        return 1
    print("ready", flush=True)
    done.wait(600)
    print(f"done {received[0]}", flush=True)
    threading.Event().wait()  # until terminated
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
