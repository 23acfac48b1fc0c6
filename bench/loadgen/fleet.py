"""Many simulated stations in one process: real paho MQTT clients on one selector loop.

Each :class:`SimStation` is a real MQTT 5 client logging in with its own broker credential
(on the stations' listener, where the client id is the username), subscribed to its own
retained ``ack`` topic, publishing chained events signed with its own Ed25519 key. Like a
real station it keeps every event until an ack covers it, and publishes again what is
still uncovered ``republish_s`` after it was last sent (acks are application level: the
broker's PUBACK proves nothing about the district's store).

An ack counts only once its district signature verifies (``radio_protocol.jose.verify``)
and it names this station: the latency measured is "event signed -> covered by a
verified ack". One :class:`Fleet` drives thousands of clients without a thread each:
paho's external-loop API (``loop_read``/``loop_write``/``loop_misc`` and the socket
callbacks) on one :mod:`selectors` loop.
"""

from __future__ import annotations

import selectors
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from radio_protocol.errors import CommuneRadioError
from radio_protocol.jose import KeyRing, Signer, canonical_json, parse_jws, sha256_hex, verify
from radio_protocol.messages.ack import parse_ack
from radio_protocol.names import ACK_TYP, EVENT_TYP
from radio_protocol.topics import topic

READ = selectors.EVENT_READ
WRITE = selectors.EVENT_WRITE


@dataclass
class Sent:
    """One event as this station sent it: what the store must hold, and when it was covered."""

    seq: int
    sha256: str
    jws: bytes
    signed_at: float  # wall clock (time.time()), comparable across processes
    last_sent: float = 0.0
    acked_at: float | None = None
    phase: str = "steady"


@dataclass
class SimStation:
    """One simulated station: its client, its chain and what is not yet covered."""

    id: str
    commune: str
    district: str
    signer: Signer
    password: str
    client: mqtt.Client | None = None
    connected: bool = False
    subscribed: bool = False
    prev: str | None = None
    next_seq: int = 1
    events: dict[int, Sent] = field(default_factory=dict)
    uncovered: set[int] = field(default_factory=set)
    through: int = 0
    connects: int = 0
    republished: int = 0
    bad_acks: int = 0

    def sign_next(self, payload_for: Callable[[str, str, int, str | None], dict[str, Any]],
                  phase: str) -> Sent:
        """Sign the next event of the chain (not yet sent)."""
        body = canonical_json(payload_for(self.id, self.commune, self.next_seq, self.prev))
        jws = self.signer.sign(body, EVENT_TYP)
        sent = Sent(self.next_seq, sha256_hex(body), jws, time.time(), phase=phase)
        self.events[sent.seq] = sent
        self.uncovered.add(sent.seq)
        self.prev = sent.sha256
        self.next_seq += 1
        return sent

    def take_ack(self, jws: bytes, ring: KeyRing, now: float) -> None:
        """Mark what a verified ack covers; a forged or foreign ack counts in ``bad_acks``."""
        try:
            ack = parse_ack(verify(jws, ring, ACK_TYP).payload, self.id)
        except CommuneRadioError:
            self.bad_acks += 1
            return
        self.through = max(self.through, ack.through)
        also = set(ack.also)
        for seq in [s for s in self.uncovered if s <= ack.through or s in also]:
            self.uncovered.discard(seq)
            self.events[seq].acked_at = now


