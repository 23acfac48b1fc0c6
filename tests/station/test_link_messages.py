"""Station link against a real Mosquitto and the real district collector: the messages
besides events. Acks in (a forged one changes nothing, one beyond the last seq is flagged),
the signed retained status out (it follows changes, names an oversized schedule), schedules
in (handed over; an oversized one cut to a bounded prefix). Event delivery to the real
collector: tests/system/test_delivery_link_to_collector.py.

Each test gets its own broker (``mqtt_env``: district config, station credentials, ACL
as docs/protocol.md); the station side is the real outbox and link, the district side the
real ``CollectorService`` storing into SQLite and signing acks.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from mqtt_broker import BrokerEnv
from test_link_support import (
    STATION,
    append_events,
    make_link,
    open_outbox,
    write_station_config,
)
from waiting import wait_until

from firmware_daemon.config import load_station_config
from firmware_daemon.link.client import StationLink
from firmware_daemon.link.delivery import OversizedMessage
from firmware_daemon.schedule.store import ScheduleStore
from firmware_daemon.service.status import ScheduleState, StationState
from radio_protocol.jose import (
    KeyRing,
    Signer,
    b64url_decode,
    b64url_encode,
    canonical_json,
    verify,
)
from radio_protocol.messages.ack import Ack, build_ack
from radio_protocol.names import ACK_TYP, SCHEDULE_TYP, STATUS_TYP
from radio_protocol.timefmt import parse_rfc3339
from radio_protocol.topics import topic

STATUS_MEMBERS = ["v", "type", "station", "state", "at", "schedule_version", "schedule_error",
                  "next_slot", "media_missing", "outbox_pending", "last_seq", "clock_synced", "amp",
                  "sw", "uptime_s"]


@pytest.fixture
def env(mqtt_env: BrokerEnv) -> BrokerEnv:
    """The shared real-Mosquitto district (``mqtt_env``, tests/mqtt_broker.py) under a short name."""
    return mqtt_env


def signed_ack(signer: Signer, station: str, through: int, also: list[int] | None = None) -> bytes:
    ack = Ack(station, through, tuple(also or ()), parse_rfc3339("2024-03-05T06:30:00.000+07:00"))
    return signer.sign(build_ack(ack), ACK_TYP)


def _forged_acks(env: BrokerEnv) -> dict[str, bytes]:
    wrong_key = Signer(Ed25519PrivateKey.generate())
    header = b64url_encode(canonical_json({"alg": "none", "typ": ACK_TYP}))
    body = b64url_encode(canonical_json({"v": 1, "type": "ack", "station": STATION, "through": 10,
                                         "also": [], "at": "2024-03-05T06:30:00.000+07:00"}))
    good = json.loads(signed_ack(env.district_signer, STATION, 10))
    return {
        "wrong-key": signed_ack(wrong_key, STATION, 10),
        "other-station": signed_ack(env.district_signer, "dak-ruong-01", 10),
        "alg-none": canonical_json({"protected": header, "payload": body, "signature": ""}),
        "unsigned-json": canonical_json({"v": 1, "type": "ack", "station": STATION, "through": 10}),
        "tampered": canonical_json({**good, "payload": b64url_encode(canonical_json(
            {"v": 1, "type": "ack", "station": STATION, "through": 99, "also": []}))}),
        "wrong-typ": env.district_signer.sign(b64url_decode(good["payload"]), STATUS_TYP),
        "bad-through": env.district_signer.sign({"v": 1, "type": "ack", "station": STATION,
                                                 "through": "10", "also": []}, ACK_TYP),
        "garbage": b"\x00not json",
    }


@pytest.mark.parametrize("kind", ["wrong-key", "other-station", "alg-none", "unsigned-json",
                                  "tampered", "wrong-typ", "bad-through", "garbage"])
def test_link_forged_ack_changes_nothing(env: BrokerEnv, tmp_path: Path, stop_list: list[Any],
                                        kind: str) -> None:
    config = load_station_config(write_station_config(env, tmp_path / "st"))
    outbox = open_outbox(config)
    append_events(outbox, 10)
    district = env.client("collector")
    ack_topic = topic("kon-ray", STATION, "ack")
    district.publish(ack_topic, _forged_acks(env)[kind], qos=1, retain=True).wait_for_publish(5)
    link = make_link(config, outbox)
    link.start()
    stop_list.append(link)
    wait_until(lambda: link.stats.acks_rejected >= 1, 10, f"the {kind} ack to be rejected")
    assert outbox.pending_count() == 10 and link.stats.acks_applied == 0
    # the link still listens: a genuine ack is honoured
    district.publish(ack_topic, signed_ack(env.district_signer, STATION, 4, [7]), qos=1, retain=True)
    wait_until(lambda: outbox.pending_count() == 5, 10, "the genuine ack to apply")
    assert [seq for seq, _ in outbox.unacked(100)] == [5, 6, 8, 9, 10]


def test_link_status_retained_signed_and_follows_changes(env: BrokerEnv, tmp_path: Path,
                                                        stop_list: list[Any]) -> None:
    config = load_station_config(write_station_config(env, tmp_path / "st"))
    outbox = open_outbox(config)
    append_events(outbox, 3)
    state = StationState()
    link = make_link(config, outbox, state=state, status_min_interval_s=0.2)
    link.start()
    stop_list.append(link)
    assert link.wait_connected(5)
    station_keys = KeyRing.from_jwks([env.stations[STATION].jwk])
    seen: list[dict[str, Any]] = []
    lock = threading.Lock()

    def on_message(client: Any, userdata: Any, message: Any) -> None:
        v = verify(bytes(message.payload), station_keys, STATUS_TYP)
        with lock:
            seen.append(v.payload)

    watcher = env.client("collector")
    watcher.on_message = on_message
    watcher.subscribe(topic("kon-ray", STATION, "status"), qos=1)
    first = wait_until(lambda: list(seen), 5, "the retained online status")[0]
    assert list(first) == STATUS_MEMBERS
    assert (first["state"], first["station"], first["amp"], first["last_seq"]) == ("online", STATION, "off", 3)
    assert first["outbox_pending"] == 3 and first["v"] == 1 and first["type"] == "status"
    state.set_amp(True)
    state.set_schedule(ScheduleState(schedule_version=8, media_missing=("cds-2024-03-a",)))
    wait_until(lambda: any(p["amp"] == "on" and p["schedule_version"] == 8 for p in list(seen)), 5,
               "a status reporting amp on and schedule 8")
    last = seen[-1]
    assert last["media_missing"] == ["cds-2024-03-a"] and last["state"] == "online"
    link.stop()
    wait_until(lambda: seen[-1]["state"] == "offline", 5, "the offline status of a clean stop")


def test_link_schedule_bytes_handed_over_and_oversize_cut(env: BrokerEnv, tmp_path: Path,
                                                         stop_list: list[Any]) -> None:
    config = load_station_config(write_station_config(env, tmp_path / "st"))
    outbox = open_outbox(config)
    append_events(outbox, 5)
    received: list[bytes] = []

    def on_schedule(raw: bytes) -> None:
        received.append(raw)
        raise RuntimeError("a buggy scheduler must not stop the link")

    link: StationLink = make_link(config, outbox, on_schedule=on_schedule)
    link.start()
    stop_list.append(link)
    assert link.wait_connected(5)
    district = env.client("collector")
    sched_topic = topic("kon-ray", STATION, "schedule")
    district.publish(sched_topic, b"x" * (256 * 1024 + 1), qos=1).wait_for_publish(5)
    schedule = env.district_signer.sign({"v": 1, "type": "schedule", "station": STATION, "version": 8},
                                        SCHEDULE_TYP)
    district.publish(sched_topic, schedule, qos=1, retain=True).wait_for_publish(5)
    wait_until(lambda: len(received) == 2, 5, "the schedule to be handed over")
    oversized, handed = received
    assert handed == schedule and link.stats.messages_dropped == 1
    # the oversized one is handed over cut to a bounded prefix, with its real size
    assert isinstance(oversized, OversizedMessage) and oversized.size == 256 * 1024 + 1
    assert len(oversized) == 256 * 1024 + 1 and set(oversized) == {ord("x")}
    district.publish(sched_topic, b"y" * (3 * 256 * 1024), qos=1).wait_for_publish(5)
    wait_until(lambda: len(received) == 3, 5, "the second oversized schedule")
    assert len(received[2]) == 256 * 1024 + 1 and isinstance(received[2], OversizedMessage) and received[2].size == 3 * 256 * 1024
    # the link survived the handler's exception: an ack still applies
    district.publish(topic("kon-ray", STATION, "ack"), signed_ack(env.district_signer, STATION, 5),
                     qos=1, retain=True)
    wait_until(lambda: outbox.pending_count() == 0, 5, "the ack after a failing handler")


def test_link_ack_beyond_last_seq_is_flagged(env: BrokerEnv, tmp_path: Path, stop_list: list[Any],
                                             caplog: pytest.LogCaptureFixture) -> None:
    """An ack for seqs the station never recorded (its outbox was replaced?) is applied only
    to the events it has, and logged loudly; events recorded afterwards stay unacked."""
    config = load_station_config(write_station_config(env, tmp_path / "st"))
    outbox = open_outbox(config)
    append_events(outbox, 10)
    district = env.client("collector")
    stale = signed_ack(env.district_signer, STATION, 50, [60])
    district.publish(topic("kon-ray", STATION, "ack"), stale, qos=1, retain=True).wait_for_publish(5)
    link = make_link(config, outbox)
    link.start()
    stop_list.append(link)
    wait_until(lambda: outbox.pending_count() == 0, 10, "seqs 1..10 to be acked")
    append_events(outbox, 5)
    assert [seq for seq, _ in outbox.unacked(100)] == [11, 12, 13, 14, 15]
    assert "ack covers seqs this station never recorded" in caplog.text


def test_link_oversized_schedule_is_rejected_as_too_large_in_the_status(env: BrokerEnv, tmp_path: Path,
                                                                       stop_list: list[Any]) -> None:
    """An oversized schedule reaches the store (not only a log line) and the signed status
    the district sees over the broker names it; the schedule in force stays."""
    config = load_station_config(write_station_config(env, tmp_path / "st"))
    outbox = open_outbox(config)
    state = StationState()
    store = ScheduleStore(tmp_path / "schedule", district="kon-ray", station=STATION,
                          keys=config.district_keyring())
    stop_list.append(SimpleNamespace(stop=store.close))

    def on_schedule(raw: bytes) -> None:  # as the slot runner does
        store.offer(raw, datetime.now(UTC))
        state.set_schedule(ScheduleState(schedule_version=store.version, schedule_error=store.error))

    link = make_link(config, outbox, state=state, on_schedule=on_schedule, status_min_interval_s=0.2)
    link.start()
    stop_list.append(link)
    assert link.wait_connected(5)
    station_keys = KeyRing.from_jwks([env.stations[STATION].jwk])
    seen: list[dict[str, Any]] = []

    def on_message(client: Any, userdata: Any, message: Any) -> None:
        seen.append(verify(bytes(message.payload), station_keys, STATUS_TYP).payload)

    watcher = env.client("collector")
    watcher.on_message = on_message
    watcher.subscribe(topic("kon-ray", STATION, "status"), qos=1)
    size = 256 * 1024 + 4096
    env.client("collector").publish(topic("kon-ray", STATION, "schedule"), b"{" * size,
                                   qos=1).wait_for_publish(5)
    expected = f"too-large: {size} bytes, limit {256 * 1024}"
    wait_until(lambda: any(p["schedule_error"] == expected for p in list(seen)), 5,
               "a status naming the oversized schedule")
    assert store.error == expected and store.version is None
