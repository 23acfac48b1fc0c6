"""Several collector workers and simulated stations for the worker-group tests.

:func:`start_worker` runs ``radio-district -c CONFIG run --worker-group G --worker-id ID``
as a real process (its log in ``<root>/worker-ID.log``). :class:`Stations` drives real
MQTT station clients (each with its own login on the stations' listener) that publish
chained signed events, keep every event until a verified ack covers it, publish the
uncovered ones again on :meth:`Stations.republish` (as a station's link does every
``republish_s``), and record every ack they receive, in order, to check it never goes
backwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from mqtt_broker import BrokerEnv
from paho.mqtt.subscribeoptions import SubscribeOptions

from radio_protocol.jose import KeyRing, parse_jws, sha256_hex, verify
from radio_protocol.messages.ack import parse_ack
from radio_protocol.names import ACK_TYP
from radio_protocol.topics import topic

REPO = Path(__file__).resolve().parent.parent


def start_worker(env: BrokerEnv, group: str, worker_id: str) -> subprocess.Popen[bytes]:
    """One collector worker process (``radio-district run --worker-group``)."""
    log = (env.root / f"worker-{worker_id}.log").open("ab")
    pythonpath = str(REPO) + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else "")
    argv = [sys.executable, "-m", "district_collector.cli", "-c", str(env.district_config), "run",
            "--worker-group", group, "--worker-id", worker_id]
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": pythonpath})


def worker_log(env: BrokerEnv, worker_id: str) -> str:
    path = env.root / f"worker-{worker_id}.log"
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


@dataclass
class Station:
    id: str
    client: mqtt.Client
    sent: dict[int, tuple[str, bytes]] = field(default_factory=dict)  # seq -> (sha256, jws)
    uncovered: set[int] = field(default_factory=set)
    acks: list[tuple[int, frozenset[int]]] = field(default_factory=list)  # (through, also) as received
    bad_acks: int = 0


class Stations:
    """The simulated stations of ``env`` (see the module doc)."""

    def __init__(self, env: BrokerEnv) -> None:
        self.env = env
        self.ring = KeyRing.from_jwks([env.district_jwk])
        self.lock = threading.Lock()
        self.stations: dict[str, Station] = {}
        for sid in env.stations:
            client = env.client(sid, client_id=sid)
            st = Station(sid, client)
            client.on_message = lambda _c, _u, msg, st=st: self._ack(st, msg.payload)
            client.subscribe(topic(env.config.district.id, sid, "ack"), options=SubscribeOptions(qos=1))
            self.stations[sid] = st

    def _ack(self, st: Station, jws: bytes) -> None:
        try:
            ack = parse_ack(verify(jws, self.ring, ACK_TYP).payload, st.id)
        except Exception:
            st.bad_acks += 1
            return
        with self.lock:
            st.acks.append((ack.through, frozenset(ack.also)))
            st.uncovered = {s for s in st.uncovered if s > ack.through and s not in ack.also}

    def send_chain(self, count_per_station: int, first: int) -> None:
        """Events ``first..first+count-1`` of every station, published once (QoS 1)."""
        for sid, st in self.stations.items():
            for seq, jws in enumerate(self.env.chain(sid, count_per_station, first), start=first):
                with self.lock:
                    st.sent[seq] = (sha256_hex(parse_jws(jws)[2]), jws)
                    st.uncovered.add(seq)
                st.client.publish(topic(self.env.config.district.id, sid, "event"), jws, qos=1)

    def republish(self) -> int:
        """Publish every uncovered event again; how many."""
        with self.lock:
            todo = [(st, seq, st.sent[seq][1]) for st in self.stations.values() for seq in sorted(st.uncovered)]
        for st, _seq, jws in todo:
            st.client.publish(topic(self.env.config.district.id, st.id, "event"), jws, qos=1)
        return len(todo)

    def all_covered(self) -> bool:
        with self.lock:
            return all(not st.uncovered for st in self.stations.values())

    def sent_keys(self) -> set[tuple[str, int, str]]:
        return {(st.id, seq, sha) for st in self.stations.values() for seq, (sha, _) in st.sent.items()}

    def close(self) -> None:
        for st in self.stations.values():
            st.client.disconnect()
            st.client.loop_stop()


def retained_ack(env: BrokerEnv, station: str, timeout_s: float = 10.0) -> tuple[int, frozenset[int]]:
    """The station's retained ack as a fresh connection of that station reads it."""
    got: list[bytes] = []
    arrived = threading.Event()
    client = env.client(station, client_id=station)

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        got.append(msg.payload)
        arrived.set()

    client.on_message = on_message
    client.subscribe(topic(env.config.district.id, station, "ack"), options=SubscribeOptions(qos=1))
    try:
        assert arrived.wait(timeout_s), f"no retained ack for {station}"
        ack = parse_ack(verify(got[0], KeyRing.from_jwks([env.district_jwk]), ACK_TYP).payload, station)
        return ack.through, frozenset(ack.also)
    finally:
        client.disconnect()
        client.loop_stop()