class Fleet:
    """Drive ``stations`` against the broker at ``host:port`` on one selector loop."""

    def __init__(self, stations: list[SimStation], host: str, port: int, district_jwk: dict[str, str],
                 republish_s: float = 20.0, inflight: int = 20) -> None:
        self.stations = stations
        self.host, self.port = host, port
        self.ring = KeyRing.from_jwks([district_jwk])
        self.republish_s = republish_s
        self.inflight = inflight
        self.sel = selectors.DefaultSelector()
        self._last_misc = 0.0
        self.connect_errors = 0

    # --- one client -----------------------------------------------------------------------

    def _client(self, st: SimStation) -> mqtt.Client:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=st.id, protocol=mqtt.MQTTv5)
        c.username_pw_set(st.id, st.password)
        c.max_inflight_messages_set(self.inflight)
        c.max_queued_messages_set(0)
        sel = self.sel

        def opened(_c: Any, _u: Any, sock: Any) -> None:
            sel.register(sock, READ, st)

        def closed(_c: Any, _u: Any, sock: Any) -> None:
            try:
                sel.unregister(sock)
            except (KeyError, ValueError):
                pass

        def want_write(_c: Any, _u: Any, sock: Any) -> None:
            sel.modify(sock, READ | WRITE, st)

        def done_write(_c: Any, _u: Any, sock: Any) -> None:
            try:
                sel.modify(sock, READ, st)
            except (KeyError, ValueError):
                pass

        def connected(cl: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
            if rc.is_failure:
                self.connect_errors += 1
                return
            st.connected = True
            st.connects += 1
            cl.subscribe(topic(st.district, st.id, "ack"), qos=1)
            self._send_uncovered(st, time.time())

        def disconnected(*_a: Any) -> None:
            st.connected = False
            st.subscribed = False

        def subscribed(*_a: Any) -> None:
            st.subscribed = True

        def message(_c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
            st.take_ack(bytes(msg.payload), self.ring, time.time())

        c.on_socket_open = opened
        c.on_socket_close = closed
        c.on_socket_register_write = want_write
        c.on_socket_unregister_write = done_write
        c.on_connect = connected
        c.on_disconnect = disconnected
        c.on_subscribe = subscribed
        c.on_message = message
        return c

    def _send_uncovered(self, st: SimStation, now: float) -> None:
        for seq in sorted(st.uncovered):
            self.publish(st, st.events[seq], now)

    def publish(self, st: SimStation, sent: Sent, now: float) -> None:
        """Send one event (QoS 1); a disconnected station sends it on its next connect."""
        if st.client is None or not st.connected:
            return
        if sent.last_sent:
            st.republished += 1
        sent.last_sent = now
        st.client.publish(topic(st.district, st.id, "event"), sent.jws, qos=1)

    def connect(self, st: SimStation) -> None:
        """Open the station's connection (CONNECT sent; CONNACK comes through the loop)."""
        if st.client is None:
            st.client = self._client(st)
            st.client.connect(self.host, self.port, keepalive=300, clean_start=True)
        else:
            st.client.reconnect()

    def disconnect(self, st: SimStation) -> None:
        if st.client is not None and st.connected:
            st.client.disconnect()

    # --- the loop -------------------------------------------------------------------------

    def step(self, timeout_s: float = 0.05) -> None:
        """Serve every socket that is ready; keepalives and republishing once a second."""
        for key, mask in self.sel.select(timeout_s):
            st: SimStation = key.data
            c = st.client
            if c is None:
                continue
            if mask & READ:
                c.loop_read()
            if mask & WRITE and st.client is not None:
                c.loop_write()
        now = time.time()
        if now - self._last_misc >= 1.0:
            self._last_misc = now
            for st in self.stations:
                if st.client is not None:
                    st.client.loop_misc()
                if st.connected and st.uncovered:
                    due = [st.events[s] for s in st.uncovered
                           if now - st.events[s].last_sent >= self.republish_s]
                    for sent in sorted(due, key=lambda s: s.seq):
                        self.publish(st, sent, now)

    def run_until(self, done: Callable[[], bool], timeout_s: float) -> bool:
        """Loop until ``done()`` or the timeout; whether it was done."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if done():
                return True
            self.step()
        return done()

    def all_connected(self) -> bool:
        return all(st.connected and st.subscribed for st in self.stations)

    def all_covered(self) -> bool:
        return all(not st.uncovered for st in self.stations)

    def close(self) -> None:
        for st in self.stations:
            if st.client is not None:
                try:
                    st.client.disconnect()
                    st.client.loop_write()
                except Exception:  # noqa: BLE001 - closing: best effort
                    pass
        self.sel.close()


def payload_sha(jws: bytes) -> str:
    """The SHA-256 of a JWS's payload bytes (how the store keys an event)."""
    return sha256_hex(parse_jws(jws)[2])
