"""A QoS 1 receiver on libmosquitto (C) through ``ctypes``, run as its own process by
:mod:`bench.mqtt_paths`: what the collector's receive path would cost on the C client.

``python -m bench.mqtt_receiver_libmosq PORT USER PASSWORD COUNT TOPIC_FILTER MODE``
(password on stdin when PASSWORD is ``-``): MQTT 5, clean session, subscribes at QoS 1;
prints ``ready`` once subscribed and ``done BYTES`` after COUNT messages (BYTES: their
payloads' total size). ``MODE``:

- ``count``: the message callback only counts (libmosquitto's parse + PUBACK + one
  ctypes callback into Python: the floor of any Python program on this library);
- ``queue``: the callback copies topic and payload and puts ``(topic, payload, mid, qos)``
  on a queue, a worker thread drains it in batches of up to 500 (the collector's
  hand-off, as :mod:`bench.mqtt_receiver`, without the PUBACK: the library sent it).

libmosquitto 2.0 has no manual-acknowledgement API: it PUBACKs a QoS 1 message as soon
as it has read it, before the callback runs (``nm -D libmosquitto.so.1`` lists no
``*ack*`` call). The network loop is ``mosquitto_loop_forever`` called from a Python
thread (ctypes releases the GIL around it; the callback takes it back on that thread).
Exit status 2 with a message on stderr when the library cannot be loaded.
After ``done`` the process keeps every thread, idle, until it is terminated: a thread
that ended would take its CPU time out of ``/proc/<pid>/task``, where
:mod:`bench.mqtt_paths` reads it.
"""

from __future__ import annotations

import ctypes
import queue
import sys
import threading

LIBRARY = "libmosquitto.so.1"
MOSQ_OPT_PROTOCOL_VERSION = 1
MQTT_PROTOCOL_V5 = 5


class MosquittoMessage(ctypes.Structure):
    """``struct mosquitto_message`` of mosquitto.h (2.0)."""

    _fields_ = [("mid", ctypes.c_int), ("topic", ctypes.c_char_p), ("payload", ctypes.c_void_p),
                ("payloadlen", ctypes.c_int), ("qos", ctypes.c_int), ("retain", ctypes.c_bool)]


ON_CONNECT = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int)
ON_SUBSCRIBE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                                ctypes.POINTER(ctypes.c_int))
ON_MESSAGE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(MosquittoMessage))


def load_library() -> ctypes.CDLL:
    """libmosquitto with the signatures used here; OSError when it is not installed."""
    lib = ctypes.CDLL(LIBRARY)
    lib.mosquitto_new.restype = ctypes.c_void_p
    lib.mosquitto_new.argtypes = [ctypes.c_char_p, ctypes.c_bool, ctypes.c_void_p]
    lib.mosquitto_int_option.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    lib.mosquitto_username_pw_set.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    lib.mosquitto_connect.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int]
    lib.mosquitto_subscribe.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int), ctypes.c_char_p,
                                        ctypes.c_int]
    lib.mosquitto_loop_forever.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    for name, kind in (("mosquitto_connect_callback_set", ON_CONNECT),
                       ("mosquitto_subscribe_callback_set", ON_SUBSCRIBE),
                       ("mosquitto_message_callback_set", ON_MESSAGE)):
        getattr(lib, name).argtypes = [ctypes.c_void_p, kind]
    return lib


def main(argv: list[str]) -> int:
    port, user, password, count, topic_filter, mode = (int(argv[0]), argv[1], argv[2], int(argv[3]),
                                                       argv[4], argv[5])
    if password == "-":
        password = sys.stdin.readline().strip()
    try:
        lib = load_library()
    except OSError as exc:
        print(f"cannot load {LIBRARY}: {exc}", file=sys.stderr)
        return 2
    lib.mosquitto_lib_init()
    mosq = lib.mosquitto_new(b"bench-libmosq", True, None)
    lib.mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5)
    lib.mosquitto_username_pw_set(mosq, user.encode(), password.encode())
    inbox: queue.Queue[tuple[str, bytes, int, int]] = queue.Queue()
    ready = threading.Event()
    done = threading.Event()
    received = [0, 0]  # messages, payload bytes

    def connected(m: int, _obj: int, rc: int) -> None:
        if rc == 0:
            lib.mosquitto_subscribe(m, None, topic_filter.encode(), 1)

    def counted(_m: int, _obj: int, msg: ctypes._Pointer[MosquittoMessage]) -> None:
        received[0] += 1
        received[1] += msg.contents.payloadlen
        if received[0] >= count:
            done.set()

    def queued(_m: int, _obj: int, msg: ctypes._Pointer[MosquittoMessage]) -> None:
        m = msg.contents
        inbox.put(((m.topic or b"").decode(), ctypes.string_at(m.payload, m.payloadlen), m.mid, m.qos))

    def worker() -> None:
        taken = 0
        while taken < count:
            batch = [inbox.get()]
            while len(batch) < 500:
                try:
                    batch.append(inbox.get_nowait())
                except queue.Empty:
                    break
            taken += len(batch)
            received[1] += sum(len(item[1]) for item in batch)
        done.set()
        threading.Event().wait()  # hold the thread (see the module docstring)

    # the CFUNCTYPE objects must outlive the client: keep references
    callbacks = (ON_CONNECT(connected), ON_SUBSCRIBE(lambda *_a: ready.set()),
                 ON_MESSAGE(counted if mode == "count" else queued))
    lib.mosquitto_connect_callback_set(mosq, callbacks[0])
    lib.mosquitto_subscribe_callback_set(mosq, callbacks[1])
    lib.mosquitto_message_callback_set(mosq, callbacks[2])
    if mode == "queue":
        threading.Thread(target=worker, daemon=True).start()
    rc = lib.mosquitto_connect(mosq, b"127.0.0.1", port, 60)
    if rc != 0:
        print(f"mosquitto_connect failed: error {rc}", file=sys.stderr)
        return 1
    loop = threading.Thread(target=lib.mosquitto_loop_forever, args=(mosq, 1000, 1), daemon=True)
    loop.start()
    if not ready.wait(30):
        return 1
    print("ready", flush=True)
    done.wait(600)
    print(f"done {received[1]}", flush=True)
    threading.Event().wait()  # until terminated
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
