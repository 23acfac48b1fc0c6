"""A QoS 1 receiver on gmqtt (pure-Python asyncio MQTT 5 client), run by :mod:`bench.mqtt_paths`
under an interpreter that has gmqtt (it is not one of our dependencies).

``python -m bench.mqtt_receiver_gmqtt PORT USER PASSWORD COUNT TOPIC_FILTER`` (password on
stdin when PASSWORD is ``-``): MQTT 5, clean session, QoS 1, ``optimistic_acknowledgement``
off, so gmqtt sends the PUBACK only when the ``on_message`` coroutine returns. The
coroutine puts ``(topic, payload, future)`` on a queue and awaits the future; a worker
thread drains the queue in batches of up to 500 and resolves the batch's futures (the
collector's hand-off and ack-after-commit, as :mod:`bench.mqtt_receiver`). Prints ``ready``
once subscribed and ``done BYTES`` after COUNT messages were acknowledged (their payloads'
total size); exit status 2 when
gmqtt cannot be imported.
After ``done`` the process keeps every thread, idle, until it is terminated: a thread
that ended would take its CPU time out of ``/proc/<pid>/task``, where
:mod:`bench.mqtt_paths` reads it.
"""

from __future__ import annotations

import asyncio
import queue
import sys
import threading
from typing import Any


def main(argv: list[str]) -> int:
    port, user, password, count, topic_filter = int(argv[0]), argv[1], argv[2], int(argv[3]), argv[4]
    if password == "-":
        password = sys.stdin.readline().strip()
    try:
        import gmqtt  # type: ignore[import-not-found,unused-ignore]
        from gmqtt.mqtt.constants import MQTTv50  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        print(f"gmqtt cannot be imported: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_run(gmqtt, MQTTv50, port, user, password, count, topic_filter))


async def _run(gmqtt: Any, version: Any, port: int, user: str, password: str, count: int,
               topic_filter: str) -> int:
    loop = asyncio.get_running_loop()
    inbox: queue.Queue[tuple[str, bytes, asyncio.Future[int]]] = queue.Queue()
    ready = asyncio.Event()
    done = asyncio.Event()
    acked = [0]
    size = [0]

    async def on_message(_client: Any, topic: str, payload: bytes, _qos: int, _props: Any) -> int:
        fut: asyncio.Future[int] = loop.create_future()
        inbox.put((topic, payload, fut))
        result = await fut
        acked[0] += 1
        if acked[0] >= count:
            done.set()
        return result

    def resolve(futures: list[asyncio.Future[int]]) -> None:
        for fut in futures:
            fut.set_result(0)  # PUBACK reason code 0: success

    def worker() -> None:
        taken = 0
        while taken < count:
            batch = [inbox.get()]
            while len(batch) < 500:
                try:
                    batch.append(inbox.get_nowait())
                except queue.Empty:
                    break
            loop.call_soon_threadsafe(resolve, [fut for _t, _p, fut in batch])
            taken += len(batch)
            size[0] += sum(len(item[1]) for item in batch)
        threading.Event().wait()  # hold the thread (see the module docstring)

    client = gmqtt.Client("bench-gmqtt", optimistic_acknowledgement=False)
    client.set_auth_credentials(user, password)
    client.on_connect = lambda c, _flags, _rc, _props: c.subscribe(topic_filter, qos=1)
    client.on_subscribe = lambda *_a: ready.set()
    client.on_message = on_message
    threading.Thread(target=worker, daemon=True).start()
    await client.connect("127.0.0.1", port, version=version)
    try:
        await asyncio.wait_for(ready.wait(), 30)
    except TimeoutError:
        return 1
    print("ready", flush=True)
    await asyncio.wait_for(done.wait(), 600)
    print(f"done {size[0]}", flush=True)
    await asyncio.Event().wait()  # until terminated
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
